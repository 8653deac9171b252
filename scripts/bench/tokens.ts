// Benchmarks 3 and 4: the token endpoint and the public documents, Latchkey vs
// the baseline (the same oidc-provider with its in-memory adapter and no code of
// ours), with the same driver, the same clients and the same concurrency.
//
// Both servers run at once and are measured in alternating rounds (ours, baseline,
// baseline, ours, ...), so a change in the machine's load during the run falls
// on both alike; only one is under load at any moment.
//
// Refresh tokens rotate, so every request needs a token never used before: a pool
// of them is made by real code flows first (not timed); each request takes the
// oldest token in the pool and puts the rotated one it gets back at the end.
import { assertClean, load, type LoadResult } from './lib/http.ts';
import { clientCredentials, codeFlow, discovery, jwks, refresh, type ServerKind } from './lib/flows.ts';
import { cpuPerOperation, cpuShares, describeShares, sampleCpu, type CpuShares } from './lib/cpu.ts';
import { startBaseline, startLatchkey, type Account } from './lib/servers.ts';
import type { ServerChild } from './lib/proc.ts';
import type { BenchContext } from './lib/report.ts';
import { perOperation } from './lib/dbstats.ts';

const CONCURRENCY = 8;

interface Target {
  kind: ServerKind;
  server: ServerChild;
  accounts: Account[];
  pool: string[];
}

interface Totals {
  done: number;
  seconds: number;
  /** CPU shares weighted by seconds. */
  shares: CpuShares;
  commands?: string;
}

const METRICS = {
  refresh: { label: 'refresh-token grant', count: [6000, 1000], seconds: [15, 4] },
  clientCredentials: { label: 'client-credentials grant', count: [20000, 3000], seconds: [10, 3] },
  discovery: { label: 'discovery document', count: [60000, 8000], seconds: [8, 3] },
  jwks: { label: 'JWKS', count: [60000, 8000], seconds: [8, 3] },
} as const;
type Metric = keyof typeof METRICS;

function task(target: Target, metric: Metric): () => Promise<void> {
  const issuer = target.server.url;
  switch (metric) {
    case 'refresh':
      return async () => {
        const token = target.pool.shift();
        if (!token) throw new Error('refresh-token pool ran dry');
        const tokens = await refresh(issuer, token);
        target.pool.push(tokens.refresh_token!);
      };
    case 'clientCredentials':
      return () => clientCredentials(issuer).then(() => {});
    case 'discovery':
      return () => discovery(issuer);
    case 'jwks':
      return () => jwks(issuer);
  }
}

async function makePool(ctx: BenchContext, target: Target, size: number): Promise<void> {
  ctx.progress(`${target.kind}: ${size} code flows for the refresh-token pool (not timed)`);
  const account = (i: number) => target.accounts[i % target.accounts.length]!;
  assertClean(`${target.kind} pool flows`, await load({ concurrency: 4, count: size, seconds: 300, signal: ctx.signal, task: async (i) => {
    const tokens = await codeFlow(target.kind, target.server.url, account(i).email, account(i).password);
    if (!tokens.refresh_token) throw new Error('no refresh token from the code flow');
    target.pool.push(tokens.refresh_token);
  } }));
  // Every path once through (not timed): code loaded, connections open.
  const metrics = Object.keys(METRICS) as Metric[];
  assertClean(`${target.kind} warm-up`, await load({ concurrency: CONCURRENCY, count: 200, seconds: 30, signal: ctx.signal, task: (i) => task(target, metrics[i % metrics.length]!)() }));
}

async function round(ctx: BenchContext, target: Target, metric: Metric, count: number, seconds: number, totals: Totals): Promise<void> {
  const commandsBefore = target.kind === 'latchkey' ? await target.server.dbCommands() : undefined;
  const before = sampleCpu(target.server.pid);
  const result: LoadResult = assertClean(`${target.kind} ${METRICS[metric].label}`, await load({ concurrency: CONCURRENCY, count, seconds, signal: ctx.signal, task: task(target, metric) }));
  const shares = cpuShares(before, sampleCpu(target.server.pid));
  for (const key of Object.keys(shares) as Array<keyof CpuShares>) {
    totals.shares[key] = (totals.shares[key] * totals.seconds + shares[key] * result.seconds) / (totals.seconds + result.seconds);
  }
  totals.done += result.done;
  totals.seconds += result.seconds;
  if (commandsBefore) totals.commands = perOperation('request', commandsBefore, await target.server.dbCommands(), result.done);
}

export async function tokensBench(ctx: BenchContext): Promise<void> {
  ctx.progress('starting a Latchkey server and the baseline provider');
  const ours = await startLatchkey('tokens', 8);
  const base = await startBaseline('baseline');
  const targets: Record<ServerKind, Target> = {
    latchkey: { kind: 'latchkey', server: ours, accounts: ours.accounts, pool: [] },
    baseline: { kind: 'baseline', server: base, accounts: [{ email: 'bench-person', password: 'any' }], pool: [] },
  };
  const rounds = ctx.scale(4, 2);
  const poolSize = ctx.scale(64, 24);
  try {
    await makePool(ctx, targets.latchkey, poolSize);
    await makePool(ctx, targets.baseline, poolSize);

    for (const metric of Object.keys(METRICS) as Metric[]) {
      const { label, count, seconds } = METRICS[metric];
      ctx.progress(`${label}: ${rounds} rounds each, alternating`);
      const totals: Record<ServerKind, Totals> = {
        latchkey: { done: 0, seconds: 0, shares: { server: 0, database: 0, driver: 0, other: 0 } },
        baseline: { done: 0, seconds: 0, shares: { server: 0, database: 0, driver: 0, other: 0 } },
      };
      for (let r = 0; r < rounds; r++) {
        // ours, baseline, baseline, ours, ...: neither always goes first.
        const order: ServerKind[] = r % 2 === 0 ? ['latchkey', 'baseline'] : ['baseline', 'latchkey'];
        for (const kind of order) {
          await round(ctx, targets[kind], metric, Math.ceil(ctx.scale(count[0], count[1]) / rounds), ctx.scale(seconds[0], seconds[1]) / rounds, totals[kind]);
        }
      }
      const a = totals.latchkey;
      const b = totals.baseline;
      const ratePerSecond = (t: Totals) => t.done / t.seconds;
      ctx.emit({
        name: label,
        figure: { value: ratePerSecond(a), unit: '/s' },
        bound: { label: 'baseline oidc-provider', value: ratePerSecond(b), unit: '/s' },
        ratio: ratePerSecond(a) / ratePerSecond(b),
        ...(metric === 'refresh' ? { goal: { min: 0.5 } } : {}),
        note: `Latchkey ${a.done} in ${a.seconds.toFixed(1)} s (${describeShares(a.shares)}; ${cpuPerOperation(a.shares, ratePerSecond(a), 'request')}; ${a.commands ?? ''}); baseline ${b.done} in ${b.seconds.toFixed(1)} s (${describeShares(b.shares)}; ${cpuPerOperation(b.shares, ratePerSecond(b), 'request')}); concurrency ${CONCURRENCY}, ${rounds} alternating rounds each.`
          + (metric === 'refresh' ? ` Pool of ${poolSize} refresh tokens per server from code flows; the tokens are bound to their session (scope without offline_access), so each grant also looks the session up.` : ''),
      });
    }
  } finally {
    await Promise.all([ours.stop(), base.stop()]);
  }
}
