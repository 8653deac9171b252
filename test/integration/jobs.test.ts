// Background work that survives an instance (src/jobs): console imports and bulk
// mail are jobs in MongoDB, held under a lease by one process at a time. Real
// processes are killed (SIGKILL) in the middle of a job, and another one must
// finish it: every row imported once, every email sent at most once (and exactly
// once for every address the job does not report as uncertain), progress and
// report right. Also: a graceful stop hands a job over at once, a stale holder can
// no longer write, a half-stored batch is replayed without counting a row twice,
// and only one instance sweeps per period.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pino } from 'pino';
import { importUsers, type BatchIntent, type BatchOutcome, type ImportJobHooks } from '../../src/accounts/import.ts';
import { IMPORT_JOBS, startImportJob, type ImportJob } from '../../src/accounts/import-jobs.ts';
import { MAIL_JOBS, enqueueBulkMail, type MailJob } from '../../src/accounts/bulk-mail.ts';
import { createServices, prepareDatabase, type Services } from '../../src/deps.ts';
import { createLogger } from '../../src/log.ts';
import { JobRunner, LeaseLost, newJobFields, type JobDoc } from '../../src/jobs/runner.ts';
import { LEASES, type LeaseDoc } from '../../src/jobs/lease.ts';
import type { User } from '../../src/db/models/user.ts';
import { startServerProcess, type ServerProcess } from '../helpers/process.ts';
import { startCluster } from '../helpers/cluster.ts';
import { freshDatabase, testConfig, type TestDatabase } from '../helpers/server.ts';
import { startSmtp, type ParsedMail, type TestSmtp } from '../helpers/smtp.ts';
import { uriFor } from '../helpers/cli.ts';
import { databaseServerUri, testRoot } from '../setup.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Short leases so a dead holder is replaced within seconds. */
const FAST_LEASES = { JOB_LEASE_MS: '3000', JOB_HEARTBEAT_MS: '1000', JOB_POLL_MS: '300' };

