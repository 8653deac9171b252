// The benchmark runner: `npm run bench` (about 15 minutes) or `npm run bench -- --quick`
// (every duration short: a sanity run of a few minutes). `--only=signin,tokens`
// runs some of them (the argon2 bound always runs when another needs it).
//
// Each benchmark prints its figure, the bound it is compared with (measured in
// this run, on this machine), the ratio and the goal as soon as it completes;
// docs/benchmarks.md is rewritten at the end with the machine's description and
// the table. Servers under test run as child processes on 127.0.0.1; the load
// comes from this process, bounded in count and time. A missed goal is reported
// (exit 0); a benchmark that crashes makes the exit code 1. Ctrl-C stops every
// child and removes the temporary files.
import { resolve } from 'node:path';
import { argon2Bench } from './argon2.ts';
import { signinBench } from './signin.ts';
import { tokensBench } from './tokens.ts';
import { importBench } from './import.ts';
import { memoryBench, soakMinutes } from './memory.ts';
import { ROOT, removeTemp, stopAllChildren } from './lib/proc.ts';
import { describeMachine, line, passState, writeMarkdown, type BenchContext, type Result } from './lib/report.ts';
import { hashingParams } from './argon2.ts';
import { otherLoad } from './lib/cpu.ts';
import { readFileSync } from 'node:fs';

const METHODS_TEXT = `
**argon2 bounds** (benchmark 1): argon2id with the policy's parameters through the argon2 package's async API (libuv's thread pool), in a child process doing nothing else, at concurrency 2 and 4 for 5 s each; the better rate is the bound. For the ratios below the same measurement is repeated (3 s per concurrency) just before and just after each figure, and the mean of the two is that figure's bound: on a machine whose load changes during the run, a bound taken minutes earlier would compare unlike conditions. Benchmark 1's rate is shown beside it in the details.
**Sign-in POST**: a Latchkey server child (scripts/bench/server.ts: fresh DATA_DIR, PORT=0 on 127.0.0.1, LOG_LEVEL=warn, DEMO_APP=false, generous throttles via the policy overrides, 20 accounts created up front) and a public first-party client whose redirect_uri is on 127.0.0.1:9 (never fetched). The driver (this process, node:http with keep-alive) prepares N authorization requests with PKCE up to the sign-in page (cookies and CSRF token kept; not timed), then times only the N sign-in POSTs at concurrency 4; each must answer 303. Goal: ≥ 0.9 of the argon2 verification rate (one sign-in is one verification).
**Code flow, end to end**: GET /auth → sign-in page → POST → resumed /auth → code at the callback → POST /token, timed as a whole at concurrency 4, with a fresh browser (no session) each time. Goal: ≥ 0.7 of the argon2 verification rate.
**Refresh grant**: Latchkey vs the baseline (scripts/bench/baseline-provider.ts: the same oidc-provider version, in-memory adapter, devInteractions, no code of ours, the same refresh-token policy: issued to every client allowed the grant, rotated on every use). A pool of refresh tokens is made on each by real code flows (on the baseline through its devInteractions login and consent pages); each request takes an unused token from the pool and puts the rotated one back, so every request presents its own never-used token. Both servers run at once and are measured in alternating rounds (only one under load at a time). Concurrency 8. Goal: ours ≥ 0.5 × baseline.
**Client credentials, discovery, JWKS**: the same servers and rounds; a confidential client (client_secret_basic, grant client_credentials) on both. Concurrency 8. Ratios reported, no goal.
**CSV import**: \`node bin/latchkey.js user:import FILE\` against a fresh DATA_DIR (its own embedded database, started and stopped by the command and included in the time), on a generated file. Without passwords (email, name, groups; 100,000 rows, BENCH_IMPORT_ROWS to change): wall time, goal < 60 s (ratio = 60 s ÷ time). With passwords (email, name, password, groups; each password passes the policy): rows per second over the command's own reported time, against the argon2 hash rate; goal ≥ 0.8.
**Memory**: a fresh Latchkey server child; VmRSS from /proc/<pid>/status after start (accounts created, one sign-in done, 2 s idle) and right after the mixed load (code flows with sign-in, then 5 × refresh + userinfo + discovery each, at concurrency 4) for BENCH_SOAK_MINUTES (default 10; 1 with --quick). Ratio after ÷ at start; no goal stated, reported. The peak, the RSS after 5 s idle and the embedded database's own RSS are in the details.
**CPU shares** in the details come from /proc (utime + stime of the server, its database child and the driver; the machine's busy time from /proc/stat, the rest of which is "other processes"). **Database commands** per operation are counted by the server child with the MongoDB driver's command monitoring.
**Database commands before** (2026-11-22, when issue 16 was filed; this run's are in each figure's details): sign-in POST 8, code flow 23 (12 writes), refresh grant 7 (3 writes), client credentials 1. Issues 12, 14 and 15 then added to every sign-in the passkey lookup, the session's device record, the known-browser record and, for a new browser (the bench's flows always use one), the new-browser notice's account read and audit record (30 per code flow on 2026-12-03 at 01:04); the speed work since took off the notice's account read (it comes with the provider's own) and the sign-in page's look for an owed second step (only where its cookie says one is owed).
`;
const METHODS = METHODS_TEXT.trim().split('\n');

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const unknown = args.filter((a) => a !== '--quick' && !a.startsWith('--only='));
if (unknown.length) {
  console.error(`bench: unknown argument(s) ${unknown.join(' ')}; use --quick and/or --only=argon2,signin,tokens,import,memory`);
  process.exit(2);
}

