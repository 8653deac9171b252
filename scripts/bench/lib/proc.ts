// Child processes and temporary directories of a bench run: every one is
// tracked, so the run (or a SIGINT) can stop them by pid and remove the files.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, createWriteStream, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const BENCH_DIR = resolve(import.meta.dirname, '..');

const children = new Set<ChildProcess>();
let tempRoot: string | undefined;

/** The run's own temporary directory; everything a benchmark writes goes under it. */
export function tempDir(prefix: string): string {
  tempRoot ??= mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  const dir = mkdtempSync(join(tempRoot, `${prefix}-`));
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function removeTemp(): void {
  if (tempRoot) rmSync(tempRoot, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  tempRoot = undefined;
}

/**
 * Node 24 (the one running this script: npm put it first on the PATH) running a script of ours.
 * BENCH_CPU_PROF=<dir> writes a V8 CPU profile of every child there (open it in Chrome DevTools).
 */
export function spawnNode(script: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...profile, script, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], ...options });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function waitExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal })));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone. */
export async function stopChild(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = waitExit(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Stops every child still running, each by its own pid. */
export async function stopAllChildren(graceMs = 10_000): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child, graceMs)));
}

/** Resident set size of a process, from /proc/<pid>/status (VmRSS), in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** Direct children of a pid (the embedded database under a server), from /proc. */
export function childPids(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text ? text.split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

export interface ServerChild {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Whatever else the child announced on its ready line. */
  info: Record<string, unknown>;
  /** The child's stderr is kept here. */
  logFile: string;
  stop(): Promise<void>;
  /** Database commands the server sent so far, by name (Latchkey's server child only). */
  dbCommands(): Promise<Record<string, number>>;
}

/**
 * Starts a server script of ours as a child and waits for its one JSON line on
 * stdout, `{"ready": true, "url": ...}`. The child's stdin stays open as a lifeline:
 * when this process dies for any reason, the child sees stdin end and stops.
 */
export async function startServerChild(script: string, config: unknown, options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; logDir: string; name: string }): Promise<ServerChild> {
  // The configuration travels in the environment (it holds the accounts' password), not on the command line.
  const child = spawnNode(script, [], { env: { ...(options.env ?? process.env), BENCH_CHILD_CONFIG: JSON.stringify(config) } });
  const logFile = join(options.logDir, `${options.name}.log`);
  const log: WriteStream = createWriteStream(logFile);
  child.stderr!.pipe(log);
  const lines = createInterface({ input: child.stdout! });
  try {
    const info = await new Promise<Record<string, unknown>>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`${options.name} did not start within ${(options.timeoutMs ?? 300_000) / 1000} s`)), options.timeoutMs ?? 300_000);
      lines.on('line', (line) => {
        if (!line.startsWith('{')) return;
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (parsed.ready === true) {
            clearTimeout(timer);
            resolveReady(parsed);
          }
        } catch {
          // not our line
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${options.name} exited (${code ?? signal}) before it was ready; its log:\n${tail(logFile)}`));
      });
    });
    const waiting: Array<(counts: Record<string, number>) => void> = [];
    lines.on('line', (line) => {
      if (!line.startsWith('{"dbCommands"')) return;
      const counts = (JSON.parse(line) as { dbCommands: Record<string, number> }).dbCommands;
      for (const resolveCounts of waiting.splice(0)) resolveCounts(counts);
    });
    return {
      url: String(info.url),
      pid: child.pid!,
      child,
      info,
      logFile,
      stop: () => stopChild(child),
      dbCommands: () => new Promise((resolveCounts, reject) => {
        const timer = setTimeout(() => reject(new Error(`${options.name} did not report its database commands`)), 5_000);
        waiting.push((counts) => {
          clearTimeout(timer);
          resolveCounts(counts);
        });
        child.kill('SIGUSR2');
      }),
    };
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

export function tail(file: string, chars = 3000): string {
  try {
    return readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '(no log)';
  }
}

/** Runs a script of ours to completion and returns the JSON object of its last stdout line. */
export async function runJsonChild<T>(script: string, arg: unknown, options: { timeoutMs: number; name: string }): Promise<T> {
  const child = spawnNode(script, [JSON.stringify(arg)]);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  const { code, signal } = await waitExit(child);
  clearTimeout(timer);
  const last = stdout.trim().split('\n').at(-1) ?? '';
  if (code !== 0 || !last.startsWith('{')) throw new Error(`${options.name} failed (${code ?? signal}): ${stderr.trim().slice(-1500) || stdout.slice(-500)}`);
  return JSON.parse(last) as T;
}