async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 120_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value, null, 1).slice(0, 2000)}`);
    await sleep(everyMs);
    value = await read();
  }
  return value;
}

const pidOf = (owner: string | null) => (owner ? Number(owner.split(':').at(-2)) : null);
const recipientOf = (m: ParsedMail) => (m.to as { value: Array<{ address: string }> }).value[0]!.address.toLowerCase();

/** How many emails each address received. */
function perRecipient(messages: ParsedMail[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of messages) counts.set(recipientOf(m), (counts.get(recipientOf(m)) ?? 0) + 1);
  return counts;
}

/**
 * Every address of `expected` got one email, except those the job lists as uncertain
 * (at most one each); nobody else got any; and the job's count of sent emails is
 * what arrived, give or take the uncertain ones.
 */
function expectEachAtMostOnce(messages: ParsedMail[], expected: string[], tally: { sent: number; failed: number; uncertain: number; uncertainTo: string[] }): void {
  const counts = perRecipient(messages);
  const twice = [...counts].filter(([, n]) => n > 1);
  expect(twice, 'addresses emailed more than once').to.deep.equal([]);
  const uncertain = new Set(tally.uncertainTo.map((e) => e.toLowerCase()));
  expect(uncertain.size).to.equal(tally.uncertain);
  const missing = expected.filter((email) => !counts.has(email) && !uncertain.has(email));
  expect(missing, 'addresses never emailed, and not reported as uncertain').to.deep.equal([]);
  const strangers = [...counts.keys()].filter((email) => !expected.includes(email));
  expect(strangers, 'emails to addresses outside the job').to.deep.equal([]);
  expect(tally.failed).to.equal(0);
  expect(messages.length).to.be.within(tally.sent, tally.sent + tally.uncertain);
}

describe('jobs that survive an instance', function () {
  this.timeout(240_000);

  describe('leases (in this process)', () => {
    let database: TestDatabase;
    let services: Services;
    const log = createLogger('silent');
    before(async () => {
      database = await freshDatabase();
      services = createServices(testConfig(), log, database.connection);
      (await prepareDatabase(services))();
    });
    after(() => database.drop());

    interface TestJob extends JobDoc { steps: number; ranBy: string[] }

    it('of two runners racing for a job, one claims it; a holder whose lease was taken can no longer write', async () => {
      const collection = services.db.collection<TestJob>('test_jobs');
      await collection.insertOne({ _id: 'race', ...newJobFields(), steps: 0, ranBy: [] });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const runs: string[] = [];
      let stale: Error | null = null;
      const kind = (runner: JobRunner) => ({
        name: 'test', collection, failureMessage: 'test failed',
        async run(context: { update: (u: object) => Promise<void> }) {
          runs.push(runner.owner);
          await gate;
          // Meanwhile another instance took the job over (its lease "ran out"): our writes are refused.
          try {
            await context.update({ $inc: { steps: 1 } });
          } catch (error) {
            stale = error as Error;
            throw error;
          }
          return { status: 'done' as const };
        },
      });
      const options = { log, leaseMs: 60_000, heartbeatMs: 30_000, pollMs: 60_000 };
      const a = new JobRunner(options);
      const b = new JobRunner(options);
      a.register(kind(a) as never);
      b.register(kind(b) as never);
      a.start();
      b.start();
      await waitFor('a claim', async () => runs.length, (n) => n >= 1, 5_000);
      await sleep(300);
      expect(runs, 'claimed once').to.have.length(1);
      // The lease "runs out", and a third instance claims the job.
      await collection.updateOne({ _id: 'race' }, { $set: { leaseUntil: new Date(0) } });
      const c = new JobRunner(options);
      c.register({ name: 'test', collection, failureMessage: 'x', run: async (ctx: { update: (u: object) => Promise<void> }) => {
        await ctx.update({ $inc: { steps: 10 } });
        return { status: 'done' };
      } } as never);
      await c.drive('test', 'race');
      release();
      await a.stop();
      await b.stop();
      await c.stop();
      expect(stale).to.be.instanceOf(LeaseLost);
      const job = (await collection.findOne({ _id: 'race' }))!;
      expect(job).to.include({ status: 'done', steps: 10, owner: null, lease: null });
    });

    it('only one instance sweeps per period, and the sweep still deletes what expired', async () => {
      const lines: Array<{ msg: string; owner?: string; leaseAt: number }> = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
          done();
        },
      });
      const period = 400;
      const cluster = await startCluster(3, { env: { SWEEP_INTERVAL_MS: String(period), LOG_LEVEL: 'debug' }, log: pino({ level: 'debug' }, sink) });
      try {
        const db = cluster.database.connection.db!;
        await db.collection('one_time_links').insertOne({ _id: 'expired-link' as never, userId: 'x', purpose: 'reset', createdAt: new Date(0), expiresAt: new Date(0), usedAt: null, purgeAt: new Date(Date.now() - 1000) });
        const started = Date.now();
        await sleep(4_000);
        const elapsed = Date.now() - started;
        const sweeps = lines.filter((l) => l.msg === 'expiry sweep done' && l.leaseAt >= started).sort((a, b) => a.leaseAt - b.leaseAt);
        const owners = new Set(sweeps.map((s) => s.owner));
        expect(sweeps.length, 'about one sweep per period').to.be.within(Math.floor(elapsed / period / 1.5), Math.ceil(elapsed / period) + 1);
        // Never two in one period: consecutive sweeps (by anyone) are a period apart.
        for (let i = 1; i < sweeps.length; i++) expect(sweeps[i]!.leaseAt - sweeps[i - 1]!.leaseAt, `sweeps ${i - 1} and ${i}`).to.be.at.least(period);
        expect(owners.size, 'instances take turns as the lease frees').to.be.at.least(1);
        const lease = (await db.collection<LeaseDoc>(LEASES).findOne({ _id: 'expiry-sweep' }))!;
        expect(lease.taken).to.be.at.least(sweeps.length);
        expect(await db.collection('one_time_links').countDocuments({ _id: 'expired-link' as never })).to.equal(0);
      } finally {
        await cluster.stop();
      }
    });
  });

  describe('a batch half stored when its instance died is replayed, each row counted once', () => {
    let database: TestDatabase;
    let services: Services;
    before(async () => {
      database = await freshDatabase();
      services = createServices(testConfig(), createLogger('silent'), database.connection);
      (await prepareDatabase(services))();
    });
    after(() => database.drop());

    /** A job's state, kept here as import-jobs.ts keeps it in MongoDB. */
    function jobState(jobId: string) {
      const state = {
        line: 0, unfinished: null as BatchIntent | null, rows: 0, created: 0, updated: 0, unchanged: 0,
        rejected: [] as BatchOutcome['rejected'], invited: [] as BatchOutcome['invited'], batches: 0,
      };
      const hooks = (crashAfterBatch: number | null, crashBeforeWrite: number | null = null): ImportJobHooks => ({
        doneThroughLine: state.line,
        unfinished: state.unfinished,
        accountId: (email) => `${jobId}-${email}`,
        async beforeWrite(intent) {
          state.unfinished = intent;
          if (crashBeforeWrite !== null && state.batches === crashBeforeWrite) throw new Error('died before the writes');
        },
        async afterBatch(outcome) {
          if (crashAfterBatch !== null && state.batches === crashAfterBatch) throw new Error('died after the writes, before the commit');
          Object.assign(state, {
            line: outcome.lastLine, unfinished: null, rows: outcome.rows, batches: state.batches + 1,
            created: state.created + outcome.created, updated: state.updated + outcome.updated, unchanged: state.unchanged + outcome.unchanged,
            rejected: [...state.rejected, ...outcome.rejected], invited: [...state.invited, ...outcome.invited],
          });
        },
      });
      return { state, hooks };
    }

    const file = (rows: string[]) => Readable.from([Buffer.from(`email,name,password\n${rows.join('\n')}\n`)]);

    it('new accounts: a replayed insert finds its own account (created, not unchanged), rejected rows and invitations once', async () => {
      const rows = Array.from({ length: 1400 }, (_, i) => i === 3 ? 'bad-email,Bad,' : i === 900 ? 'h5@replay.example,Dup,' : `h${i}@replay.example,Person ${i},${i % 50 === 0 ? `violet tractor 93 meadow` : ''}`);
      const { state, hooks } = jobState('job-a');
      // Run 1 dies after storing batch 2 (rows 501..1000), before committing it.
      const died = await importUsers(services, file(rows), { job: hooks(1) }).then(() => null, (e: Error) => e.message);
      expect(died).to.equal('died after the writes, before the commit');
      expect(state.line).to.equal(502);
      expect(await services.users.countDocuments({ emailNormalized: /@replay\.example$/ })).to.be.greaterThan(900);
      // Run 2 resumes at the checkpoint with what run 1 announced.
      await importUsers(services, file(rows), { job: hooks(null) });
      expect(state).to.include({ line: 1401, rows: 1400, created: 1398, updated: 0, unchanged: 0 });
      expect(state.rejected.map((r) => [r.line, r.reason])).to.deep.equal([[5, 'email is not a valid address'], [902, 'duplicate of line 7']]);
      const withPassword = rows.filter((r) => r.includes('tractor')).length;
      expect(state.invited).to.have.length(1398 - withPassword);
      expect(new Set(state.invited.map((i) => i.id)).size, 'each invited once').to.equal(state.invited.length);
      expect(await services.users.countDocuments({ emailNormalized: /@replay\.example$/ })).to.equal(1398);
    });

    it('--upsert: an update stored by the run that died still counts as updated; a death before the writes changes nothing', async () => {
      const rows = Array.from({ length: 1200 }, (_, i) => `u${i}@replay.example,Before ${i},`);
      await importUsers(services, file(rows));
      // Every row renamed: 500 updates a batch (written in parts: the embedded FerretDB never answers 100 in one command).
      const renamed = rows.map((r, i) => r.replace(`Before ${i}`, `After ${i}`));
      const after = () => services.users.countDocuments({ emailNormalized: /^u\d+@/, name: /^After/ });
      const { state, hooks } = jobState('job-b');
      // Run 1 commits batch 1 (rows 1-500), dies before the writes of batch 2; run 2 dies after them;
      // run 3 dies again before writing; run 4 finishes. Every renamed row counts as updated once.
      expect(await importUsers(services, file(renamed), { upsert: true, job: hooks(null, 1) }).then(() => null, (e: Error) => e.message)).to.equal('died before the writes');
      expect(await after()).to.equal(500);
      expect(await importUsers(services, file(renamed), { upsert: true, job: hooks(1) }).then(() => null, (e: Error) => e.message)).to.equal('died after the writes, before the commit');
      expect(await after()).to.equal(1000);
      // Run 3 replays batch 2 (its updates are in: nothing left to write) and dies before its writes.
      expect(await importUsers(services, file(renamed), { upsert: true, job: hooks(null, 1) }).then(() => null, (e: Error) => e.message)).to.equal('died before the writes');
      await importUsers(services, file(renamed), { upsert: true, job: hooks(null) });
      expect(state).to.include({ rows: 1200, created: 0, updated: 1200, unchanged: 0 });
      expect(state.rejected).to.deep.equal([]);
      expect(await after()).to.equal(1200);
    });
  });

  describe('emails in flight when their instance died', () => {
    it('are not sent again when their link was issued (uncertain, listed), and sent when it was not', async () => {
      const database = await freshDatabase();
      const smtp = await startSmtp();
      try {
        const services = createServices(testConfig({ env: { SMTP_URL: smtp.url } }), createLogger('silent'), database.connection);
        (await prepareDatabase(services))();
        const emails = Array.from({ length: 10 }, (_, i) => `f${i}@flight.example`);
        await importUsers(services, Readable.from([Buffer.from(`email\n${emails.join('\n')}\n`)]));
        const users = await services.users.collection.find({ emailNormalized: /@flight\.example$/ }).sort({ _id: 1 }).toArray() as unknown as User[];
        const { id } = await enqueueBulkMail(services, 'invite', { all: true }, { ratePerSecond: 1000 });
        // A run that died with the first three in flight: two of them already had their link (and perhaps their email).
        const [a, b, c] = users;
        await services.links.issue(a!._id, 'invite');
        await services.links.issue(b!._id, 'invite');
        await services.db.collection<MailJob>(MAIL_JOBS).updateOne({ _id: id }, { $set: { 'mail.inFlight': { ids: [a!._id, b!._id, c!._id], since: new Date() } } });
        const result = await services.jobs.drive<MailJob>('bulk-mail', id);
        await services.jobs.stop();
        expect(result.status).to.equal('done');
        expect(result.mail).to.include({ total: 10, done: 10, sent: 8, uncertain: 2, skipped: 0, failed: 0, inFlight: null });
        expect([...result.mail.uncertainTo].sort()).to.deep.equal([a!.email, b!.email].sort());
        await sleep(200);
        expect(smtp.messages.map(recipientOf).sort()).to.deep.equal(users.slice(2).map((u) => u.email).sort());
      } finally {
        await smtp.close();
        await database.drop();
      }
    });
  });

  describe('real processes killed in the middle of a job', () => {
    let database: TestDatabase;
    let services: Services;
    let smtp: TestSmtp;
    const processes: ServerProcess[] = [];
    const start = async (env: Record<string, string> = {}) => {
      const server = await startServerProcess(database.name, { SMTP_URL: smtp.url, JOB_MAIL_RATE: '1000', ...FAST_LEASES, ...env });
      processes.push(server);
      return server;
    };
    const byPid = (pid: number | null) => processes.find((p) => p.child.pid === pid);

    beforeEach(async () => {
      database = await freshDatabase();
      smtp = await startSmtp();
      services = createServices(testConfig(), createLogger('silent'), database.connection);
      (await prepareDatabase(services))();
    });
    afterEach(async () => {
      await Promise.all(processes.splice(0).map((p) => p.kill('SIGKILL')));
      await smtp.close();
      await database.drop();
    });

    it('a console import with invitations: its holder killed while importing rows, the next killed while inviting; the third finishes, each row and each invitation once', async () => {
      const servers = await Promise.all([start(), start(), start()]);
      await Promise.all(servers.map((s) => s.ready()));

      // 2,000 rows: every 12th with a password (argon2 makes batches slow enough to die in), four bad ones.
      const rows: string[] = [];
      const expectedCreated: string[] = [];
      const expectedInvited: string[] = [];
      for (let i = 0; i < 2000; i++) {
        const email = `r${i}@jobs.example`;
        if (i === 100) rows.push('not-an-email,Bad Email,');
        else if (i === 700) rows.push('r5@jobs.example,Duplicate,');
        else if (i === 1300) rows.push(`${email},Weak Password,password`);
        else if (i === 1800) rows.push(`${email},=cmd(),`);
        else {
          const password = i % 12 === 0 ? `violet tractor 93 meadow` : '';
          rows.push(`${email},Person ${i},${password}`);
          expectedCreated.push(email);
          if (!password) expectedInvited.push(email);
        }
      }
      const id = await startImportJob(services, Readable.from([Buffer.from(`email,name,password\n${rows.join('\n')}\n`)]), {
        startedBy: 'admin-test', sendInvitations: true, fileName: 'people.csv', context: { actor: 'admin:test' },
      });
      const jobs = services.db.collection<ImportJob>(IMPORT_JOBS);
      const read = async () => (await jobs.findOne({ _id: id }))!;

      // 1. Killed while importing rows, after at least one batch was committed.
      const first = await waitFor('a committed batch', read, (j) => j.phase === 'rows' && j.checkpoint.line > 0 && j.owner !== null);
      const firstHolder = byPid(pidOf(first.owner))!;
      expect(firstHolder, `the holder ${first.owner} is one of ours`).to.not.equal(undefined);
      firstHolder.child.kill('SIGKILL');
      await firstHolder.exited;
      const linesAtDeath = first.checkpoint.line;

      // 2. Another instance resumes it once the lease runs out; killed in turn while sending invitations.
      const second = await waitFor('invitations under way elsewhere', read, (j) => j.status !== 'running' || (j.phase === 'invitations' && (j.invitations?.sent ?? 0) >= 200 && pidOf(j.owner) !== firstHolder.child.pid));
      expect(second.status, 'still running').to.equal('running');
      expect(second.attempts, 'claimed again after the death').to.be.at.least(2);
      const secondHolder = byPid(pidOf(second.owner))!;
      expect(secondHolder).to.not.equal(firstHolder);
      secondHolder.child.kill('SIGKILL');
      await secondHolder.exited;

      // 3. The third finishes.
      const done = await waitFor('the job to finish', read, (j) => j.status !== 'running', 180_000, 200);
      expect(done.status, done.error ?? '').to.equal('done');
      expect(pidOf(done.owner)).to.equal(null);
      expect(done.checkpoint.line).to.be.greaterThan(linesAtDeath);

      // Every row once.
      expect(done).to.include({ rows: 2000, created: expectedCreated.length, updated: 0, unchanged: 0, rejectedCount: 4 });
      expect(done.rejected.map((r) => [r.line, r.reason.split(':')[0]])).to.deep.equal([
        [102, 'email is not a valid address'], [702, 'duplicate of line 7'], [1302, 'password'], [1802, 'name starts like a spreadsheet formula (=, +, -, @)'],
      ]);
      const stored = await services.users.collection.find({ emailNormalized: /@jobs\.example$/ }).project<{ emailNormalized: string; status: string }>({ emailNormalized: 1, status: 1 }).toArray();
      expect(stored.map((u) => u.emailNormalized).sort()).to.deep.equal([...expectedCreated].sort());
      expect(stored.filter((u) => u.status === 'invited')).to.have.length(expectedInvited.length);

      // Every invitation at most once; exactly once unless reported uncertain.
      await sleep(500); // the last messages' replies
      const invitations = done.invitations!;
      expect(invitations).to.include({ total: expectedInvited.length, done: expectedInvited.length, skipped: 0 });
      expect(invitations.sent + invitations.uncertain).to.equal(expectedInvited.length);
      expect(invitations.uncertain, 'at most one batch in flight per death').to.be.at.most(4);
      expectEachAtMostOnce(smtp.messages, expectedInvited, invitations);
      for (const m of smtp.messages.slice(0, 5)) expect(smtp.linkIn(m)).to.match(/\/password\/set\?token=[\w-]{43}$/);
      // The uploaded file and the per-batch lists are gone with the job's end.
      expect(await services.db.collection('job_files.chunks').countDocuments({ files_id: id })).to.equal(0);
      expect(await services.db.collection('import_job_invites').countDocuments({ job: id })).to.equal(0);
    });

    it('password:set from the CLI: the CLI running it killed; a server resumes it, each account emailed once', async () => {
      const accounts = Array.from({ length: 500 }, (_, i) => `m${String(i).padStart(3, '0')}@bulk.example`);
      await importUsers(services, Readable.from([Buffer.from(`email\n${accounts.join('\n')}\n`)]));

      const cli = spawn(process.execPath, ['bin/latchkey.js', 'password:set', '--rate', '50'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH, NODE_ENV: 'test', LOG_LEVEL: 'silent', SMTP_URL: smtp.url, ...FAST_LEASES,
          MONGODB_URI: uriFor(databaseServerUri(), database.name), DATA_DIR: mkdtempSync(join(testRoot, 'jobs-cli-')),
        },
      });
      const cliExited = new Promise((r) => cli.once('exit', (code, signal) => r(code ?? signal)));
      const jobs = services.db.collection<MailJob>(MAIL_JOBS);
      // The CLI queues the job and runs it itself (no server yet).
      const running = (await waitFor('the CLI to send', async () => jobs.findOne({}), (j) => Boolean(j && j.mail.done >= 20), 60_000))!;
      expect(pidOf(running.owner)).to.equal(cli.pid);
      // A server joins; the CLI dies mid-run.
      const server = await start();
      await server.ready();
      await waitFor('more progress', async () => (await jobs.findOne({ _id: running._id }))!, (j) => j.mail.done >= 150, 60_000);
      cli.kill('SIGKILL');
      expect(await cliExited).to.equal('SIGKILL');

      const done = await waitFor('the job to finish', async () => (await jobs.findOne({ _id: running._id }))!, (j) => j.status !== 'running', 120_000, 200);
      expect(done.status, done.error ?? '').to.equal('done');
      expect(done.attempts, 'claimed again after the death').to.equal(2);
      await sleep(500);
      expect(done.mail).to.include({ total: 500, done: 500, skipped: 0 });
      expect(done.mail.sent + done.mail.uncertain).to.equal(500);
      expect(done.mail.uncertain).to.be.at.most(4);
      expectEachAtMostOnce(smtp.messages, accounts, done.mail);
    });

    it('Ctrl-C on password:set cancels the job after the batch in flight', async () => {
      const accounts = Array.from({ length: 200 }, (_, i) => `c${String(i).padStart(3, '0')}@cancel.example`);
      await importUsers(services, Readable.from([Buffer.from(`email\n${accounts.join('\n')}\n`)]));
      const cli = spawn(process.execPath, ['bin/latchkey.js', 'password:set', '--rate', '20'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH, NODE_ENV: 'test', LOG_LEVEL: 'silent', SMTP_URL: smtp.url, ...FAST_LEASES,
          MONGODB_URI: uriFor(databaseServerUri(), database.name), DATA_DIR: mkdtempSync(join(testRoot, 'jobs-cli-')),
        },
      });
      let stdout = '';
      let stderr = '';
      cli.stdout.on('data', (c: Buffer) => (stdout += c));
      cli.stderr.on('data', (c: Buffer) => (stderr += c));
      const exited = new Promise((r) => cli.once('exit', (code) => r(code)));
      const jobs = services.db.collection<MailJob>(MAIL_JOBS);
      await waitFor('sending', async () => jobs.findOne({}), (j) => Boolean(j && j.mail.done >= 12), 60_000);
      cli.kill('SIGINT');
      expect(await exited).to.equal(1);
      const job = (await jobs.findOne({}))!;
      expect(job.status).to.equal('failed');
      expect(job.error).to.equal('cancelled from the command line');
      expect(job.mail.inFlight).to.equal(null);
      expect(job.mail.done).to.be.below(200);
      expect(stderr).to.match(/latchkey: job [0-9a-f-]+ stopped after \d+ of 200: cancelled from the command line/);
      await sleep(1_000);
      expect(smtp.messages).to.have.length(job.mail.sent);
      const counts = perRecipient(smtp.messages);
      expect([...counts.values()].every((n) => n === 1)).to.equal(true);
      expect([...counts.keys()].every((email) => accounts.includes(email))).to.equal(true);
      expect(stdout).to.equal(`${job.mail.sent} sent, 0 skipped (a link is still valid), of 200\n`);
    });

    it('a graceful stop (SIGTERM) hands the job over at once, with nothing uncertain', async () => {
      const accounts = Array.from({ length: 300 }, (_, i) => `g${String(i).padStart(3, '0')}@graceful.example`);
      await importUsers(services, Readable.from([Buffer.from(`email\n${accounts.join('\n')}\n`)]));
      // A lease far longer than the test's patience: only a release explains a quick takeover.
      const slow = { JOB_LEASE_MS: '60000', JOB_HEARTBEAT_MS: '5000', JOB_POLL_MS: '300' };
      const servers = await Promise.all([start(slow), start(slow)]);
      await Promise.all(servers.map((s) => s.ready()));
      const { id } = await enqueueBulkMail(services, 'invite', { all: true }, { ratePerSecond: 60, context: { actor: 'test' } });
      const jobs = services.db.collection<MailJob>(MAIL_JOBS);
      const read = async () => (await jobs.findOne({ _id: id }))!;
      const running = await waitFor('sending', read, (j) => j.mail.done >= 40 && j.owner !== null, 60_000);
      const holder = byPid(pidOf(running.owner))!;
      const stoppedAt = Date.now();
      expect(await holder.kill('SIGTERM')).to.equal(0);
      const taken = await waitFor('another instance to take it', read, (j) => j.status !== 'running' || (j.owner !== null && pidOf(j.owner) !== holder.child.pid), 20_000);
      expect(Date.now() - stoppedAt, 'taken over long before the 60 s lease').to.be.below(10_000);
      expect(taken.attempts, 'a release is not a failed attempt').to.equal(1);
      const done = await waitFor('the job to finish', read, (j) => j.status !== 'running', 60_000, 200);
      expect(done.status).to.equal('done');
      await sleep(300);
      expect(done.mail).to.include({ total: 300, done: 300, sent: 300, uncertain: 0 });
      expectEachAtMostOnce(smtp.messages, accounts, done.mail);
      expect(smtp.messages).to.have.length(300);
    });
  });
});

export type { User };
