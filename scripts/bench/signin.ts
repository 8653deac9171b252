// Benchmark 2: password sign-ins through the real pages.
// (a) Only the sign-in POSTs are timed: N authorization requests are prepared
//     first (GET /auth → sign-in page with its CSRF token and cookies), then their
//     forms are posted at concurrency 4 → sign-ins per second.
// (b) The whole code flow, timed end to end: GET /auth → sign-in page → POST →
//     resumed authorization → code at the callback → POST /token → flows per second.
// Both are compared with the raw argon2 verification rate: one sign-in is one
// argon2 verification, so that rate is the ceiling.
import { argon2Now, bracketNote } from './argon2.ts';
import { assertClean, load } from './lib/http.ts';
import { codeFlow, openSignIn, postSignIn, type AtSignIn } from './lib/flows.ts';
import { cpuPerOperation, cpuShares, describeShares, sampleCpu } from './lib/cpu.ts';
import { startLatchkey } from './lib/servers.ts';
import { perOperation } from './lib/dbstats.ts';
import type { BenchContext } from './lib/report.ts';

const CONCURRENCY = 4;
const ACCOUNTS = 20;

export async function signinBench(ctx: BenchContext): Promise<void> {
  ctx.progress(`starting a Latchkey server with ${ACCOUNTS} accounts`);
  const server = await startLatchkey('signin', ACCOUNTS);
  try {
    const issuer = server.url;
    const account = (i: number) => server.accounts[i % server.accounts.length]!;

    // Warm-up (templates compiled, code paths JIT-compiled, connections open): not timed.
    assertClean('warm-up flows', await load({ concurrency: CONCURRENCY, count: ctx.scale(20, 8), seconds: 60, signal: ctx.signal, task: (i) => codeFlow('latchkey', issuer, account(i).email, account(i).password).then(() => {}) }));

    // (a) Sign-in POSTs.
    const count = ctx.scale(400, 80);
    ctx.progress(`preparing ${count} sign-in pages (not timed)`);
    const prepared: AtSignIn[] = [];
    assertClean('preparing sign-in pages', await load({ concurrency: CONCURRENCY, count, seconds: 300, signal: ctx.signal, task: async (i) => {
      prepared[i] = await openSignIn('latchkey', issuer);
    } }));
    ctx.progress('argon2 verify rate, just before');
    const bound0 = await argon2Now(ctx, 'verify');
    ctx.progress(`timing ${count} sign-in POSTs at concurrency ${CONCURRENCY}`);
    const commandsBefore = await server.dbCommands();
    const before = sampleCpu(server.pid);
    const posts = assertClean('sign-in POSTs', await load({ concurrency: CONCURRENCY, count, seconds: ctx.scale(120, 30), signal: ctx.signal, task: async (i) => {
      await postSignIn('latchkey', prepared[i]!, account(i).email, account(i).password);
    } }));
    const shares = cpuShares(before, sampleCpu(server.pid));
    const commands = perOperation('sign-in POST', commandsBefore, await server.dbCommands(), posts.done);
    ctx.progress('argon2 verify rate, just after');
    const bound1 = await argon2Now(ctx, 'verify');
    const bound = (bound0 + bound1) / 2;
    ctx.emit({
      name: 'sign-in POST',
      figure: { value: posts.perSecond, unit: '/s' },
      bound: { label: 'bound (argon2 verify, 2 cores)', value: bound, unit: '/s' },
      ratio: posts.perSecond / bound,
      goal: { min: 0.9 },
      note: `${posts.done} POSTs of prepared sign-in forms (each answered 303 to the resumed authorization) in ${posts.seconds.toFixed(1)} s at concurrency ${CONCURRENCY}, ${ACCOUNTS} accounts; ${describeShares(shares)}; ${cpuPerOperation(shares, posts.perSecond, 'POST')} (one argon2 verification costs ${(2000 / bound).toFixed(1)} ms of a core at the bound); ${commands}; ${bracketNote('verify', bound0, bound1, ctx)}.`,
    });

    // (b) Whole code flows.
    const flows = ctx.scale(300, 60);
    ctx.progress(`timing ${flows} whole code flows at concurrency ${CONCURRENCY}`);
    const commandsBefore2 = await server.dbCommands();
    const before2 = sampleCpu(server.pid);
    const result = assertClean('code flows', await load({ concurrency: CONCURRENCY, count: flows, seconds: ctx.scale(120, 30), signal: ctx.signal, task: async (i) => {
      const tokens = await codeFlow('latchkey', issuer, account(i).email, account(i).password);
      if (!tokens.refresh_token || !tokens.id_token) throw new Error('token response without refresh or ID token');
    } }));
    const shares2 = cpuShares(before2, sampleCpu(server.pid));
    const commands2 = perOperation('flow', commandsBefore2, await server.dbCommands(), result.done);
    ctx.progress('argon2 verify rate, just after');
    const bound2 = await argon2Now(ctx, 'verify');
    const flowBound = (bound1 + bound2) / 2;
    ctx.emit({
      name: 'code flow, end to end',
      figure: { value: result.perSecond, unit: '/s' },
      bound: { label: 'bound (argon2 verify, 2 cores)', value: flowBound, unit: '/s' },
      ratio: result.perSecond / flowBound,
      goal: { min: 0.7 },
      note: `${result.done} flows (GET /auth → sign-in page → POST → resumed /auth → code → POST /token: 5 requests each) in ${result.seconds.toFixed(1)} s at concurrency ${CONCURRENCY}; ${describeShares(shares2)}; ${cpuPerOperation(shares2, result.perSecond, 'flow')}; ${commands2}; ${bracketNote('verify', bound1, bound2, ctx)}.`,
    });
  } finally {
    await server.stop();
  }
}