const BENCHMARKS: Array<[string, (ctx: BenchContext) => Promise<void>]> = [
  ['argon2', argon2Bench],
  ['signin', signinBench],
  ['tokens', tokensBench],
  ['import', importBench],
  ['memory', memoryBench],
];
const selected = BENCHMARKS.filter(([id]) => !only || id === 'argon2' || only.includes(id));

/** Where the data lives, without credentials: the embedded FerretDB, or MongoDB's host(s). */
function describeDatabase(): string {
  const uri = process.env.MONGODB_URI;
  if (!uri) return 'embedded FerretDB 1.24 on SQLite (scripts/devdb), MONGODB_URI unset';
  const hosts = /^mongodb(?:\+srv)?:\/\/(?:[^@/]*@)?([^/?]+)/.exec(uri)?.[1] ?? 'unknown host';
  return `MongoDB at ${hosts} (MONGODB_URI)`;
}

const controller = new AbortController();
const results: Result[] = [];
const ctx: BenchContext = {
  quick,
  scale: (full, short) => (quick ? short : full),
  results,
  signal: controller.signal,
  emit(result) {
    if (interrupted) return; // a load cut short by Ctrl-C measures nothing
    results.push(result);
    console.log(line(result));
  },
  progress(message) {
    process.stderr.write(`  … ${message}\n`);
  },
  database: describeDatabase(),
};

let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupted) return;
  interrupted = true;
  controller.abort();
  process.stderr.write(`\nbench: ${signal}: stopping the servers and removing the temporary files\n`);
  const force = setTimeout(() => process.exit(130), 30_000);
  force.unref();
  stopAllChildren(5_000).finally(() => {
    removeTemp();
    process.exit(130);
  });
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const machine = describeMachine(ctx.database);
const loadAtStart = (() => {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
})();
const params = hashingParams();
console.log(`Latchkey benchmarks${quick ? ' (quick)' : ''}: ${machine.cpu}, ${machine.cores} cores, ${machine.memory}, Node ${machine.node}, ${machine.database}`);

let crashed = false;
try {
  for (const [id, run] of selected) {
    if (interrupted) break;
    process.stderr.write(`\n[${id}]\n`);
    try {
      await run(ctx);
    } catch (error) {
      if (interrupted) break;
      crashed = true;
      const e = error as Error;
      process.stderr.write(`${e.stack ?? e.message}\n`);
      ctx.emit({ name: `${id} benchmark`, figure: { value: 0, unit: '' }, crashed: e.message.split('\n')[0]! });
    } finally {
      await stopAllChildren();
    }
  }
} finally {
  if (!interrupted) {
    await stopAllChildren();
    removeTemp();
  }
}

if (!interrupted) {
  const doc = resolve(ROOT, 'docs/benchmarks.md');
  writeMarkdown(doc, {
    machine,
    results,
    quick,
    crashed,
    settings: [
      `Load average at the start of the run: ${loadAtStart}; other processes took on average up to ${Math.max(0, ...otherLoad).toFixed(2)} cores during a measurement${Math.max(0, ...otherLoad) > 0.2 ? ' — **the machine was not quiet: figures are disturbed** (the ratios less so: each argon2 bound is measured just before and after its figure, and Latchkey and the baseline alternate)' : ' (quiet)'}`,
      `argon2id parameters (policy): m=${params.memoryKiB} KiB, t=${params.timeCost}, p=${params.parallelism}`,
      `Run: ${quick ? 'quick (--quick)' : 'full'}${only ? `, only ${only.join(', ')}` : ''}; soak ${soakMinutes(quick)} min`,
    ],
    methods: METHODS,
  });
  const failed = results.filter((r) => passState(r) === 'FAIL').length;
  const passed = results.filter((r) => passState(r) === 'PASS').length;
  console.log(`\n${passed} goals met, ${failed} missed${crashed ? ', and a benchmark crashed' : ''}; written to docs/benchmarks.md`);
  process.exit(crashed ? 1 : 0);
}
