// Benchmark 1: the raw argon2 bound. argon2id verifications and hashes per
// second with the configured parameters, on both cores, in a child process that
// does nothing else. Every sign-in and import figure is compared with it.
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { BENCH_DIR, runJsonChild } from './lib/proc.ts';
import { noteOtherLoad } from './lib/cpu.ts';
import type { BenchContext, Result } from './lib/report.ts';

export interface Argon2Bound {
  verifyPerSecond: number;
  hashPerSecond: number;
  params: { memoryKiB: number; timeCost: number; parallelism: number };
}

export const VERIFY_BOUND = 'argon2 verify bound';
export const HASH_BOUND = 'argon2 hash bound';

export function hashingParams() {
  const env: Record<string, string> = {};
  if (process.env.LATCHKEY_CONFIG) env.LATCHKEY_CONFIG = process.env.LATCHKEY_CONFIG;
  return loadConfig(env).policy.passwordHashing;
}

export async function argon2Bench(ctx: BenchContext): Promise<void> {
  const params = hashingParams();
  const seconds = ctx.scale(5, 2);
  const concurrencies = [2, 4];
  ctx.progress(`argon2id m=${params.memoryKiB} KiB t=${params.timeCost} p=${params.parallelism}: ${seconds} s per measurement at concurrency ${concurrencies.join(' and ')}`);
  const out = await runJsonChild<{ verify: Record<string, number>; hash: Record<string, number>; ownCores: number; otherCores: number; threadpool: string }>(
    join(BENCH_DIR, 'argon2-worker.ts'),
    { params, seconds, concurrencies },
    { timeoutMs: (seconds * concurrencies.length * 2 + 60) * 1000, name: 'argon2 worker' },
  );
  noteOtherLoad(out.otherCores);
  const best = (rates: Record<string, number>) => Object.entries(rates).reduce((a, b) => (b[1] > a[1] ? b : a));
  const [verifyAt, verify] = best(out.verify);
  const [hashAt, hash] = best(out.hash);
  const detail = (rates: Record<string, number>) => Object.entries(rates).map(([c, r]) => `${r.toFixed(1)}/s at concurrency ${c}`).join(', ');
  const verifyResult: Result = {
    name: VERIFY_BOUND,
    figure: { value: verify, unit: '/s' },
    note: `argon2id m=${params.memoryKiB} KiB, t=${params.timeCost}, p=${params.parallelism}; verifications ${detail(out.verify)} (the best, at ${verifyAt}, is the bound); libuv pool ${out.threadpool} threads; ${seconds} s each in a child process; cores in use: argon2 ${out.ownCores.toFixed(2)}, other processes ${out.otherCores.toFixed(2)}.`,
  };
  const hashResult: Result = {
    name: HASH_BOUND,
    figure: { value: hash, unit: '/s' },
    note: `hashes ${detail(out.hash)} (the best, at ${hashAt}, is the bound).`,
  };
  ctx.emit(verifyResult);
  ctx.emit(hashResult);
}

/**
 * The argon2 rate measured again right beside a figure (before and after it), so a
 * ratio compares two things measured under the same conditions even when the
 * machine's load drifts during the run. Best of concurrency 2 and 4, as above.
 */
export async function argon2Now(ctx: BenchContext, op: 'verify' | 'hash'): Promise<number> {
  const seconds = ctx.scale(3, 1.5);
  const out = await runJsonChild<{ verify: Record<string, number>; hash: Record<string, number>; otherCores: number }>(
    join(BENCH_DIR, 'argon2-worker.ts'),
    { params: hashingParams(), seconds, concurrencies: [2, 4], ops: [op] },
    { timeoutMs: (seconds * 4 + 60) * 1000, name: 'argon2 worker' },
  );
  noteOtherLoad(out.otherCores);
  return Math.max(...Object.values(op === 'verify' ? out.verify : out.hash));
}

/** "bound measured around it: 41.0 before, 43.2 after (benchmark 1: 44.0)". */
export function bracketNote(op: 'verify' | 'hash', before: number, after: number, ctx: BenchContext): string {
  const first = ctx.results.find((r) => r.name === (op === 'verify' ? VERIFY_BOUND : HASH_BOUND))?.figure.value;
  return `the bound is the mean of argon2 ${op} rates measured just before (${before.toFixed(1)}/s) and just after (${after.toFixed(1)}/s)${first ? `; benchmark 1 measured ${first.toFixed(1)}/s` : ''}`;
}
