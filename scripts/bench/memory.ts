// Benchmark 6: memory. The resident set size of a Latchkey server child (VmRSS in
// /proc/<pid>/status) after start, and after BENCH_SOAK_MINUTES of mixed load:
// code flows with a password sign-in, refresh grants, userinfo and discovery, at
// concurrency 4, bounded in time and in count.
import { assertClean, load } from './lib/http.ts';
import { codeFlow, discovery, refresh, userinfo } from './lib/flows.ts';
import { childPids, rssBytes } from './lib/proc.ts';
import { describeCpu, sampleCpu } from './lib/cpu.ts';
import { startLatchkey } from './lib/servers.ts';
import type { BenchContext } from './lib/report.ts';
import { perOperation } from './lib/dbstats.ts';

const CONCURRENCY = 4;
/** Token requests (refresh, userinfo, discovery) after each sign-in. */
const ROUNDS_PER_SIGN_IN = 5;
const MiB = 1024 * 1024;

export function soakMinutes(quick: boolean): number {
  const fromEnv = Number(process.env.BENCH_SOAK_MINUTES);
  if (process.env.BENCH_SOAK_MINUTES && Number.isFinite(fromEnv) && fromEnv > 0) return fromEnv;
  return quick ? 1 : 10;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function memoryBench(ctx: BenchContext): Promise<void> {
  const minutes = soakMinutes(ctx.quick);
  ctx.progress('starting a Latchkey server');
  const server = await startLatchkey('memory', 8);
  try {
    const issuer = server.url;
    const account = (i: number) => server.accounts[i % server.accounts.length]!;
    const databaseRss = () => childPids(server.pid).reduce((sum, pid) => sum + rssBytes(pid), 0);

    // After start: accounts made, one sign-in done (the pages' code loaded), then a moment idle.
    await codeFlow('latchkey', issuer, account(0).email, account(0).password);
    await sleep(2000);
    const atStart = rssBytes(server.pid);
    const heapAtStart = await heapUsed(issuer);
    const databaseAtStart = databaseRss();

    ctx.progress(`mixed load for ${minutes} min at concurrency ${CONCURRENCY} (server RSS at start ${(atStart / MiB).toFixed(1)} MiB)`);
    const ops = { signIns: 0, refreshes: 0, userinfo: 0, discovery: 0 };
    const seconds = minutes * 60;
    const windowMs = Math.min(60_000, (seconds * 1000) / 5);
    const started = performance.now();
    const completions: number[] = [];
    let peak = atStart;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssBytes(server.pid));
      } catch {
        // the server is gone; the load will say so
      }
    }, 5_000);
    const commandsBefore = await server.dbCommands();
    const cpuBefore = sampleCpu(server.pid);
    let result;
    try {
      result = assertClean('mixed load', await load({
        concurrency: CONCURRENCY,
        count: Math.ceil(seconds * 200), // far above what two cores sign in; the time ends it
        seconds,
        signal: ctx.signal,
        task: async (i) => {
          let tokens = await codeFlow('latchkey', issuer, account(i).email, account(i).password);
          ops.signIns++;
          for (let round = 0; round < ROUNDS_PER_SIGN_IN; round++) {
            tokens = await refresh(issuer, tokens.refresh_token!);
            ops.refreshes++;
            await userinfo(issuer, tokens.access_token);
            ops.userinfo++;
            await discovery(issuer);
            ops.discovery++;
          }
          completions.push(performance.now() - started);
        },
      }));
    } finally {
      clearInterval(sampler);
    }
    const cpuAfter = sampleCpu(server.pid);
    const commands = perOperation(`sign-in with its ${ROUNDS_PER_SIGN_IN} rounds`, commandsBefore, await server.dbCommands(), ops.signIns);
    const afterLoad = rssBytes(server.pid);
    peak = Math.max(peak, afterLoad);
    const databaseAfter = databaseRss();
    await sleep(5000);
    const afterIdle = rssBytes(server.pid);
    const heapAfter = await heapUsed(issuer);

    const elapsedMs = result.seconds * 1000;
    const rate = (from: number, to: number) => completions.filter((t) => t >= from && t < to).length / ((to - from) / 1000);
    const first = rate(0, windowMs);
    const last = rate(elapsedMs - windowMs, elapsedMs);
    const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
    ctx.emit({
      name: `server RSS after ${minutes} min mixed load`,
      figure: { value: afterLoad / MiB, unit: 'MiB' },
      bound: { label: 'RSS after start', value: atStart / MiB, unit: 'MiB' },
      ratio: afterLoad / atStart,
      note: `${ops.signIns} code flows with sign-in, ${ops.refreshes} refresh grants, ${ops.userinfo} userinfo and ${ops.discovery} discovery requests in ${result.seconds.toFixed(0)} s at concurrency ${CONCURRENCY}; `
        + `sign-ins/s (each with ${ROUNDS_PER_SIGN_IN} refresh + userinfo + discovery) in the first ${(windowMs / 1000).toFixed(0)} s ${first.toFixed(1)}, in the last ${last.toFixed(1)}; `
        + `server RSS peak ${mib(peak)}, ${mib(afterIdle)} after 5 s idle; V8 heap in use ${mib(heapAtStart)} at start, ${mib(heapAfter)} after (RSS beyond the heap is native memory: argon2's buffers, the allocator's arenas); ${databaseAtStart ? `embedded database RSS ${mib(databaseAtStart)} at start, ${mib(databaseAfter)} after; ` : ''}${describeCpu(cpuBefore, cpuAfter)}; ${commands}.`,
    });
  } finally {
    await server.stop();
  }
}

/** The server's V8 heap in use, from its own /metrics (loopback may read it). */
async function heapUsed(issuer: string): Promise<number> {
  const text = await (await fetch(`${issuer}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('latchkey_nodejs_heap_size_used_bytes '));
  return line ? Number(line.split(' ')[1]) : Number.NaN;
}
