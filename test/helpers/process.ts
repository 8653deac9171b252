// A Latchkey server as operators run it: `node src/main.ts` in a child process,
// on a port of its own, against the run's database server. For what only a real
// process shows: start-up, signals, exit codes, an instance killed mid-work.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { databaseServerUri, testRoot } from '../setup.ts';
import { uriFor } from './cli.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** A port free right now on 127.0.0.1 (the child binds it itself). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
  });
}

export interface ServerProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>;
  /** Resolves once /healthz/ready answers 200. */
  ready(timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Starts `node src/main.ts` on database `dbName` with `env` on top of a quiet test environment. */
export async function startServerProcess(dbName: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const port = Number(env.PORT) || (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      ISSUER: url,
      LOG_LEVEL: 'warn',
      DEMO_APP: 'false',
      DATA_DIR: mkdtempSync(join(testRoot, 'proc-')),
      MONGODB_URI: uriFor(databaseServerUri(), dbName),
      COOKIE_KEYS: 'a-process-test-cookie-key-of-32-chars-at-least',
      // Shared by every process on a database, as a deployment shares them: signing keys and
      // authenticator secrets sealed by one instance open on the others.
      DATA_KEYS: 'a-process-test-data-key-of-32-characters-at-least',
      ...env,
    },
  });
  let printed = '';
  child.stdout!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  const exited = new Promise<number | string>((done) => child.once('exit', (code, signal) => done(code ?? signal ?? -1)));
  let ended = false;
  void exited.then(() => (ended = true));
  return {
    url,
    port,
    child,
    output: () => printed,
    exited,
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (ended) throw new Error(`the server exited before it was ready:\n${printed}`);
        const status = await fetch(`${url}/healthz/ready`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0);
        if (status === 200) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`the server was not ready in ${timeoutMs} ms:\n${printed}`);
    },
    kill(signal = 'SIGTERM') {
      if (!ended) child.kill(signal);
      return exited;
    },
  };
}
