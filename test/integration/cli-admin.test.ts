// The operator's account-management commands (src/cli/admin.ts), run as operators
// run them: `bin/latchkey.js` in a child process against a fresh database, checked
// by exit code, output, what the database then holds and what a real SMTP server got.
import { Secret, TOTP } from 'otpauth';
import { confirmTotpEnrolment, startTotpEnrolment, TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { expect } from 'chai';
import argon2 from 'argon2';
import { createServices, prepareDatabase, type Services } from '../../src/deps.ts';
import { createLogger } from '../../src/log.ts';
import { createUser, searchTermsFor } from '../../src/accounts/users.ts';
import { accountSubject } from '../../src/accounts/lockout.ts';
import { authenticate } from '../../src/accounts/signin.ts';
import type { User } from '../../src/db/models/user.ts';
import type { AuditRecord } from '../../src/db/models/audit.ts';
import type { LockoutState } from '../../src/db/models/lockout.ts';
import { freshDatabase, testConfig, type TestDatabase } from '../helpers/server.ts';
import { startSmtp, type TestSmtp } from '../helpers/smtp.ts';
import { cliEnvironment, runCli, type Run } from '../helpers/cli.ts';

const DAY = 24 * 60 * 60_000;



describe('CLI admin', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let env: NodeJS.ProcessEnv;
  let services: Services;
  let stopSweep: () => void;
  const ids: Record<string, string> = {};

  function latchkey(args: string[], options: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
    return runCli(args, { ...env, ...options.env }, options.stdin);
  }

  /** A refusal: exit 1, a `latchkey: ` message on stderr matching `pattern`, nothing on stdout. */
  function expectRefused(run: Run, pattern: RegExp): void {
    expect(run.code, run.stderr).to.equal(1);
    expect(run.stderr).to.match(/^latchkey: /);
    expect(run.stderr).to.match(pattern);
    expect(run.stdout).to.equal('');
  }

  const users = () => database.connection.collection<User>('users');
  const sessions = () => database.connection.collection('oidc_session');
  const grants = () => database.connection.collection('oidc_grant');
  const accessTokens = () => database.connection.collection('oidc_access_token');
  const links = () => database.connection.collection('links');
  const audits = () => database.connection.collection<AuditRecord>('audit_events');
  const lockouts = () => database.connection.collection<LockoutState>('lockouts');
  const user = async (email: string) => (await users().findOne({ emailNormalized: email }))!;

  /** A session, a grant and an access token of the account, as the provider stores them. */
  async function signedInSomewhere(accountId: string, clientId = 'shop'): Promise<void> {
    const expiresAt = new Date(Date.now() + DAY);
    const tag = `${accountId}-${clientId}-${Math.random().toString(36).slice(2)}`;
    await sessions().insertOne({ _id: `session-${tag}` as never, payload: { accountId, uid: `uid-${tag}`, kind: 'Session' }, expiresAt });
    await grants().insertOne({ _id: `grant-${tag}` as never, payload: { accountId, clientId, kind: 'Grant', iat: Math.floor(Date.now() / 1000), openid: { scope: 'openid email profile' } }, expiresAt });
    await accessTokens().insertOne({ _id: `at-${tag}` as never, payload: { accountId, grantId: `grant-${tag}`, clientId, kind: 'AccessToken' }, expiresAt });
  }

  const access = async (accountId: string) => ({
    sessions: await sessions().countDocuments({ 'payload.accountId': accountId }),
    grants: await grants().countDocuments({ 'payload.accountId': accountId }),
    tokens: await accessTokens().countDocuments({ 'payload.accountId': accountId }),
  });

  before(async () => {
    database = await freshDatabase();
    env = cliEnvironment(database.name);
    services = createServices(testConfig(), createLogger('silent'), database.connection);
    stopSweep = await prepareDatabase(services);

    const create = async (email: string, name: string, password?: string) => (ids[email] = (await createUser(services, { email, name, password }))._id);
    await create('ada@example.com', 'Ada Lovelace', 'analytical engine 1843');
    await create('grace@example.com', 'Grace Hopper', 'compiler cobol moth 1947');
    await create('locked@example.com', 'Locked Out', 'many wrong guesses 42');
    await create('temp@example.com', 'Temp Orary', 'handed over the desk 7');
    await create('invited@example.com', 'Invited Person');
    await create('disabled@example.com', 'Dis Abled', 'not allowed in now 9');
    await users().updateOne({ _id: ids['ada@example.com']! }, { $set: { roles: ['admin'], groups: ['staff', 'engineering'], notes: 'founder' } });
    await users().updateOne({ _id: ids['temp@example.com']! }, { $set: { mustChangePassword: true, temporaryPasswordExpiresAt: new Date(Date.now() + DAY) } });
    await users().updateOne({ _id: ids['invited@example.com']! }, { $set: { status: 'invited' } });
    await users().updateOne({ _id: ids['disabled@example.com']! }, { $set: { status: 'disabled' } });
    const lockedId = ids['locked@example.com']!;
    await lockouts().insertOne({
      _id: accountSubject(lockedId), failures: 5, totalFailures: 7, lockedUntil: new Date(Date.now() + 10 * 60_000), lockCount: 1,
      userId: lockedId, windowStartedAt: new Date(), expiresAt: new Date(Date.now() + DAY),
    } as never);
    // Thirty more for paging, under their own domain.
    await users().insertMany(Array.from({ length: 30 }, (_, i) => {
      const email = `member-${String(i + 1).padStart(2, '0')}@club.example.org`;
      return {
        _id: `member-${i + 1}`, email, emailNormalized: email, name: `Member ${i + 1}`, status: 'invited', passwordHash: null,
        roles: [], groups: ['club'], searchTerms: searchTermsFor(email, `Member ${i + 1}`), mustChangePassword: false,
      } as never;
    }));
  });

  after(async () => {
    stopSweep();
    await database.drop();
  });

  describe('user:find', () => {
    it('lists matching accounts as a table with status, flags and groups, and the page', async () => {
      const [byName, locked, mustChange, all] = await Promise.all([
        latchkey(['user:find', '--query', 'lovelace']),
        latchkey(['user:find', '--status', 'locked']),
        latchkey(['user:find', '--status', 'must_change']),
        latchkey(['user:find', '--query', 'example.com']),
      ]);
      for (const run of [byName, locked, mustChange, all]) expect(run.code, run.stderr).to.equal(0);
      const lines = byName.stdout.trimEnd().split('\n');
      expect(lines[0]).to.match(/^email\s+name\s+status\s+flags\s+groups$/);
      expect(lines[1]).to.match(/^ada@example\.com\s+Ada Lovelace\s+active\s+admin\s+staff,engineering$/);
      expect(lines.at(-1)).to.equal('page 1 of 1 (1 account)');
      expect(lines).to.have.length(3);
      expect(locked.stdout).to.match(/^locked@example\.com\s+Locked Out\s+active\s+locked\s+-$/m);
      expect(locked.stdout).to.contain('page 1 of 1 (1 account)');
      expect(mustChange.stdout).to.match(/^temp@example\.com\s+Temp Orary\s+active\s+must-change\s+-$/m);
      // Every word must match: the domain finds the six accounts under example.com, not the club's.
      expect(all.stdout).to.contain('page 1 of 1 (6 accounts)');
      expect(all.stdout).to.match(/^disabled@example\.com\s+Dis Abled\s+disabled\b/m);
      expect(all.stdout).to.match(/^invited@example\.com\s+Invited Person\s+invited\b/m);
      expect(all.stdout).not.to.contain('club.example.org');
      expect(byName.stdout + all.stdout).not.to.contain('$argon2');
    });

    it('pages through the results, and --json prints the result object', async () => {
      const [text, asJson, past, none] = await Promise.all([
        latchkey(['user:find', '--query', 'club', '--page', '2', '--page-size', '12']),
        latchkey(['user:find', '--query', 'club', '--status', 'invited', '--page', '3', '--page-size', '12', '--json']),
        latchkey(['user:find', '--query', 'club', '--page', '9', '--page-size', '12']),
        latchkey(['user:find', '--query', 'nobody-by-this-name']),
      ]);
      for (const run of [text, asJson, past, none]) expect(run.code, run.stderr).to.equal(0);
      const rows = text.stdout.trimEnd().split('\n');
      expect(rows).to.have.length(14); // header, 12 accounts, page line
      expect(rows[1]).to.match(/^member-13@club\.example\.org\s+Member 13\s+invited\s+-\s+club$/);
      expect(rows.at(-1)).to.equal('page 2 of 3 (30 accounts)');

      const result = JSON.parse(asJson.stdout) as { items: Array<Record<string, unknown>>; total: number; page: number; pageSize: number };
      expect(result).to.include({ total: 30, page: 3, pageSize: 12 });
      expect(result.items.map((a) => a.email)).to.deep.equal(Array.from({ length: 6 }, (_, i) => `member-${25 + i}@club.example.org`));
      expect(result.items[0]).to.include({ id: 'member-25', name: 'Member 25', status: 'invited', mustChangePassword: false, locked: false });
      expect(result.items[0]).not.to.have.property('passwordHash');

      expect(past.stdout).to.equal('no accounts on this page\npage 9 of 3 (30 accounts)\n');
      expect(none.stdout).to.equal('no accounts match\npage 1 of 1 (0 accounts)\n');
    });

    it('refuses an unknown status and page numbers out of range', async () => {
      const runs = await Promise.all([
        latchkey(['user:find', '--status', 'sleeping']),
        latchkey(['user:find', '--page', '0']),
        latchkey(['user:find', '--page', 'two']),
        latchkey(['user:find', '--page-size', '201']),
        latchkey(['user:find', '--query', 'x'.repeat(101)]),
      ]);
      const [status, zero, word, big, long] = runs;
      expectRefused(status!, /argument 'sleeping' is invalid\. Allowed choices are active, invited, unverified, must_change, locked, disabled/);
      expectRefused(zero!, /option '--page <n>' argument '0' is invalid\. Must be a whole number from 1 to 10000/);
      expectRefused(word!, /option '--page <n>' argument 'two' is invalid/);
      expectRefused(big!, /option '--page-size <n>' argument '201' is invalid\. Must be a whole number from 1 to 200/);
      expectRefused(long!, /--query is longer than 100 characters/);
    });
  });

  describe('user:show', () => {
    it('shows profile, status, roles, groups, notes, password state, apps and the last 20 audit events, never the hash', async () => {
      const adaId = ids['ada@example.com']!;
      const now = Date.now();
      await audits().insertMany(Array.from({ length: 25 }, (_, i) => ({
        _id: `seeded-${i}`, at: new Date(now - i * 60_000), event: 'signin.succeeded', userId: adaId, actor: 'self',
        ip: '192.0.2.7', userAgent: null, details: { n: i }, expiresAt: new Date(now + DAY),
      })));
      await signedInSomewhere(adaId, 'shop');

      const [text, asJson] = await Promise.all([
        latchkey(['user:show', '--email', 'ADA@example.com']),
        latchkey(['user:show', '--email', 'ada@example.com', '--json']),
      ]);
      expect(text.code, text.stderr).to.equal(0);
      expect(text.stdout).to.match(/^id:\s+[\w-]{36}$/m);
      expect(text.stdout).to.match(/^email:\s+ada@example\.com \(not verified\)$/m);
      expect(text.stdout).to.match(/^name:\s+Ada Lovelace$/m);
      expect(text.stdout).to.match(/^status:\s+active$/m);
      expect(text.stdout).to.match(/^roles:\s+admin$/m);
      expect(text.stdout).to.match(/^groups:\s+staff, engineering$/m);
      expect(text.stdout).to.match(/^password:\s+set$/m);
      expect(text.stdout).to.match(/^failed sign-ins:\s+0$/m);
      expect(text.stdout).to.match(/^locked:\s+no$/m);
      expect(text.stdout).to.match(/^notes:\s+founder$/m);
      expect(text.stdout).to.match(/^connected apps \(1\):\n.*\n\s+shop\s+openid email profile\s+\d{4}-/m);
      expect(text.stdout).to.contain('recent activity (last 20 events):');
      expect(text.stdout.match(/signin\.succeeded\s+self\s+ada@example\.com\s+192\.0\.2\.7\s+n=\d+/g)).to.have.length(20);
      expect(text.stdout).to.contain('n=19');
      expect(text.stdout).not.to.contain('n=20');

      expect(asJson.code, asJson.stderr).to.equal(0);
      const account = JSON.parse(asJson.stdout) as Record<string, unknown> & { audit: AuditRecord[]; apps: Array<{ clientId: string }> };
      expect(account).to.include({ id: adaId, email: 'ada@example.com', name: 'Ada Lovelace', status: 'active', hasPassword: true, notes: 'founder', locked: false, lockout: null });
      expect(account.roles).to.deep.equal(['admin']);
      expect(account.groups).to.deep.equal(['staff', 'engineering']);
      expect(account.apps.map((a) => a.clientId)).to.deep.equal(['shop']);
      expect(account.audit.map((r) => r.details.n)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
      for (const run of [text, asJson]) {
        expect(run.stdout).not.to.contain('$argon2');
        expect(run.stdout).not.to.contain('passwordHash');
      }
    });

    it('shows a lock, a temporary password and an account without a password; escape sequences are not passed to the terminal', async () => {
      // Notes over two lines, with an escape sequence that would retitle the operator's terminal.
      await users().updateOne({ _id: ids['temp@example.com']! }, { $set: { notes: 'first \u001b]0;owned\u0007line\nsecond line' } });
      const [locked, temp, invited] = await Promise.all([
        latchkey(['user:show', '--email', 'locked@example.com']),
        latchkey(['user:show', '--email', 'temp@example.com']),
        latchkey(['user:show', '--email', 'invited@example.com']),
      ]);
      for (const run of [locked, temp, invited]) expect(run.code, run.stderr).to.equal(0);
      expect(locked.stdout).to.match(/^failed sign-ins:\s+7 since the last success \(5 in the current window\)$/m);
      expect(locked.stdout).to.match(/^locked:\s+until \d{4}-\d\d-\d\dT[\d:.]+Z \(lock number 1\)$/m);
      expect(temp.stdout).to.match(/^password:\s+set; temporary: must be changed at the next sign-in$/m);
      expect(temp.stdout).to.contain(`notes:             first  ]0;owned line\n${' '.repeat(19)}second line\n`);
      expect(temp.stdout).not.to.match(/[\u0000-\u0009\u000b-\u001f]/);
      expect(invited.stdout).to.match(/^password:\s+not set$/m);
      expect(invited.stdout).to.match(/^status:\s+invited$/m);
      expect(invited.stdout).to.match(/^connected apps \(0\):\n  none$/m);
    });

    it('refuses an unknown email', async () => {
      const [unknown, missing] = await Promise.all([
        latchkey(['user:show', '--email', 'nobody@example.com']),
        latchkey(['user:show']),
      ]);
      expectRefused(unknown, /^latchkey: no account with email nobody@example\.com\n$/);
      expectRefused(missing, /required option '--email <email>' not specified/);
    });
  });

  describe('user:edit', () => {
    it('changes name, groups and notes, keeps search working and records who did it', async () => {
      const id = ids['grace@example.com']!;
      const run = await latchkey(['user:edit', '--email', 'grace@example.com', '--name', 'Rear Admiral Hopper', '--groups', 'navy, engineering,navy', '--notes', 'line one\nline two']);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.equal('updated grace@example.com: name, notes, groups\n');
      const stored = await user('grace@example.com');
      expect(stored).to.include({ name: 'Rear Admiral Hopper', notes: 'line one\nline two' });
      expect(stored.groups).to.deep.equal(['navy', 'engineering']);
      // Searchable by the new name (user:find matches these terms).
      expect(stored.searchTerms).to.include.members(['rear', 'admiral', 'hopper', 'grace']);
      const audit = await audits().findOne({ userId: id, event: 'account.updated' });
      expect(audit).to.include({ actor: 'cli' });
      expect(audit!.details.fields).to.equal('name,notes,groups');

      const cleared = await latchkey(['user:edit', '--email', 'grace@example.com', '--groups', '']);
      expect(cleared.code, cleared.stderr).to.equal(0);
      expect((await user('grace@example.com')).groups).to.deep.equal([]);
      expect((await user('grace@example.com')).name).to.equal('Rear Admiral Hopper');
    });

    it('refuses bad values and changes nothing', async () => {
      const before = await user('ada@example.com');
      const [nothing, invalid, unknown] = await Promise.all([
        latchkey(['user:edit', '--email', 'ada@example.com']),
        latchkey(['user:edit', '--email', 'ada@example.com', '--groups', 'staff,=cmd()', '--name', 'x'.repeat(201), '--notes', 'n'.repeat(2001)]),
        latchkey(['user:edit', '--email', 'nobody@example.com', '--name', 'Nobody']),
      ]);
      expectRefused(nothing, /give --name, --groups or --notes/);
      // Every field's problem at once.
      expectRefused(invalid, /--name: .*200.*; --notes: .*2000.*; --groups: Group names use letters, digits, spaces and/);
      expectRefused(unknown, /no account with email nobody@example\.com/);
      const after = await user('ada@example.com');
      expect(after).to.deep.equal(before);
    });
  });

  describe('user:disable and user:enable', () => {
    it('disabling ends sessions, grants and links and refuses sign-in; enabling restores the account', async () => {
      const id = ids['grace@example.com']!;
      const otherId = ids['ada@example.com']!;
      await signedInSomewhere(id, 'shop');
      await signedInSomewhere(id, 'wiki');
      await services.links.issue(id, 'reset');
      const othersBefore = await access(otherId);
      expect(await access(id)).to.deep.equal({ sessions: 2, grants: 2, tokens: 2 });

      const disabled = await latchkey(['user:disable', '--email', 'Grace@Example.com']);
      expect(disabled.code, disabled.stderr).to.equal(0);
      expect(disabled.stdout).to.equal('disabled grace@example.com: it cannot sign in, and its sessions, tokens and links have ended\n');
      expect((await user('grace@example.com')).status).to.equal('disabled');
      expect(await access(id)).to.deep.equal({ sessions: 0, grants: 0, tokens: 0 });
      expect(await access(otherId), 'other accounts keep theirs').to.deep.equal(othersBefore);
      expect(await links().countDocuments({ userId: id, usedAt: null })).to.equal(0);
      expect(await services.links.hasValid(id, 'reset')).to.equal(false);
      const refused = await authenticate(services.signInDeps, { email: 'grace@example.com', password: 'compiler cobol moth 1947' });
      expect(refused).to.deep.include({ ok: false, reason: 'disabled' });
      expect(await audits().countDocuments({ userId: id, event: 'account.disabled', actor: 'cli' })).to.equal(1);

      const again = await latchkey(['user:disable', '--email', 'grace@example.com']);
      expect(again.code, again.stderr).to.equal(0);
      expect(again.stdout).to.match(/^grace@example\.com was already disabled/);

      const enabled = await latchkey(['user:enable', '--email', 'grace@example.com']);
      expect(enabled.code, enabled.stderr).to.equal(0);
      expect(enabled.stdout).to.equal('enabled grace@example.com: status active\n');
      expect((await user('grace@example.com')).status).to.equal('active');
      const signedIn = await authenticate(services.signInDeps, { email: 'grace@example.com', password: 'compiler cobol moth 1947' });
      expect(signedIn.ok).to.equal(true);
      expect(await audits().countDocuments({ userId: id, event: 'account.enabled', actor: 'cli' })).to.equal(1);

      const notDisabled = await latchkey(['user:enable', '--email', 'grace@example.com']);
      expect(notDisabled.code, notDisabled.stderr).to.equal(0);
      expect(notDisabled.stdout).to.equal('grace@example.com is not disabled (status active): nothing changed\n');
      expect(await audits().countDocuments({ userId: id, event: 'account.enabled' })).to.equal(1);
    });

    it('an account without a password goes back to invited, and unknown emails are refused', async () => {
      const disabled = await latchkey(['user:disable', '--email', 'invited@example.com']);
      expect(disabled.code, disabled.stderr).to.equal(0);
      expect((await user('invited@example.com')).status).to.equal('disabled');
      const [enabled, unknownDisable, unknownEnable] = await Promise.all([
        latchkey(['user:enable', '--email', 'invited@example.com']),
        latchkey(['user:disable', '--email', 'nobody@example.com']),
        latchkey(['user:enable']),
      ]);
      expect(enabled.code, enabled.stderr).to.equal(0);
      expect(enabled.stdout).to.equal('enabled invited@example.com: status invited\n');
      expect((await user('invited@example.com')).status).to.equal('invited');
      expectRefused(unknownDisable, /no account with email nobody@example\.com/);
      expectRefused(unknownEnable, /required option '--email <email>' not specified/);
    });
  });

  describe('user:temp-password', () => {
    it('sets a temporary password from stdin: must change, expires, old password and sessions end', async () => {
      const id = ids['locked@example.com']!;
      await signedInSomewhere(id);
      const before = await user('locked@example.com');
      const password = 'desk handover 2026 blue';
      const run = await latchkey(['user:temp-password', '--email', 'locked@example.com', '--password-stdin'], { stdin: `${password}\n` });
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/^set a temporary password for locked@example\.com: it must be changed at the next sign-in and expires \d{4}-/);
      expect(run.stdout + run.stderr).not.to.contain(password);

      const stored = await user('locked@example.com');
      expect(stored.passwordHash).to.match(/^\$argon2id\$/).and.not.equal(before.passwordHash);
      expect(await argon2.verify(stored.passwordHash!, password)).to.equal(true);
      expect(stored.mustChangePassword).to.equal(true);
      expect(stored.temporaryPasswordExpiresAt!.getTime()).to.be.closeTo(Date.now() + 7 * DAY, 60_000);
      expect(await access(id)).to.deep.equal({ sessions: 0, grants: 0, tokens: 0 });
      expect(await lockouts().countDocuments({ _id: accountSubject(id) }), 'the lockout is cleared').to.equal(0);
      expect(await audits().countDocuments({ userId: id, event: 'password.temporary_set', actor: 'cli' })).to.equal(1);
      const signIn = await authenticate(services.signInDeps, { email: 'locked@example.com', password });
      expect(signIn).to.deep.include({ ok: true, mustChangePassword: true });
      const old = await authenticate(services.signInDeps, { email: 'locked@example.com', password: 'many wrong guesses 42' });
      expect(old.ok).to.equal(false);
    });

    it('refuses a password the policy refuses, listing why, and changes nothing', async () => {
      const before = await user('ada@example.com');
      const [weak, personal] = await Promise.all([
        latchkey(['user:temp-password', '--email', 'ada@example.com', '--password', 'password']),
        latchkey(['user:temp-password', '--email', 'ada@example.com', '--password-stdin'], { stdin: 'lovelace lovelace\n' }),
      ]);
      for (const run of [weak, personal]) {
        expectRefused(run, /^latchkey: the password was refused:\n  - /);
      }
      expect(weak.stderr).to.match(/common/i);
      expect(personal.stderr).to.match(/name/i);
      expect(await user('ada@example.com')).to.deep.equal(before);
      expect(await audits().countDocuments({ userId: before._id, event: 'password.temporary_set' })).to.equal(0);
    });

    it('needs exactly one way of giving the password, and a known email', async () => {
      const [none, both, empty, multiline, unknown] = await Promise.all([
        latchkey(['user:temp-password', '--email', 'ada@example.com']),
        latchkey(['user:temp-password', '--email', 'ada@example.com', '--password', 'some long password 1', '--password-stdin']),
        latchkey(['user:temp-password', '--email', 'ada@example.com', '--password-stdin'], { stdin: '' }),
        latchkey(['user:temp-password', '--email', 'ada@example.com', '--password-stdin'], { stdin: 'line one 123\nline two 456\n' }),
        latchkey(['user:temp-password', '--email', 'nobody@example.com', '--password', 'desk handover 2026 blue']),
      ]);
      expectRefused(none, /give --password or --password-stdin/);
      expectRefused(both, /--password .*cannot be used with.*--password-stdin/);
      expectRefused(empty, /no password on stdin/);
      expectRefused(multiline, /must be a single line/);
      expectRefused(unknown, /no account with email nobody@example\.com/);
    });
  });

  describe('user:send-reset', () => {
    let smtp: TestSmtp;
    before(async () => {
      smtp = await startSmtp();
    });
    after(async () => {
      await smtp.close();
    });
    const to = (address: string) => smtp.messages.filter((m) => (m.to as { text: string }).text.includes(address));

    it('emails a reset link to an account with a password, and the invitation again to one without', async () => {
      const mailEnv = { SMTP_URL: smtp.url };
      const [reset, invite] = await Promise.all([
        latchkey(['user:send-reset', '--email', 'ada@example.com'], { env: mailEnv }),
        latchkey(['user:send-reset', '--email', 'invited@example.com'], { env: mailEnv }),
      ]);
      expect(reset.code, reset.stderr).to.equal(0);
      expect(reset.stdout).to.equal('sent a password-reset link to ada@example.com\n');
      expect(invite.code, invite.stderr).to.equal(0);
      expect(invite.stdout).to.equal('invited@example.com has not chosen a password yet: sent a new invitation (a link to choose one)\n');
      // Delivered before the command exited.
      expect(to('ada@example.com')).to.have.length(1);
      expect(to('invited@example.com')).to.have.length(1);
      expect(smtp.linkIn(to('ada@example.com')[0]!)).to.match(/\/password\/reset\?token=[\w-]{43}$/);
      expect(smtp.linkIn(to('invited@example.com')[0]!)).to.match(/\/password\/set\?token=[\w-]{43}$/);
      expect(reset.stdout + invite.stdout).not.to.contain('token=');
      expect(await services.links.hasValid(ids['ada@example.com']!, 'reset')).to.equal(true);
      expect(await services.links.hasValid(ids['invited@example.com']!, 'invite')).to.equal(true);
      expect(await audits().countDocuments({ userId: ids['ada@example.com']!, event: 'password.reset_requested', actor: 'cli' })).to.equal(1);
      expect(await audits().countDocuments({ userId: ids['invited@example.com']!, event: 'invite.sent', actor: 'cli' })).to.equal(1);
    });

    it('refuses a disabled account and an unknown email, sending nothing', async () => {
      const count = smtp.messages.length;
      const [disabled, unknown] = await Promise.all([
        latchkey(['user:send-reset', '--email', 'disabled@example.com'], { env: { SMTP_URL: smtp.url } }),
        latchkey(['user:send-reset', '--email', 'nobody@example.com'], { env: { SMTP_URL: smtp.url } }),
      ]);
      expectRefused(disabled, /^latchkey: Enable the account first\.\n$/);
      expectRefused(unknown, /no account with email nobody@example\.com/);
      expect(smtp.messages.length).to.equal(count);
      expect(await links().countDocuments({ userId: ids['disabled@example.com']! })).to.equal(0);
    });
  });

  describe('user:revoke', () => {
    it('deletes the account\'s sessions and grants (and their tokens), and no one else\'s', async () => {
      const id = ids['temp@example.com']!;
      const otherId = ids['ada@example.com']!;
      await signedInSomewhere(id, 'shop');
      await signedInSomewhere(id, 'wiki');
      const others = await access(otherId);
      expect(others.sessions).to.be.greaterThan(0);

      const run = await latchkey(['user:revoke', '--email', 'temp@example.com']);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.equal('revoked temp@example.com: 2 session(s) and 2 grant(s) ended\n');
      expect(await sessions().countDocuments({ 'payload.accountId': id })).to.equal(0);
      expect(await grants().countDocuments({ 'payload.accountId': id })).to.equal(0);
      expect(await accessTokens().countDocuments({ 'payload.accountId': id })).to.equal(0);
      expect(await access(otherId)).to.deep.equal(others);
      expect(await audits().countDocuments({ userId: id, event: 'signout.everywhere', actor: 'cli' })).to.equal(1);

      const unknown = await latchkey(['user:revoke', '--email', 'nobody@example.com']);
      expectRefused(unknown, /no account with email nobody@example\.com/);
    });
  });

  describe('user:reset-factors', () => {
    it('shows second factors in user:show without secrets, and removes them all', async () => {
      const id = ids['grace@example.com']!;
      const enrolment = await startTotpEnrolment(services.factors, id, { issuer: 'Latchkey', account: 'grace@example.com' });
      const code = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) }).generate({ timestamp: Date.now() - 30_000 });
      expect((await confirmTotpEnrolment(services.factors, id, enrolment.enrolmentId, code)).ok).to.equal(true);

      const shown = await latchkey(['user:show', '--email', 'grace@example.com']);
      expect(shown.code, shown.stderr).to.equal(0);
      expect(shown.stdout).to.match(/second factors \(1\):\n.*\n  authenticator app/);
      expect(shown.stdout).to.not.contain(enrolment.secretBase32);

      const run = await latchkey(['user:reset-factors', '--email', 'grace@example.com']);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.equal('removed 1 second factor of grace@example.com\n');
      expect(await audits().countDocuments({ userId: id, event: 'factor.removed', actor: 'cli' })).to.equal(1);
      expect((await latchkey(['user:reset-factors', '--email', 'grace@example.com'])).stdout).to.equal('grace@example.com has no second factor\n');
      expectRefused(await latchkey(['user:reset-factors', '--email', 'nobody@example.com']), /no account with email nobody@example\.com/);
    });
  });

  describe('audit:list', () => {
    it('lists events newest first, by account, event and time, as a table or JSON', async () => {
      const adaId = ids['ada@example.com']!;
      const graceId = ids['grace@example.com']!;
      const base = Date.parse('2020-03-01T00:00:00Z');
      await audits().insertMany([
        { _id: 'old-1', at: new Date(base), event: 'signin.failed', userId: adaId, actor: 'self', ip: '198.51.100.1', userAgent: null, details: { reason: 'wrong_password' }, expiresAt: new Date(Date.now() + DAY) },
        { _id: 'old-2', at: new Date(base + DAY), event: 'account.locked', userId: adaId, actor: 'system', ip: null, userAgent: null, details: { lockNumber: 1 }, expiresAt: new Date(Date.now() + DAY) },
        { _id: 'old-3', at: new Date(base + 2 * DAY), event: 'signin.failed', userId: graceId, actor: 'self', ip: '198.51.100.2', userAgent: null, details: { reason: 'locked' }, expiresAt: new Date(Date.now() + DAY) },
        { _id: 'old-4', at: new Date(base + 3 * DAY), event: 'signin.failed', userId: null, actor: 'self', ip: '198.51.100.3', userAgent: null, details: { reason: 'unknown_email' }, expiresAt: new Date(Date.now() + DAY) },
      ]);
      const [byAccount, byEvent, range, limited, cliOnly] = await Promise.all([
        latchkey(['audit:list', '--email', 'ada@example.com', '--until', '2020-12-31', '--json']),
        latchkey(['audit:list', '--event', 'signin.failed,account.locked', '--until', '2021-01-01']),
        latchkey(['audit:list', '--since', '2020-03-02', '--until', '2020-03-03T12:00:00Z', '--json']),
        latchkey(['audit:list', '--email', 'ada@example.com', '--limit', '3']),
        latchkey(['audit:list', '--event', 'account.disabled']),
      ]);
      for (const run of [byAccount, byEvent, range, limited, cliOnly]) expect(run.code, run.stderr).to.equal(0);

      const mine = JSON.parse(byAccount.stdout) as Array<AuditRecord & { email: string }>;
      expect(mine.map((r) => r._id)).to.deep.equal(['old-2', 'old-1']);
      expect(mine[1]).to.include({ event: 'signin.failed', actor: 'self', ip: '198.51.100.1', email: 'ada@example.com' });

      const lines = byEvent.stdout.trimEnd().split('\n');
      expect(lines[0]).to.match(/^time\s+event\s+actor\s+account\s+ip\s+details$/);
      expect(lines.slice(1, -1)).to.have.length(4);
      expect(lines[1]).to.match(/^2020-03-04T00:00:00\.000Z\s+signin\.failed\s+self\s+-\s+198\.51\.100\.3\s+reason=unknown_email$/);
      expect(lines[2]).to.match(/^2020-03-03T00:00:00\.000Z\s+signin\.failed\s+self\s+grace@example\.com\s+198\.51\.100\.2\s+reason=locked$/);
      expect(lines[3]).to.match(/^2020-03-02T00:00:00\.000Z\s+account\.locked\s+system\s+ada@example\.com\s+-\s+lockNumber=1$/);
      expect(lines.at(-1)).to.equal('4 events');

      expect((JSON.parse(range.stdout) as AuditRecord[]).map((r) => r._id)).to.deep.equal(['old-3', 'old-2']);

      const limitedLines = limited.stdout.trimEnd().split('\n');
      expect(limitedLines).to.have.length(5);
      expect(limitedLines.at(-1)).to.equal('3 events (the newest 3; --limit for more)');
      expect(limitedLines.slice(1, 4).every((l) => /\sada@example\.com\s/.test(l))).to.equal(true);

      // The commands earlier in this file left their trail, as `cli`.
      expect(cliOnly.stdout).to.match(/account\.disabled\s+cli\s+grace@example\.com/);
      expect(cliOnly.stdout).to.match(/account\.disabled\s+cli\s+invited@example\.com/);
    });

    it('refuses unknown events, bad dates, an empty range, a bad limit and an unknown email', async () => {
      const [event, since, range, limit, unknown] = await Promise.all([
        latchkey(['audit:list', '--event', 'signin.failed,coffee.made']),
        latchkey(['audit:list', '--since', 'yesterday']),
        latchkey(['audit:list', '--since', '2020-03-02', '--until', '2020-03-01']),
        latchkey(['audit:list', '--limit', '501']),
        latchkey(['audit:list', '--email', 'nobody@example.com']),
      ]);
      expectRefused(event, /--event: unknown event coffee\.made; known: signin\.succeeded/);
      expectRefused(since, /option '--since <iso>' argument 'yesterday' is invalid\. Must be an ISO 8601 date/);
      expectRefused(range, /--since must be before --until/);
      expectRefused(limit, /option '--limit <n>' argument '501' is invalid/);
      expectRefused(unknown, /no account with email nobody@example\.com/);
    });
  });

  describe('--help', () => {
    it('describes every account command with an example', async () => {
      const commands = ['user:find', 'user:show', 'user:edit', 'user:disable', 'user:enable', 'user:temp-password', 'user:send-reset', 'audit:list'];
      const [top, ...each] = await Promise.all([latchkey(['--help']), ...commands.map((command) => latchkey([command, '--help']))]);
      expect(top!.code).to.equal(0);
      for (const command of commands) expect(top!.stdout).to.contain(command);
      each.forEach((run, i) => {
        expect(run.code, commands[i]).to.equal(0);
        expect(run.stdout).to.contain(`Usage: latchkey ${commands[i]}`);
        expect(run.stdout).to.match(new RegExp(`Examples?:\\n  \\$ .*latchkey ${commands[i]}`));
      });
    });
  });
});
