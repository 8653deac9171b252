// The embedded development database: FerretDB on SQLite (scripts/devdb), built
// with the machine's Go on first use and started as a child process bound to
// 127.0.0.1. Used only when MONGODB_URI is unset.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';

const run = promisify(execFile);
const SOURCE_DIR = resolve(import.meta.dirname, '../../scripts/devdb');
const CACHE_DIR = resolve(import.meta.dirname, '../../node_modules/.cache/latchkey-devdb');
const FERRETDB_MODULE = 'github.com/FerretDB/FerretDB';

/**
 * Patched FerretDB files (upstream path in the module → our copy) compiled in
 * place of upstream's. They make the SQLite backend use its indexes for `_id`,
 * for string equalities on indexed fields and for dotted keys, run write commands
 * one at a time (single-document atomicity, as MongoDB), and track
 * resources and build query logs only when debugging (a stack trace and a
 * formatted log line per query otherwise); see
 * scripts/devdb/patches and the README ("An embedded database").
 */
const PATCHED_FILES: Record<string, string> = {
  'internal/backends/sqlite/metadata/metadata.go': 'patches/metadata.go',
  'internal/backends/sqlite/collection.go': 'patches/collection.go',
  'ferretdb/ferretdb.go': 'patches/ferretdb.go',
  'internal/util/resource/resource.go': 'patches/resource.go',
  'internal/util/fsql/db.go': 'patches/fsql-db.go',
  'internal/util/fsql/tx.go': 'patches/fsql-tx.go',
  'internal/clientconn/conn.go': 'patches/clientconn-conn.go',
};

export interface DevDb {
  /** mongodb://127.0.0.1:PORT/ — append the database name. */
  uri: string;
  stop(): Promise<void>;
}

/** Builds the binary if its sources changed since the last build; returns its path. */
export async function buildDevDb(onBuild: () => void = () => {}): Promise<string> {
  const digest = createHash('sha256');
  for (const file of ['main.go', 'go.mod', 'go.sum', ...Object.values(PATCHED_FILES)]) {
    digest.update(readFileSync(join(SOURCE_DIR, file)));
  }
  const binary = join(CACHE_DIR, `devdb-${digest.digest('hex').slice(0, 16)}`);
  if (existsSync(binary)) return binary;

  onBuild();
  mkdirSync(CACHE_DIR, { recursive: true });
  const partial = `${binary}.${process.pid}.partial`;
  const goEnv = { ...process.env, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' };
  const go = (args: string[]) => run('go', args, { cwd: SOURCE_DIR, env: goEnv, maxBuffer: 16 * 1024 * 1024 });
  try {
    // Go refuses overlays of files in the module cache, so the build uses a copy
    // of the FerretDB module with our patched files in it, through a `replace`
    // in a throwaway go.mod (-modfile); scripts/devdb/go.mod stays untouched.
    await go(['mod', 'download', FERRETDB_MODULE]);
    const { stdout } = await go(['list', '-m', '-f', '{{.Dir}}', FERRETDB_MODULE]);
    const patchedModule = `${binary}.${process.pid}.ferretdb`;
    cpSync(stdout.trim(), patchedModule, { recursive: true });
    makeWritable(patchedModule); // the module cache is read-only, and so is a copy of it
    for (const [upstream, patched] of Object.entries(PATCHED_FILES)) {
      copyFileSync(join(SOURCE_DIR, patched), join(patchedModule, upstream));
    }
    const modfile = `${binary}.${process.pid}.mod`;
    writeFileSync(modfile, `${readFileSync(join(SOURCE_DIR, 'go.mod'), 'utf8')}\nreplace ${FERRETDB_MODULE} => ${patchedModule}\n`);
    copyFileSync(join(SOURCE_DIR, 'go.sum'), modfile.replace(/\.mod$/, '.sum'));
    try {
      await go(['build', `-modfile=${modfile}`, '-o', partial, '.']);
    } finally {
      for (const leftover of [patchedModule, modfile, modfile.replace(/\.mod$/, '.sum')]) {
        rmSync(leftover, { recursive: true, force: true });
      }
    }
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('the embedded database needs Go on the PATH to build (or set MONGODB_URI)');
    throw new Error(`building the embedded database failed:\n${e.stderr ?? e.message}`);
  }
  renameSync(partial, binary); // atomic, so concurrent first starts do not see half a file
  return binary;
}

function makeWritable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    chmodSync(join(entry.parentPath, entry.name), entry.isDirectory() ? 0o755 : 0o644);
  }
}

/** Where a running embedded database names itself, so a second one on the same files is refused. */
const RUNNING_FILE = 'devdb.running.json';

/** The embedded database already running on `dir`, if any (its process is alive). */
export function runningDevDb(dir: string): { pid: number; uri: string } | null {
  try {
    const running = JSON.parse(readFileSync(join(dir, RUNNING_FILE), 'utf8')) as { pid: number; uri: string };
    process.kill(running.pid, 0); // throws when that process is gone
    return running;
  } catch {
    return null;
  }
}

/**
 * Starts the embedded database with its files under `dir`; resolves once it accepts connections.
 * One process per directory: FerretDB serialises writes inside its own process only, so two on
 * the same files would lose updates. A second start is refused with the URI to share instead.
 */
export async function startDevDb(dir: string, options: { port?: number; onBuild?: () => void } = {}): Promise<DevDb> {
  const running = runningDevDb(dir);
  if (running) {
    throw new Error(`the embedded database in ${dir} is already running (process ${running.pid}); share it with MONGODB_URI=${running.uri}latchkey, or use another directory`);
  }
  const binary = await buildDevDb(options.onBuild);
  mkdirSync(dir, { recursive: true });
  const child: ChildProcess = spawn(
    binary,
    ['-listen', `127.0.0.1:${options.port ?? 0}`, '-dir', dir, '-watch-stdin'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });

  const uri = await new Promise<string>((resolveUri, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`embedded database did not start in 60s: ${stderr}`)), 60_000);
    lines.on('line', (line) => {
      const match = /^ready (mongodb:\/\/\S+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolveUri(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`embedded database exited with code ${code}: ${stderr.trim()}`));
    });
  });

  const runningFile = join(dir, RUNNING_FILE);
  writeFileSync(runningFile, JSON.stringify({ pid: child.pid, uri }));
  child.once('exit', () => rmSync(runningFile, { force: true }));
  return {
    uri,
    stop: () =>
      new Promise<void>((resolveStop) => {
        if (child.exitCode !== null) return resolveStop();
        child.once('exit', () => resolveStop());
        child.stdin!.end();
        setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      }),
  };
}
