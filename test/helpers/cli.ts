// Running the operator CLI as operators do: `bin/latchkey.js` in a child process.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { databaseServerUri, testRoot } from '../setup.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The URI of database `name` on the run's database server, whatever shape MONGODB_URI has. */
export function uriFor(serverUri: string, name: string): string {
  try {
    const url = new URL(serverUri);
    url.pathname = `/${name}`;
    return url.toString();
  } catch {
    // Several hosts (mongodb://a:1,b:2/?replicaSet=x) are not a URL the URL class accepts.
    const match = /^(mongodb(?:\+srv)?:\/\/[^/?]*)(?:\/[^?]*)?(\?.*)?$/.exec(serverUri);
    if (!match) throw new Error(`cannot add a database name to ${serverUri}`);
    return `${match[1]}/${name}${match[2] ?? ''}`;
  }
}

/** Runs `latchkey ARGS` with this environment and standard input; resolves with its exit code and output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['bin/latchkey.js', ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/**
 * The environment operators give the CLI, for database `name` on the run's database
 * server: this process's own, without LATCHKEY_DEBUG and SMTP_URL (so output and
 * mail are the test's), quiet, with a data directory of its own.
 */
export function cliEnvironment(name: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { LATCHKEY_DEBUG: _debug, SMTP_URL: _smtp, ...inherited } = process.env;
  return {
    ...inherited,
    MONGODB_URI: uriFor(databaseServerUri(), name),
    LOG_LEVEL: 'silent',
    DATA_DIR: mkdtempSync(join(testRoot, 'cli-')),
    NODE_ENV: 'test',
    ...extra,
  };
}
