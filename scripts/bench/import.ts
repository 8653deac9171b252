// Benchmark 5: CSV import through the CLI, `node bin/latchkey.js user:import FILE`,
// each against a fresh DATA_DIR (its own embedded database, which the command
// starts and stops: included in the time) or a fresh database on MONGODB_URI.
// (a) 100,000 rows without passwords: wall time, goal < 60 s.
// (b) Rows with passwords: rows per second against the raw argon2 hash bound.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { argon2Now, bracketNote } from './argon2.ts';
import { ROOT, spawnNode, tempDir, waitExit } from './lib/proc.ts';
import { connect } from '../../src/db/connection.ts';
import type { BenchContext } from './lib/report.ts';

/**
 * A random password that passes the policy: none of the row's personal parts in it. A
 * random one contains a 3-character part such as "131" (of "Person 131 Example") about
 * once in 10,000–20,000 rows, so a run of 2,000 now and then refused one and crashed.
 */
function randomPasswordFor(personalParts: string[]): string {
  const parts = personalParts.filter((part) => part.length >= 3);
  for (;;) {
    const password = `Bq7-${randomBytes(12).toString('base64url')}`;
    if (!parts.some((part) => password.toLowerCase().includes(part))) return password;
  }
}

async function writeCsv(file: string, rows: number, withPasswords: boolean): Promise<void> {
  const out = createWriteStream(file);
  const write = (text: string) => (out.write(text) ? undefined : once(out, 'drain'));
  await write(withPasswords ? 'email,name,password,groups\n' : 'email,name,groups\n');
  for (let i = 0; i < rows; i++) {
    const name = `Person ${i.toString(36)} Example`;
    const groups = `staff;team-${i % 50}`;
    const password = withPasswords ? `,${randomPasswordFor([`imported-${i}`, ...name.toLowerCase().split(' ')])}` : '';
    const pending = write(`imported-${i}@example.org,${name}${password},${groups}\n`);
    if (pending) await pending;
  }
  out.end();
  await once(out, 'finish');
}

/** A fresh database name on MONGODB_URI (its path replaced); undefined for the embedded one. */
function freshMongoUri(): { uri: string; dbName: string } | undefined {
  const uri = process.env.MONGODB_URI;
  if (!uri) return undefined;
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?]+)(\/[^?]*)?(\?.*)?$/.exec(uri);
  if (!match) throw new Error('MONGODB_URI is not a mongodb:// URI this bench can give a fresh database name');
  const dbName = `latchkey_bench_import_${randomBytes(6).toString('hex')}`;
  return { uri: `${match[1]}/${dbName}${match[3] ?? ''}`, dbName };
}

async function runImport(ctx: BenchContext, name: string, rows: number, withPasswords: boolean): Promise<{ wallSeconds: number; reportedSeconds: number; summary: string }> {
  const dir = tempDir(name);
  const file = join(dir, 'people.csv');
  ctx.progress(`writing ${rows.toLocaleString('en-US')} rows${withPasswords ? ' with passwords' : ''} to a CSV file`);
  await writeCsv(file, rows, withPasswords);
  // A policy file of the run's own only where the environment names one; else the project's.
  const mongo = freshMongoUri();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    DATA_DIR: join(dir, 'data'),
    LOG_LEVEL: 'warn',
    ...(process.env.LATCHKEY_CONFIG ? { LATCHKEY_CONFIG: process.env.LATCHKEY_CONFIG } : {}),
    ...(mongo ? { MONGODB_URI: mongo.uri } : {}),
  };
  ctx.progress(`running latchkey user:import (${rows.toLocaleString('en-US')} rows)`);
  const started = performance.now();
  const child = spawnNode(join(ROOT, 'bin/latchkey.js'), ['user:import', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const limit = setTimeout(() => child.kill('SIGKILL'), ctx.scale(900, 300) * 1000);
  const { code, signal } = await waitExit(child);
  clearTimeout(limit);
  const wallSeconds = (performance.now() - started) / 1000;
  try {
    if (code !== 0) throw new Error(`user:import exited ${code ?? signal}: ${(stderr.trim() || stdout.trim()).slice(-800)}`);
    const summary = /^(\d+) rows in ([\d.]+) s: (\d+) created.*$/m.exec(stdout);
    if (!summary) throw new Error(`no summary line from user:import: ${stdout.slice(-500)}`);
    if (Number(summary[3]) !== rows) throw new Error(`expected ${rows} accounts created: ${summary[0]}`);
    return { wallSeconds, reportedSeconds: Number(summary[2]), summary: summary[0] };
  } finally {
    if (mongo) {
      const connection = await connect(process.env.MONGODB_URI!, { dbName: mongo.dbName });
      await connection.dropDatabase().catch(() => {});
      await connection.close();
    }
  }
}

export async function importBench(ctx: BenchContext): Promise<void> {
  const plainRows = Number(process.env.BENCH_IMPORT_ROWS ?? 100_000);
  const plain = await runImport(ctx, 'import-plain', plainRows, false);
  ctx.emit({
    name: `CSV import, ${plainRows.toLocaleString('en-US')} rows without passwords`,
    figure: { value: plain.wallSeconds, unit: 's' },
    bound: { label: 'bound', value: 60, unit: 's' },
    ratio: 60 / plain.wallSeconds,
    goal: { min: 1, text: '< 60 s (ratio = 60 s ÷ time ≥ 1)' },
    note: `wall time of \`node bin/latchkey.js user:import\` from spawn to exit (starting and stopping its database included); the command reported "${plain.summary}".`,
  });

  const passwordRows = ctx.scale(2000, 400);
  ctx.progress('argon2 hash rate, just before');
  const bound0 = await argon2Now(ctx, 'hash');
  const hashed = await runImport(ctx, 'import-passwords', passwordRows, true);
  ctx.progress('argon2 hash rate, just after');
  const bound1 = await argon2Now(ctx, 'hash');
  const bound = (bound0 + bound1) / 2;
  const perSecond = passwordRows / hashed.reportedSeconds;
  ctx.emit({
    name: `CSV import, ${passwordRows.toLocaleString('en-US')} rows with passwords`,
    figure: { value: perSecond, unit: 'rows/s' },
    bound: { label: 'bound (argon2 hash, 2 cores)', value: bound, unit: '/s' },
    ratio: perSecond / bound,
    goal: { min: 0.8 },
    note: `${hashed.reportedSeconds.toFixed(1)} s as the command reports it (from opening the database to the last batch), ${hashed.wallSeconds.toFixed(1)} s wall (${(passwordRows / hashed.wallSeconds).toFixed(1)} rows/s by that); "${hashed.summary}"; ${bracketNote('hash', bound0, bound1, ctx)}.`,
  });
}
