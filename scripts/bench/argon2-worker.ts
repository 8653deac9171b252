// The raw argon2 bound, in a process of its own: argon2id with the configured
// parameters through the argon2 package's async API (libuv's thread pool, so
// concurrency 2–4 keeps both cores busy), nothing else running in the process.
// Prints one JSON line: verifications and hashes per second at each concurrency.
//
// Argument: JSON {params: {memoryKiB, timeCost, parallelism}, seconds, concurrencies}.
import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';
import { machineBusySeconds } from './lib/cpu.ts';

interface Options {
  params: { memoryKiB: number; timeCost: number; parallelism: number };
  seconds: number;
  concurrencies: number[];
  /** Which to measure (both when absent). */
  ops?: Array<'verify' | 'hash'>;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const hashOptions: { type: typeof argon2.argon2id; memoryCost: number; timeCost: number; parallelism: number } = {
  type: argon2.argon2id,
  memoryCost: options.params.memoryKiB,
  timeCost: options.params.timeCost,
  parallelism: options.params.parallelism,
};

// Stop when the bench goes away.
process.stdin.on('end', () => process.exit(1));
process.stdin.resume();

const password = randomBytes(12).toString('base64url');
const stored = await argon2.hash(password, hashOptions);

async function rate(concurrency: number, seconds: number, op: () => Promise<unknown>): Promise<number> {
  // One untimed round first, so every pool thread has its memory.
  await Promise.all(Array.from({ length: concurrency }, op));
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let done = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      await op();
      done++;
    }
  }));
  return done / ((performance.now() - started) / 1000);
}

// Whether something else on the machine took CPU meanwhile: machine busy time minus ours.
const machineBefore = machineBusySeconds();
const ownBefore = process.cpuUsage();
const wallBefore = performance.now();
const verify: Record<string, number> = {};
const hash: Record<string, number> = {};
const ops = options.ops ?? ['verify', 'hash'];
for (const c of ops.includes('verify') ? options.concurrencies : []) {
  verify[c] = await rate(c, options.seconds, async () => {
    if (!(await argon2.verify(stored, password))) throw new Error('verification failed');
  });
}
for (const c of ops.includes('hash') ? options.concurrencies : []) {
  hash[c] = await rate(c, options.seconds, () => argon2.hash(randomBytes(12).toString('base64url'), hashOptions));
}
const wall = (performance.now() - wallBefore) / 1000;
const own = process.cpuUsage(ownBefore);
const ownCores = (own.user + own.system) / 1e6 / wall;
const otherCores = Math.max(0, (machineBusySeconds() - machineBefore) / wall - ownCores);
process.stdout.write(`${JSON.stringify({ ready: true, verify, hash, ownCores, otherCores, threadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)' })}\n`);
process.exit(0);
