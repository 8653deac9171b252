// The admin console at /admin, end to end: sign-in through the portal, admins
// only, the account list with search and status filters, creating accounts,
// every action of the account page (seen from live relying parties), the audit
// trail, CSV imports as jobs with their report, and bad input on every POST.
// Real server, real database, real SMTP server, openid-client as the apps.
import { Secret, TOTP } from 'otpauth';
import { confirmTotpEnrolment, startTotpEnrolment, TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { ParsedMail } from 'mailparser';
import { createUser } from '../../src/accounts/users.ts';
import { authenticate } from '../../src/accounts/signin.ts';
import { PORTAL_SESSIONS } from '../../src/accounts/revocation.ts';
import { IMPORT_JOBS, csvCell, rejectedRowsCsv } from '../../src/accounts/import-jobs.ts';
import { safeAdminReturn } from '../../src/web/admin/session.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { confidentialClient, discover, publicClient, signIn } from '../helpers/rp.ts';

const app = publicClient();
const backend = confidentialClient({ client_name: 'Test Backend' });


function expectNoInternals(page: Page) {
  expect(page.status, page.body.slice(0, 300)).to.be.within(400, 499);
  expect(page.body).to.not.match(/\bat \S+ \(|node_modules|\.ts:\d+|Error:/);
}

const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
const decode = (html: string) => html.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');

describe('admin console', function () {
  this.timeout(30_000);
  const { server, smtp } = useTestServer({ clients: [app, backend], smtp: true, policy: LENIENT_THROTTLES });
  let appConfig: oidc.Configuration;
  let backendConfig: oidc.Configuration;
  let counter = 0;
  let admin: Awaited<ReturnType<typeof newPerson>>;
  let adminAgent: Agent;

  const url = (path: string) => `${server.url}${path}`;
  const db = () => server.database.connection;

  async function newPerson(tag: string, options: { name?: string; roles?: string[]; email?: string } = {}) {
    const email = options.email ?? `${tag}-${++counter}@example.com`;
    const password = `quiet harbour lantern ${++counter}`;
    const user = await createUser(server.deps, { email, password, name: options.name ?? 'Console Person', roles: options.roles });
    return { email, password, user };
  }

  /** A browser that opens `path` (under /admin), signs in on the provider's page and comes back. */
  async function consoleAgent(email: string, password: string, path = '/admin'): Promise<{ agent: Agent; page: Page }> {
    const agent = new Agent();
    const login = await agent.follow(url(path));
    expect(login.body, 'the provider\'s sign-in page').to.contain('autocomplete="current-password"');
    const form = formOn(login.body, /\/login$/);
    const page = await agent.follow(new URL(form.action, login.url).href, { form: { ...form.fields, email, password } });
    return { agent, page };
  }

  /** GETs `page`, fills its form posting to `action` and sends it; the response itself, not followed. */
  async function post(agent: Agent, page: string, action: RegExp, fields: Record<string, string>): Promise<Page> {
    const shown = await agent.request(url(page));
    expect(shown.status, `GET ${page}`).to.equal(200);
    const form = formOn(shown.body, action);
    return agent.request(new URL(form.action, shown.url).href, { form: { ...form.fields, ...fields } });
  }

  /** An action on an account's page, then the page it leads to (with its notice). */
  async function act(agent: Agent, userId: string, action: string, fields: Record<string, string> = {}): Promise<{ response: Page; next: Page }> {
    const response = await post(agent, `/admin/accounts/${userId}`, new RegExp(`/admin/accounts/${userId}/${action}$`), fields);
    expect(response.status, response.body.slice(0, 500)).to.equal(303);
    return { response, next: await agent.request(url(response.headers.get('location')!)) };
  }

  const refreshFails = async (config: oidc.Configuration, refreshToken: string) =>
    (await oidc.refreshTokenGrant(config, refreshToken).catch((e: Error) => e)) instanceof oidc.ResponseBodyError;

  const userDoc = (id: string) => db().collection('users').findOne({ _id: id as never });

  before(async () => {
    appConfig = await discover(server.url, app);
    backendConfig = await discover(server.url, backend);
    admin = await newPerson('admin', { name: 'Ada Admin', roles: ['admin'] });
    const signedIn = await consoleAgent(admin.email, admin.password);
    expect(signedIn.page.status, signedIn.page.body.slice(0, 500)).to.equal(200);
    adminAgent = signedIn.agent;
  });

  describe('who may use it', () => {
    it('sends a visitor through the portal sign-in and back to the page asked for; the console session is the portal session', async () => {
      const first = await new Agent().request(url('/admin/audit?event=account.created'));
      expect(first.status).to.equal(302);
      expect(first.headers.get('location')).to.equal('/account/admin?return=%2Fadmin%2Faudit%3Fevent%3Daccount.created');

      const { agent, page } = await consoleAgent(admin.email, admin.password, '/admin/audit?event=account.created');
      expect(page.url).to.equal(url('/admin/audit?event=account.created'));
      expect(page.status).to.equal(200);
      expect(page.body).to.contain('<h1>Audit trail</h1>').and.contain('Signed in as');
      expect(agent.cookies.get('lk_admin')).to.equal(agent.cookies.get('lk_account'));
      expect(agent.cookies.get('lk_admin.sig')).to.be.a('string');

      // A forged (unsigned) cookie is no session; a POST without a session is a 401 that changes nothing.
      const forged = new Agent();
      forged.cookies.set('lk_admin', agent.cookies.get('lk_admin')!);
      expect((await forged.request(url('/admin'))).status).to.equal(302);
      const csrf = csrfOf(page.body);
      const stranger = new Agent();
      stranger.cookies.set('lk_csrf', agent.cookies.get('lk_csrf')!);
      stranger.cookies.set('lk_csrf.sig', agent.cookies.get('lk_csrf.sig')!);
      const refused = await stranger.request(url(`/admin/accounts/${admin.user._id}/disable`), { form: { _csrf: csrf } });
      expect(refused.status).to.equal(401);
      expect(refused.body).to.contain('Sign in again');

      // Signing out of the portal ends the console session too.
      const out = await post(agent, '/admin', /\/account\/logout$/, {});
      expect(out.status).to.equal(303);
      expect((await agent.request(url('/admin'))).status).to.equal(302);
    });

    it('returns only to same-origin paths under /admin', () => {
      expect(safeAdminReturn('/admin/accounts/x?notice=saved')).to.equal('/admin/accounts/x?notice=saved');
      expect(safeAdminReturn('/admin')).to.equal('/admin');
      for (const bad of ['https://evil.example/admin', '//evil.example/admin', '/administrator', '/admin/../account', '/admin/%2e%2e/account', '/account', ['/admin'], '/admin\n/x']) {
        expect(safeAdminReturn(bad), JSON.stringify(bad)).to.equal('/admin');
      }
    });

    it('a signed-in non-admin gets 403 on every page and every POST, and nothing changes', async () => {
      const person = await newPerson('not-admin');
      const target = await newPerson('target');
      const { agent, page } = await consoleAgent(person.email, person.password);
      expect(page.status).to.equal(403);
      expect(page.body).to.contain('Administrators only');
      const csrf = csrfOf((await agent.request(url('/account'))).body);
      await server.deps.tasks.idle();
      const snapshot = async () => ({
        users: await db().collection('users').find({}).sort({ _id: 1 }).toArray(),
        audit: await db().collection('audit_events').countDocuments(),
        jobs: await db().collection(IMPORT_JOBS).countDocuments(),
        grants: await db().collection('oidc_grant').countDocuments(),
        mail: smtp.messages.length,
      });
      const before = await snapshot();
      for (const path of ['/admin', '/admin?q=a', '/admin/accounts/new', `/admin/accounts/${target.user._id}`, '/admin/audit', '/admin/imports',
        '/admin/imports/00000000-0000-0000-0000-000000000000', '/admin/imports/00000000-0000-0000-0000-000000000000/report.csv']) {
        const shown = await agent.request(url(path));
        expect(shown.status, path).to.equal(403);
        expect(shown.body, path).to.not.contain(target.email);
      }
      const id = target.user._id;
      const posts: Array<[string, Record<string, string>]> = [
        ['/admin/accounts', { email: 'made-by-non-admin@example.com', mode: 'invite' }],
        [`/admin/accounts/${id}/edit`, { name: 'Changed', groups: 'x' }],
        [`/admin/accounts/${id}/reset`, {}],
        [`/admin/accounts/${id}/temporary-password`, { temporaryPassword: 'a temporary secret phrase 9' }],
        [`/admin/accounts/${id}/sign-out`, {}],
        [`/admin/accounts/${id}/unlock`, {}],
        [`/admin/accounts/${id}/disable`, {}],
        [`/admin/accounts/${id}/enable`, {}],
        [`/admin/accounts/${id}/admin-role`, { admin: 'grant' }],
        [`/admin/accounts/${person.user._id}/admin-role`, { admin: 'grant' }],
      ];
      for (const [path, fields] of posts) {
        const refused = await agent.request(url(path), { form: { _csrf: csrf, ...fields } });
        expect(refused.status, path).to.equal(403);
        expectNoInternals(refused);
      }
      const upload = await uploadCsv(agent, 'email\nnon-admin-upload@example.com\n', { csrf });
      expect(upload.status).to.equal(403);
      await server.deps.tasks.idle();
      expect(await snapshot()).to.deep.equal(before);
    });
  });

  describe('accounts', () => {
    it('searches by email prefix and name word, filters by status, pages, and falls back on bad query values', async () => {
      const tag = `srch${Date.now().toString(36)}`;
      const plain = await newPerson('x', { email: `${tag}-plain@search.example`, name: 'Grace Quartermaine' });
      const invited = await newPerson('x', { email: `${tag}-invited@search.example` });
      await db().collection('users').updateOne({ _id: invited.user._id as never }, { $set: { status: 'invited', passwordHash: null } });
      const mustChange = await newPerson('x', { email: `${tag}-must@search.example` });
      await db().collection('users').updateOne({ _id: mustChange.user._id as never }, { $set: { mustChangePassword: true } });
      const disabled = await newPerson('x', { email: `${tag}-disabled@search.example` });
      await db().collection('users').updateOne({ _id: disabled.user._id as never }, { $set: { status: 'disabled' } });
      const locked = await newPerson('x', { email: `${tag}-locked@search.example` });
      for (let i = 0; i < 5; i++) await authenticate(server.deps.signInDeps, { email: locked.email, password: `wrong guess ${i}` });
      await db().collection('users').updateOne({ _id: plain.user._id as never }, { $set: { groups: ['staff', 'finance'] } });

      const all = await adminAgent.request(url(`/admin?q=${tag}`));
      expect(all.status).to.equal(200);
      for (const p of [plain, invited, mustChange, disabled, locked]) expect(all.body).to.contain(p.email);
      expect(all.body).to.contain('Showing 1–5 of 5 accounts');
      expect(all.body).to.contain(`href="/admin/accounts/${plain.user._id}"`);
      expect(all.body).to.contain('staff, finance');

      const byName = await adminAgent.request(url('/admin?q=quarterm'));
      expect(byName.body).to.contain(plain.email).and.not.contain(invited.email);

      const expectOnly = async (status: string, who: typeof plain) => {
        const page = await adminAgent.request(url(`/admin?q=${tag}&status=${status}`));
        expect(page.status).to.equal(200);
        for (const p of [plain, invited, mustChange, disabled, locked]) {
          if (p === who) expect(page.body, status).to.contain(p.email);
          else expect(page.body, `${status}: ${p.email}`).to.not.contain(p.email);
        }
        expect(page.body).to.match(new RegExp(`<option value="${status}" selected`));
        return page;
      };
      await expectOnly('invited', invited);
      expect((await expectOnly('must_change', mustChange)).body).to.contain('Must change password');
      expect((await expectOnly('locked', locked)).body).to.match(/badge status-locked">Locked/);
      await expectOnly('disabled', disabled);

      // Paging: two per page.
      const first = await adminAgent.request(url(`/admin?q=${tag}&pageSize=2`));
      expect(first.body).to.contain('Page 1 of 3').and.contain(`href="/admin?q=${tag}&amp;pageSize=2&amp;page=2"`);
      const third = await adminAgent.request(url(`/admin?q=${tag}&pageSize=2&page=3`));
      expect(third.body).to.contain('Showing 5–5 of 5').and.contain('rel="prev"').and.not.contain('rel="next"');

      // Bad values fall back to their defaults, never a 500.
      for (const query of ['page=abc', 'page=-1', 'pageSize=100000', 'status=bogus', 'q[$ne]=x', 'status[$gt]=', `q=${'x'.repeat(500)}`, 'page=1&page=2', 'pageSize=1e3']) {
        const page = await adminAgent.request(url(`/admin?${query}`));
        expect(page.status, query).to.equal(200);
      }
    });

    it('creates an account with a temporary password (changed at the first sign-in, never shown again)', async () => {
      const email = `created-${++counter}@example.com`;
      const temporary = 'a temporary secret phrase 71';
      const created = await post(adminAgent, '/admin/accounts/new', /\/admin\/accounts$/, {
        email, name: 'New Person', groups: 'staff, finance ,staff', mode: 'temporary', temporaryPassword: temporary,
      });
      expect(created.status, created.body.slice(0, 500)).to.equal(303);
      const location = created.headers.get('location')!;
      expect(location).to.match(/^\/admin\/accounts\/[\w-]+\?notice=created$/);
      const shown = await adminAgent.request(url(location));
      expect(shown.body).to.contain('The account was created with a temporary password').and.contain(email);
      expect(shown.body).to.not.contain(temporary).and.not.contain('$argon2');
      expect(shown.body).to.contain('to be changed at the next sign-in');

      const user = (await server.deps.users.findOne({ emailNormalized: email }).lean())!;
      expect(user.mustChangePassword).to.equal(true);
      expect(user.groups).to.deep.equal(['staff', 'finance']);
      expect(user.name).to.equal('New Person');
      const result = await authenticate(server.deps.signInDeps, { email, password: temporary });
      expect(result.ok && result.mustChangePassword).to.equal(true);
      const audit = await server.deps.audit.list({ userId: user._id, events: ['account.created'] });
      expect(audit[0]!.actor).to.equal(`admin:${admin.user._id}`);

      // Errors beside the fields; what was typed comes back, the password never does; nothing stored.
      const weakEmail = `weak-${++counter}@example.com`;
      const weak = await post(adminAgent, '/admin/accounts/new', /\/admin\/accounts$/, { email: weakEmail, name: 'Weak', mode: 'temporary', temporaryPassword: 'password1' });
      expect(weak.status).to.equal(400);
      expect(weak.body).to.contain('id="temporaryPassword-error"').and.contain(`value="${weakEmail}"`).and.not.contain('value="password1"');
      expect(await server.deps.users.countDocuments({ emailNormalized: weakEmail })).to.equal(0);
      const taken = await post(adminAgent, '/admin/accounts/new', /\/admin\/accounts$/, { email, mode: 'temporary', temporaryPassword: 'another temporary phrase 72' });
      expect(taken.status).to.equal(409);
      expect(taken.body).to.contain('id="email-error"').and.contain('already exists');
      const badGroup = await post(adminAgent, '/admin/accounts/new', /\/admin\/accounts$/, { email: weakEmail, groups: 'ok, =HYPERLINK()', mode: 'invite' });
      expect(badGroup.status).to.equal(400);
      expect(badGroup.body).to.contain('id="groups-error"');
      expect(await server.deps.users.countDocuments({ emailNormalized: weakEmail })).to.equal(0);
    });

    it('creates an account as an invitation: the email arrives with a link', async () => {
      const email = `invited-${++counter}@example.com`;
      const created = await post(adminAgent, '/admin/accounts/new', /\/admin\/accounts$/, { email, name: 'Invited Person', mode: 'invite', temporaryPassword: '' });
      expect(created.status, created.body.slice(0, 500)).to.equal(303);
      expect(created.headers.get('location')).to.match(/\?notice=invited$/);
      const mail = await smtp.waitFor((m: ParsedMail) => (m.to as { text: string }).text.includes(email));
      expect(smtp.linkIn(mail)).to.contain('/password/');
      const user = (await server.deps.users.findOne({ emailNormalized: email }).lean())!;
      expect(user.status).to.equal('invited');
      expect(user.passwordHash).to.equal(null);
      const shown = await adminAgent.request(url(`/admin/accounts/${user._id}`));
      expect(shown.body).to.contain('Not set').and.contain('Send the invitation again');
    });

    it('shows an account: profile, status, roles, groups, notes, password set (no hash), connected apps, audit trail', async () => {
      const person = await newPerson('detail', { name: 'Detail Person' });
      await db().collection('users').updateOne({ _id: person.user._id as never }, { $set: { notes: 'Called about <b>access</b>', roles: ['auditor'] } });
      await signIn(appConfig, new Agent(), person.email, person.password, { scope: 'openid email' });
      const page = await adminAgent.request(url(`/admin/accounts/${person.user._id}`));
      expect(page.status).to.equal(200);
      expect(page.body).to.contain('Detail Person').and.contain('auditor').and.contain('Called about &lt;b&gt;access&lt;/b&gt;');
      expect(page.body).to.match(/<dt>Password<\/dt><dd>Set/);
      expect(page.body).to.not.contain('$argon2').and.not.contain(person.password);
      expect(page.body).to.contain('Test App').and.contain('See your email address');
      expect(page.body).to.contain('Sign-in succeeded');
      expect((await adminAgent.request(url('/admin/accounts/no-such-account'))).status).to.equal(404);
      expect((await adminAgent.request(url('/admin/accounts/%24ne'))).status).to.equal(404);
    });

    it('edits name, groups and notes; an app asking for the groups scope receives them', async () => {
      const person = await newPerson('groups');
      const { next } = await act(adminAgent, person.user._id, 'edit', { name: 'Renamed Person', groups: 'staff, finance', notes: 'VIP' });
      expect(next.body).to.contain('The account was saved');
      const user = (await userDoc(person.user._id))!;
      expect(user.groups).to.deep.equal(['staff', 'finance']);
      expect(user.name).to.equal('Renamed Person');
      expect(user.notes).to.equal('VIP');
      expect((await adminAgent.request(url('/admin?q=renamed'))).body).to.contain(person.email);

      const { tokens } = await signIn(appConfig, new Agent(), person.email, person.password, { scope: 'openid groups' });
      const info = await oidc.fetchUserInfo(appConfig, tokens.access_token, tokens.claims()!.sub);
      expect(info.groups).to.deep.equal(['staff', 'finance']);
      const audit = await server.deps.audit.list({ userId: person.user._id, events: ['account.updated'] });
      expect(audit[0]!.actor).to.equal(`admin:${admin.user._id}`);

      const bad = await post(adminAgent, `/admin/accounts/${person.user._id}`, /\/edit$/, { name: 'Kept', groups: 'fine, not;allowed!', notes: '' });
      expect(bad.status).to.equal(400);
      expect(bad.body).to.contain('id="groups-error"').and.contain('value="Kept"');
      expect((await userDoc(person.user._id))!.groups).to.deep.equal(['staff', 'finance']);
    });

    it('sends a reset email (and, to an invited account, the invitation again)', async () => {
      const person = await newPerson('reset');
      const { next } = await act(adminAgent, person.user._id, 'reset');
      expect(next.body).to.contain('A password reset email was sent');
      const mail = await smtp.waitFor((m: ParsedMail) => (m.to as { text: string }).text.includes(person.email));
      expect(smtp.linkIn(mail)).to.contain('/password/reset?token=');
      const audit = await server.deps.audit.list({ userId: person.user._id, events: ['password.reset_requested'] });
      expect(audit[0]!.actor).to.equal(`admin:${admin.user._id}`);
    });

    it('sets a temporary password: the old one and every session end, and it must be changed at the next sign-in', async () => {
      const person = await newPerson('temporary');
      const { tokens } = await signIn(appConfig, new Agent(), person.email, person.password, { scope: 'openid offline_access' });
      const weak = await post(adminAgent, `/admin/accounts/${person.user._id}`, /\/temporary-password$/, { temporaryPassword: 'temporary' });
      expect(weak.status).to.equal(400);
      expect(weak.body).to.match(/id="temporaryPassword-error"[^>]*>[^<]+/).and.not.contain('value="temporary"');
      expect((await authenticate(server.deps.signInDeps, { email: person.email, password: person.password })).ok, 'unchanged after a 400').to.equal(true);

      const temporary = 'fresh temporary phrase 83';
      const { next } = await act(adminAgent, person.user._id, 'temporary-password', { temporaryPassword: temporary });
      expect(next.body).to.contain('The temporary password was set').and.not.contain(temporary);
      expect((await authenticate(server.deps.signInDeps, { email: person.email, password: person.password })).ok).to.equal(false);
      const result = await authenticate(server.deps.signInDeps, { email: person.email, password: temporary });
      expect(result.ok && result.mustChangePassword).to.equal(true);
      expect(await refreshFails(appConfig, tokens.refresh_token!)).to.equal(true);
      expect((await server.deps.audit.list({ userId: person.user._id, events: ['password.temporary_set'] }))[0]!.actor).to.equal(`admin:${admin.user._id}`);
    });

    it('forces a sign-in: a live app\'s refresh token fails, introspection says inactive, userinfo refuses the access token', async () => {
      const person = await newPerson('force');
      const { tokens } = await signIn(backendConfig, new Agent(), person.email, person.password, { scope: 'openid offline_access' });
      expect((await oidc.tokenIntrospection(backendConfig, tokens.access_token)).active).to.equal(true);
      const { next } = await act(adminAgent, person.user._id, 'sign-out');
      expect(next.body).to.match(/signed out everywhere \(1 session, 1 app grant\)/);
      expect(await refreshFails(backendConfig, tokens.refresh_token!)).to.equal(true);
      expect((await oidc.tokenIntrospection(backendConfig, tokens.access_token)).active).to.equal(false);
      const refused = await oidc.fetchUserInfo(backendConfig, tokens.access_token, tokens.claims()!.sub).catch((e: Error) => e);
      expect(refused).to.be.instanceOf(Error);
      expect((await server.deps.audit.list({ userId: person.user._id, events: ['signout.everywhere'] }))[0]!.actor).to.equal(`admin:${admin.user._id}`);
    });

    it('unlocks a locked account, showing the counts before', async () => {
      const person = await newPerson('unlock');
      for (let i = 0; i < 5; i++) await authenticate(server.deps.signInDeps, { email: person.email, password: `wrong guess ${i}` });
      expect((await authenticate(server.deps.signInDeps, { email: person.email, password: person.password })).ok, 'locked').to.equal(false);
      const shown = await adminAgent.request(url(`/admin/accounts/${person.user._id}`));
      // Five wrong guesses, then the right password while locked: six failures.
      expect(shown.body).to.match(/6 since the last success or unlock; locked 1 time/);
      expect(shown.body).to.match(/<dt>Locked until<\/dt><dd>\d+ \w+ \d{4}, \d\d:\d\d UTC/);
      const { next } = await act(adminAgent, person.user._id, 'unlock');
      expect(next.body).to.match(/The account was unlocked\. Before: 6 failed attempts, locked until \d+ \w+ \d{4}, \d\d:\d\d UTC\./);
      expect(next.body).to.contain('Not locked');
      expect((await authenticate(server.deps.signInDeps, { email: person.email, password: person.password })).ok).to.equal(true);
      expect((await server.deps.audit.list({ userId: person.user._id, events: ['account.unlocked'] }))[0]!.actor).to.equal(`admin:${admin.user._id}`);
    });

    it('shows second factors without secrets and resets two-step verification', async () => {
      const person = await newPerson('factors');
      const enrolment = await startTotpEnrolment(server.deps.factors, person.user._id, { issuer: 'Latchkey', account: person.email });
      const code = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) }).generate({ timestamp: Date.now() - 30_000 });
      expect((await confirmTotpEnrolment(server.deps.factors, person.user._id, enrolment.enrolmentId, code)).ok).to.equal(true);
      const shown = await adminAgent.request(url(`/admin/accounts/${person.user._id}`));
      expect(shown.body).to.contain('Authenticator app').and.contain('Reset two-step verification');
      expect(shown.body).to.not.contain(enrolment.secretBase32);
      const { next } = await act(adminAgent, person.user._id, 'reset-factors');
      expect(next.body).to.contain('Two-step verification was reset (1 factor removed)').and.contain('No second factor.');
      expect(await server.deps.factors.factors.countDocuments({ userId: person.user._id })).to.equal(0);
      expect((await server.deps.audit.list({ userId: person.user._id, events: ['factor.removed'] }))[0]!.actor).to.equal(`admin:${admin.user._id}`);
    });

    it('disables an account (signed out everywhere, sign-in fails) and enables it again', async () => {
      const person = await newPerson('disable');
      const { tokens } = await signIn(appConfig, new Agent(), person.email, person.password, { scope: 'openid offline_access' });
      const { next } = await act(adminAgent, person.user._id, 'disable');
      expect(next.body).to.contain('The account was disabled').and.contain('Enable account');
      expect(await refreshFails(appConfig, tokens.refresh_token!)).to.equal(true);
      const result = await authenticate(server.deps.signInDeps, { email: person.email, password: person.password });
      expect(result.ok).to.equal(false);
      const mails = smtp.messages.length;
      const reset = await post(adminAgent, `/admin/accounts/${person.user._id}`, /\/reset$/, {});
      expect(reset.status).to.equal(409);
      expect(reset.body).to.match(/id="reset-error"[^>]*>Enable the account first/);
      await server.deps.tasks.idle();
      expect(smtp.messages.length, 'no reset email for a disabled account').to.equal(mails);
      await act(adminAgent, person.user._id, 'enable');
      expect((await userDoc(person.user._id))!.status).to.equal('active');
      expect((await authenticate(server.deps.signInDeps, { email: person.email, password: person.password })).ok).to.equal(true);
    });

    it('grants and removes the admin role; an admin cannot disable themselves or remove their own role', async () => {
      const person = await newPerson('role');
      await act(adminAgent, person.user._id, 'admin-role', { admin: 'grant' });
      expect((await userDoc(person.user._id))!.roles).to.include('admin');
      const { page } = await consoleAgent(person.email, person.password);
      expect(page.status).to.equal(200);
      await act(adminAgent, person.user._id, 'admin-role', { admin: 'remove' });
      expect((await userDoc(person.user._id))!.roles).to.not.include('admin');

      const self = admin.user._id;
      const disable = await post(adminAgent, `/admin/accounts/${self}`, /\/disable$/, {});
      expect(disable.status).to.equal(409);
      expect(disable.body).to.match(/id="status-error"[^>]*>You cannot disable your own account/);
      const remove = await post(adminAgent, `/admin/accounts/${self}`, /\/admin-role$/, {});
      expect(remove.status).to.equal(409);
      expect(remove.body).to.match(/id="role-error"[^>]*>You cannot remove your own admin role/);
      const me = (await userDoc(self))!;
      expect(me.status).to.equal('active');
      expect(me.roles).to.include('admin');
      expect((await adminAgent.request(url('/admin'))).status, 'still an admin, still signed in').to.equal(200);
    });
  });

  describe('audit trail', () => {
    it('filters by event, account email and days; bad filters are shown beside their fields', async () => {
      const person = await newPerson('audit');
      await act(adminAgent, person.user._id, 'disable');
      await act(adminAgent, person.user._id, 'enable');

      const byEvent = await adminAgent.request(url('/admin/audit?event=account.disabled'));
      expect(byEvent.status).to.equal(200);
      expect(byEvent.body).to.contain(person.email).and.contain('<td>Account disabled</td>').and.not.contain('<td>Account enabled</td>');
      expect(byEvent.body).to.contain(`admin ${admin.email}`);

      const byEmail = await adminAgent.request(url(`/admin/audit?email=${encodeURIComponent(person.email.toUpperCase())}`));
      const rows = [...byEmail.body.matchAll(/<tr><td><time/g)].length;
      expect(rows).to.equal(await db().collection('audit_events').countDocuments({ userId: person.user._id }));
      expect(byEmail.body).to.contain('<td>Account enabled</td>').and.contain('<td>Account disabled</td>');
      // Newest first.
      expect(byEmail.body.indexOf('<td>Account enabled</td>')).to.be.lessThan(byEmail.body.indexOf('<td>Account disabled</td>'));

      const today = new Date().toISOString().slice(0, 10);
      const inRange = await adminAgent.request(url(`/admin/audit?email=${encodeURIComponent(person.email)}&since=${today}&until=${today}`));
      expect([...inRange.body.matchAll(/<tr><td><time/g)].length).to.equal(rows);
      const future = await adminAgent.request(url(`/admin/audit?email=${encodeURIComponent(person.email)}&since=2999-01-01`));
      expect(future.body).to.contain('No events match');
      const past = await adminAgent.request(url(`/admin/audit?email=${encodeURIComponent(person.email)}&until=2000-01-01`));
      expect(past.body).to.contain('No events match');

      const bad = await adminAgent.request(url('/admin/audit?since=yesterday&until=2025-02-30&event=nope&email[$ne]=x'));
      expect(bad.status).to.equal(200);
      expect(bad.body).to.contain('id="since-error"').and.contain('id="until-error"').and.contain('id="event-error"');
      const unknown = await adminAgent.request(url('/admin/audit?email=nobody-here%40example.com'));
      expect(unknown.body).to.contain('No account has this email address');
    });
  });

  describe('CSV import', () => {
    it('a good file creates accounts through a job whose page refreshes until it is done', async () => {
      const tag = `imp${Date.now().toString(36)}`;
      const csv = `email,name,groups\n${tag}-1@example.com,Imported One,staff\n${tag}-2@example.com,Imported Two,staff;finance\n`;
      const response = await uploadCsv(adminAgent, csv, { fileName: 'people.csv' });
      expect(response.status, response.body.slice(0, 500)).to.equal(303);
      const location = response.headers.get('location')!;
      expect(location).to.match(/^\/admin\/imports\/[0-9a-f-]{36}$/);
      const job = await waitForJob(location);
      expect(job.body).to.contain('job-done').and.not.contain('http-equiv="refresh"');
      expect(job.body).to.match(/<dd id="created">2<\/dd>/).and.match(/<dd id="rejected">0<\/dd>/).and.contain('people.csv');
      const user = (await server.deps.users.findOne({ emailNormalized: `${tag}-2@example.com` }).lean())!;
      expect(user.groups).to.deep.equal(['staff', 'finance']);
      expect(user.status).to.equal('invited');
      const audit = await db().collection('audit_events').findOne({ event: 'account.created', 'details.import': true, at: { $gte: new Date(Date.now() - 60_000) } }, { sort: { at: -1 } });
      expect(audit!.actor).to.equal(`admin:${admin.user._id}`);

      const list = await adminAgent.request(url('/admin/imports'));
      expect(list.body).to.contain(location).and.contain('people.csv');

      // The same file again changes nothing.
      const again = await waitForJob((await uploadCsv(adminAgent, csv)).headers.get('location')!);
      expect(again.body).to.match(/<dd id="created">0<\/dd>/).and.match(/<dd id="unchanged">2<\/dd>/);
      // With "update existing accounts", only what differs changes.
      const upsert = await waitForJob((await uploadCsv(adminAgent, csv.replace('Imported Two', 'Renamed Two'), { upsert: true })).headers.get('location')!);
      expect(upsert.body).to.match(/<dd id="updated">1<\/dd>/).and.match(/<dd id="unchanged">1<\/dd>/);
      expect((await server.deps.users.findOne({ emailNormalized: `${tag}-2@example.com` }).lean())!.name).to.equal('Renamed Two');
    });

    it('a running job refreshes itself; one left running by a crashed process reads as failed', async () => {
      const now = Date.now();
      await db().collection(IMPORT_JOBS).insertMany([
        { _id: '11111111-1111-4111-8111-111111111111' as never, startedBy: admin.user._id, startedAt: new Date(now - 1000), updatedAt: new Date(now - 500), finishedAt: null, status: 'running', fileName: 'slow.csv', upsert: false, rows: 500, created: 0, updated: 0, unchanged: 0, rejectedCount: 0, rejected: [], error: null },
        { _id: '22222222-2222-4222-8222-222222222222' as never, startedBy: admin.user._id, startedAt: new Date(now - 3_600_000), updatedAt: new Date(now - 11 * 60_000), finishedAt: null, status: 'running', fileName: 'crashed.csv', upsert: false, rows: 1000, created: 0, updated: 0, unchanged: 0, rejectedCount: 0, rejected: [], error: null },
      ]);
      const running = await adminAgent.request(url('/admin/imports/11111111-1111-4111-8111-111111111111'));
      expect(running.body).to.contain('<meta http-equiv="refresh" content="2">').and.contain('job-running');
      const crashed = await adminAgent.request(url('/admin/imports/22222222-2222-4222-8222-222222222222'));
      expect(crashed.body).to.contain('job-failed').and.contain('stopped without finishing').and.not.contain('http-equiv="refresh"');
      expect((await adminAgent.request(url('/admin/imports/not-a-job'))).status).to.equal(404);
    });

    it('a file without an email column fails the job with the reason', async () => {
      const response = await uploadCsv(adminAgent, 'name,groups\nNo Email,staff\n');
      expect(response.status).to.equal(303);
      const job = await waitForJob(response.headers.get('location')!);
      expect(job.body).to.contain('job-failed').and.contain('The import failed: the first line must name the columns, including email');
    });

    it('rejected rows (formula, duplicate, not UTF-8) are in the report CSV, whose cells cannot run as formulas', async () => {
      const tag = `rej${Date.now().toString(36)}`;
      const csv = Buffer.concat([
        Buffer.from(`email,name\n${tag}-ok@example.com,Fine Person\n${tag}-formula@example.com,"=HYPERLINK(""http://evil.example"",""x"")"\n${tag}-ok@example.com,Duplicate\n${tag}-latin@example.com,Ren`),
        Buffer.from([0xe9]),
        Buffer.from('\n=1+2,Formula Email\n"@SUM(A1:A2)",At Sign\n'),
      ]);
      const response = await uploadCsv(adminAgent, csv);
      const location = response.headers.get('location')!;
      const job = await waitForJob(location);
      expect(job.body).to.match(/<dd id="created">1<\/dd>/).and.match(/<dd id="rejected">5<\/dd>/);
      expect(job.body).to.contain('spreadsheet formula').and.contain('duplicate of line 2').and.contain('not valid UTF-8');
      expect(await server.deps.users.countDocuments({ emailNormalized: { $regex: `^${tag}` } })).to.equal(1);

      const report = await fetch(url(`${location}/report.csv`), { headers: { cookie: adminAgent.cookieHeader() } });
      expect(report.status).to.equal(200);
      expect(report.headers.get('content-type')).to.match(/^text\/csv/);
      expect(report.headers.get('content-disposition')).to.match(/^attachment; filename="import-[0-9a-f-]+-rejected\.csv"$/);
      const text = (await report.text()).replace(/^\uFEFF/, '');
      const lines = text.trimEnd().split('\r\n');
      expect(lines[0]).to.equal('line,email,reason');
      expect(lines).to.have.length(6);
      expect(lines).to.include(`3,${tag}-formula@example.com,"name starts like a spreadsheet formula (=, +, -, @)"`);
      expect(lines).to.include(`4,${tag}-ok@example.com,duplicate of line 2`);
      expect(lines.find((l) => l.startsWith('6,'))).to.equal("6,'=1+2,email is not a valid address");
      expect(lines.find((l) => l.startsWith('7,'))).to.equal("7,'@SUM(A1:A2),email is not a valid address");
      for (const line of lines.slice(1)) {
        for (const cell of line.split(',')) expect(cell, line).to.not.match(/^[=+\-@\t\r]/);
      }
    });

    it('formula-safe cells: apostrophe first for = + - @ tab CR, quotes where needed', () => {
      expect(csvCell('=1+1')).to.equal("'=1+1");
      expect(csvCell('+1')).to.equal("'+1");
      expect(csvCell('-1')).to.equal("'-1");
      expect(csvCell('@x')).to.equal("'@x");
      expect(csvCell('\tx')).to.equal("'\tx");
      expect(csvCell('\rx')).to.equal("\"'\rx\"");
      expect(csvCell('a,b')).to.equal('"a,b"');
      expect(csvCell('say "hi"')).to.equal('"say ""hi"""');
      expect(csvCell('=a,"b"')).to.equal('"\'=a,""b"""');
      expect(csvCell(null)).to.equal('');
      expect(csvCell(12)).to.equal('12');
      expect(rejectedRowsCsv([{ line: 2, email: null, reason: 'x\ny' }])).to.equal('\uFEFFline,email,reason\r\n2,,"x\ny"\r\n');
    });

    it('refuses an upload without CSRF (403), a body that is not multipart (415), and one over 50 MB (413), creating nothing', async () => {
      const jobsBefore = await db().collection(IMPORT_JOBS).countDocuments();
      const usersBefore = await db().collection('users').countDocuments();
      const noCsrf = await uploadCsv(adminAgent, 'email\nno-csrf@example.com\n', { csrf: null });
      expect(noCsrf.status).to.equal(403);
      expect(noCsrf.body).to.contain('Form expired');
      const wrongCsrf = await uploadCsv(adminAgent, 'email\nno-csrf@example.com\n', { csrf: 'x'.repeat(43) });
      expect(wrongCsrf.status).to.equal(403);
      const csrf = csrfOf((await adminAgent.request(url('/admin/imports'))).body);
      const form = await adminAgent.request(url('/admin/imports'), { form: { _csrf: csrf, file: 'email\nform@example.com' } });
      expect(form.status).to.equal(415);
      expectNoInternals(form);
      const json = await adminAgent.request(url('/admin/imports'), { body: JSON.stringify({ _csrf: csrf }), headers: { 'content-type': 'application/json' } });
      expect(json.status).to.equal(415);
      const noFile = await uploadCsv(adminAgent, null);
      expect(noFile.status).to.equal(400);
      expect(noFile.body).to.contain('id="file-error"');
      const garbled = await adminAgent.request(url('/admin/imports'), { body: 'not multipart at all', headers: { 'content-type': 'multipart/form-data; boundary=xyz' } });
      expect(garbled.status).to.equal(400);

      // Over 50 MB: refused from its Content-Length, before a byte is read…
      const big = Buffer.alloc(51 * 1024 * 1024, 'a');
      const oversized = await uploadCsv(adminAgent, Buffer.concat([Buffer.from('email\n'), big]));
      expect(oversized.status).to.equal(413);
      expect(oversized.body).to.contain('at most 50 MB');
      expect(await db().collection(IMPORT_JOBS).countDocuments()).to.equal(jobsBefore);
      // …or, sent without a length, when the limit is reached: the job says why.
      const streamed = await uploadCsv(adminAgent, Buffer.concat([Buffer.from('email\n'), big]), { stream: true });
      expect(streamed.status).to.equal(413);
      const job = await db().collection(IMPORT_JOBS).findOne({}, { sort: { startedAt: -1 } });
      for (let i = 0; i < 50 && (await db().collection(IMPORT_JOBS).findOne({ _id: job!._id }))!.status === 'running'; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      const failed = (await db().collection(IMPORT_JOBS).findOne({ _id: job!._id }))!;
      expect(failed.status).to.equal('failed');
      expect(failed.error).to.match(/^the file is larger than 50 MB/);
      expect(await db().collection('users').countDocuments()).to.equal(usersBefore);
    });
  });

  describe('bad input', () => {
    let person: Awaited<ReturnType<typeof newPerson>>;
    let csrf: string;

    before(async () => {
      person = await newPerson('bad-input');
      csrf = csrfOf((await adminAgent.request(url('/admin'))).body);
    });

    async function stored() {
      await server.deps.tasks.idle();
      return {
        users: await db().collection('users').find({}).sort({ _id: 1 }).toArray(),
        audit: await db().collection('audit_events').countDocuments(),
        grants: await db().collection('oidc_grant').countDocuments(),
        portal: await db().collection(PORTAL_SESSIONS).countDocuments(),
        mail: smtp.messages.length,
      };
    }

    const e = encodeURIComponent;
    const id = () => person.user._id;
    const cases: Array<[() => string, string, (c: string) => string, number, RegExp]> = [
      [() => '/admin/accounts', 'missing email', (c) => `_csrf=${c}&mode=invite`, 400, /Enter the email address/],
      [() => '/admin/accounts', 'missing mode', (c) => `_csrf=${c}&email=a%40example.com`, 400, /Choose how the person gets/],
      [() => '/admin/accounts', 'missing temporary password', (c) => `_csrf=${c}&email=a%40example.com&mode=temporary`, 400, /Type a temporary password/],
      [() => '/admin/accounts', 'an invalid email', (c) => `_csrf=${c}&email=not-an-email&mode=invite`, 400, /valid email address/],
      [() => '/admin/accounts', 'an operator object for email', (c) => `_csrf=${c}&email[$ne]=&mode=invite`, 400, /could not be read/],
      [() => '/admin/accounts', 'an operator object for groups', (c) => `_csrf=${c}&email=a%40example.com&mode=invite&groups[$ne]=`, 400, /could not be read/],
      [() => '/admin/accounts', 'a repeated mode (array)', (c) => `_csrf=${c}&email=a%40example.com&mode=invite&mode=temporary`, 400, /Choose how/],
      [() => '/admin/accounts', 'an oversized name', (c) => `_csrf=${c}&email=a%40example.com&mode=invite&name=${'n'.repeat(201)}`, 400, /at most 200 characters/],
      [() => '/admin/accounts', 'a body over the limit', (c) => `_csrf=${c}&email=a%40example.com&mode=invite&name=${'z'.repeat(20_000)}`, 413, /too large/],
      [() => '/admin/accounts', 'no CSRF token', () => 'email=a%40example.com&mode=invite', 403, /Form expired/],
      [() => `/admin/accounts/${id()}/edit`, 'an operator object for groups', (c) => `_csrf=${c}&name=x&groups[$ne]=`, 400, /could not be read/],
      [() => `/admin/accounts/${id()}/edit`, 'an operator object for name', (c) => `_csrf=${c}&name[$gt]=`, 400, /could not be read/],
      [() => `/admin/accounts/${id()}/edit`, 'groups as an array', (c) => `_csrf=${c}&groups=a&groups=b`, 400, /could not be read/],
      [() => `/admin/accounts/${id()}/edit`, 'an oversized name', (c) => `_csrf=${c}&name=${'n'.repeat(201)}`, 400, /at most 200 characters/],
      [() => `/admin/accounts/${id()}/edit`, 'oversized notes', (c) => `_csrf=${c}&notes=${'n'.repeat(2001)}`, 400, /at most 2,000 characters/],
      [() => `/admin/accounts/${id()}/edit`, 'too many groups', (c) => `_csrf=${c}&groups=${Array.from({ length: 51 }, (_, i) => `g${i}`).join(',')}`, 400, /At most 50 groups/],
      [() => `/admin/accounts/${id()}/edit`, 'no CSRF token', () => 'name=Mallory', 403, /Form expired/],
      [() => `/admin/accounts/${id()}/temporary-password`, 'missing password', (c) => `_csrf=${c}`, 400, /Type a temporary password/],
      [() => `/admin/accounts/${id()}/temporary-password`, 'an operator object', (c) => `_csrf=${c}&temporaryPassword[$ne]=`, 400, /could not be read/],
      [() => `/admin/accounts/${id()}/temporary-password`, 'an oversized password', (c) => `_csrf=${c}&temporaryPassword=${'p'.repeat(2000)}`, 400, /temporaryPassword-error/],
      [() => `/admin/accounts/${id()}/temporary-password`, 'no CSRF token', () => 'temporaryPassword=a%20temporary%20phrase%2077', 403, /Form expired/],
      [() => `/admin/accounts/${id()}/admin-role`, 'missing choice', (c) => `_csrf=${c}`, 400, /grant or remove/],
      [() => `/admin/accounts/${id()}/admin-role`, 'an operator object', (c) => `_csrf=${c}&admin[$ne]=remove`, 400, /grant or remove/],
      [() => `/admin/accounts/${id()}/admin-role`, 'no CSRF token', () => 'admin=grant', 403, /Form expired/],
      [() => `/admin/accounts/${id()}/reset`, 'an operator object as CSRF token', () => '_csrf[$ne]=x', 403, /Form expired/],
      [() => `/admin/accounts/${id()}/sign-out`, 'no CSRF token', () => '', 403, /Form expired/],
      [() => `/admin/accounts/${id()}/unlock`, 'no CSRF token', () => '', 403, /Form expired/],
      [() => `/admin/accounts/${id()}/disable`, 'no CSRF token', () => '', 403, /Form expired/],
      [() => `/admin/accounts/${id()}/enable`, 'no CSRF token', () => '', 403, /Form expired/],
      [() => '/admin/accounts/no-such-account/disable', 'an unknown account', (c) => `_csrf=${c}`, 404, /Account not found/],
      [() => '/admin/accounts/no-such-account/edit', 'an unknown account', (c) => `_csrf=${c}&name=x`, 404, /Account not found/],
    ];

    for (const [path, name, body, status, message] of cases) {
      it(`${name} -> ${status}`, async () => {
        const before = await stored();
        const page = await adminAgent.request(url(path()), { form: body(e(csrf)) });
        expect(page.status, `${path()}: ${page.body.slice(0, 300)}`).to.equal(status);
        expect(decode(page.body)).to.match(message);
        expectNoInternals(page);
        expect(await stored()).to.deep.equal(before);
      });
    }

    it('every form refuses a JSON body (415) and other methods (405)', async () => {
      const before = await stored();
      for (const path of ['/admin/accounts', `/admin/accounts/${id()}/edit`, `/admin/accounts/${id()}/disable`, `/admin/accounts/${id()}/admin-role`]) {
        const json = await adminAgent.request(url(path), { body: JSON.stringify({ _csrf: csrf, name: 'x', admin: 'grant' }), headers: { 'content-type': 'application/json' } });
        expect(json.status, path).to.equal(415);
        expectNoInternals(json);
      }
      expect((await adminAgent.request(url('/admin'), { method: 'DELETE' })).status).to.equal(405);
      expect((await adminAgent.request(url(`/admin/accounts/${id()}/disable`))).status).to.equal(405);
      expect(await stored()).to.deep.equal(before);
    });
  });

  /** Posts the imports form as multipart/form-data; `csrf: null` leaves the token out, `stream` sends it without a length. */
  async function uploadCsv(agent: Agent, content: string | Buffer | null, options: { csrf?: string | null; fileName?: string; upsert?: boolean; stream?: boolean } = {}): Promise<Page> {
    const csrf = options.csrf === undefined ? csrfOf((await agent.request(url('/admin/imports'))).body) : options.csrf;
    const boundary = `----latchkey${Math.random().toString(16).slice(2)}`;
    const parts: Buffer[] = [];
    const field = (name: string, value: string) => parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
    if (csrf !== null) field('_csrf', csrf);
    if (options.upsert) field('upsert', 'yes');
    const fileName = content === null ? '' : options.fileName ?? 'accounts.csv';
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: text/csv\r\n\r\n`));
    if (content !== null) parts.push(Buffer.from(content));
    parts.push(Buffer.from(`\r\n--${boundary}--\r\n`));
    const body = Buffer.concat(parts);
    const headers = { cookie: agent.cookieHeader(), 'content-type': `multipart/form-data; boundary=${boundary}` };
    const init: RequestInit & { duplex?: 'half' } = { method: 'POST', headers, redirect: 'manual' };
    if (options.stream) {
      init.body = new ReadableStream({
        start(controller) {
          for (let offset = 0; offset < body.length; offset += 1024 * 1024) controller.enqueue(body.subarray(offset, offset + 1024 * 1024));
          controller.close();
        },
      });
      init.duplex = 'half';
    } else {
      init.body = body;
    }
    const response = await fetch(url('/admin/imports'), init);
    return { status: response.status, url: url('/admin/imports'), headers: response.headers, body: await response.text() };
  }

  /** The job page once the job is no longer running. */
  async function waitForJob(location: string): Promise<Page> {
    for (let i = 0; i < 100; i++) {
      const page = await adminAgent.request(url(location));
      expect(page.status).to.equal(200);
      if (!page.body.includes('job-running')) return page;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the import at ${location} did not finish`);
  }
});
