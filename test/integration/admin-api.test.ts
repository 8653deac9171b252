// The admin API (/api/admin) end to end: a real server, database and SMTP server;
// tokens obtained with openid-client, through the real sign-in pages for people
// and from the token endpoint for client credentials.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { ClientMetadata } from 'oidc-provider';
import type { ParsedMail } from 'mailparser';
import type { z } from 'zod';
import { createUser } from '../../src/accounts/users.ts';
import { Secret, TOTP } from 'otpauth';
import { confirmTotpEnrolment, generateRecoveryCodes, startTotpEnrolment, TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { authenticate } from '../../src/accounts/signin.ts';
import { AUDIT_EVENTS } from '../../src/accounts/audit.ts';
import { PROBLEM_CODES } from '../../src/web/api/problem.ts';
import { ADMIN_REQUEST_SCHEMAS } from '../../src/web/api/schemas.ts';
import { apiRoutes } from '../../src/web/api/routes.ts';
import { callApi, codesOf, expectProblem as expectProblemOf, fieldsOf, type Answer, type CallInit } from '../helpers/api.ts';
import { useTestServer } from '../helpers/server.ts';
import { Agent } from '../helpers/agent.ts';
import { confidentialClient, discover, publicClient, signIn } from '../helpers/rp.ts';

// Only a client whose registration names `admin` may ask for it.
const WITH_ADMIN = 'openid email profile offline_access account groups admin';
const app = publicClient({ scope: WITH_ADMIN }); // first party, public
const backend = confidentialClient(); // a live relying party, for force sign-in
const thirdParty = publicClient({ client_id: 'third-party', client_name: 'Someone Else\'s App', first_party: false, scope: WITH_ADMIN });
const ccClient = (client_id: string, scope?: string) => ({
  client_id,
  client_secret: `${client_id}-secret-that-is-long-enough-0000`,
  grant_types: ['client_credentials'],
  ...(scope === undefined ? {} : { scope }),
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
}) as ClientMetadata;
const automation = ccClient('automation', 'admin');
const reporting = ccClient('reporting', 'groups'); // client credentials, but not registered for admin
const unscoped = ccClient('unscoped'); // no `scope` metadata: the provider grants any scope; the API must not


const ADMIN_PASSWORD = 'lighthouse keeper vinyl 91';
const USER_PASSWORD = 'an ordinary person passphrase 2';
const SUMMARY_KEYS = ['id', 'email', 'name', 'status', 'mustChangePassword', 'locked', 'roles', 'groups', 'createdAt'];

describe('admin API', () => {
  const { server, smtp } = useTestServer({ clients: [app, backend, thirdParty, automation, reporting, unscoped], smtp: true });
  let appConfig: oidc.Configuration;
  let backendConfig: oidc.Configuration;
  let thirdPartyConfig: oidc.Configuration;
  let adminId: string;
  let adminToken: string;
  let clientToken: string;
  let counter = 0;
  const uniqueEmail = (tag: string) => `admin-api-${tag}-${++counter}@example.com`;

  before(async () => {
    [appConfig, backendConfig, thirdPartyConfig] = await Promise.all([discover(server.url, app), discover(server.url, backend), discover(server.url, thirdParty)]);
    const admin = await createUser(server.deps, { email: 'admin-api-admin@example.com', password: ADMIN_PASSWORD, name: 'Ada Admin', roles: ['admin'] });
    adminId = admin._id;
    adminToken = await tokenFor(appConfig, admin.email, ADMIN_PASSWORD);
    clientToken = (await oidc.clientCredentialsGrant(await discover(server.url, automation), { scope: 'admin' })).access_token;
  });

  async function tokenFor(config: oidc.Configuration, email: string, password: string, scope = 'openid admin'): Promise<string> {
    const { tokens } = await signIn(config, new Agent(), email, password, { scope });
    return tokens.access_token;
  }

  /** A request with the admin's token unless another (or null) is given. */
  const call = (path: string, init: CallInit = {}) => callApi(server.url, path, { ...init, token: init.token === undefined ? adminToken : init.token });

  function expectOk(answer: Answer, status: number): void {
    expect(answer.status, answer.text.slice(0, 500)).to.equal(status);
    expect(answer.headers.get('cache-control')).to.equal('no-store');
    if (status === 204) expect(answer.text).to.equal('');
    else expect(answer.headers.get('content-type')).to.match(/^application\/json/);
  }

  const expectProblem = (answer: Answer, status: number, code: string) => expectProblemOf(answer, status, code, server.url);
  const users = () => server.database.connection.collection('users');
  const userDoc = async (id: string) => (await users().findOne({ _id: id as never }))!;
  const settle = () => server.deps.tasks.idle().then(() => server.deps.mailer.idle());
  const mailTo = (to: string, subject: RegExp) => smtp.waitFor((m: ParsedMail) => (m.to as { text: string }).text.includes(to) && subject.test(m.subject ?? ''));
  const signsIn = async (email: string, password: string) => (await authenticate(server.deps.signInDeps, { email, password })).ok;
  const auditOf = (userId: string) => server.deps.audit.list({ userId, limit: 500 });

  /** Everything an admin call could change. */
  async function stored() {
    await settle();
    const db = server.database.connection;
    const count = (name: string) => db.collection(name).countDocuments();
    return {
      users: await users().find({}).sort({ _id: 1 }).toArray(),
      audit: await count('audit_events'),
      links: await count('links'),
      lockouts: await count('lockouts'),
      grants: await count('oidc_grant'),
      sessions: await count('oidc_session'),
      accessTokens: await count('oidc_access_token'),
      mails: smtp.messages.length,
    };
  }

  async function person(tag: string, extra: { name?: string; roles?: string[] } = {}) {
    const email = uniqueEmail(tag);
    const user = await createUser(server.deps, { email, password: USER_PASSWORD, ...extra });
    return { id: user._id, email };
  }

  describe('who may call it', () => {
    it('an admin\'s own token from a first-party app works, and so does a client credentials token', async () => {
      for (const token of [adminToken, clientToken]) {
        const answer = await call('/api/admin/accounts', { token });
        expectOk(answer, 200);
        expect(answer.json.items).to.be.an('array');
      }
    });

    it('refuses requests without a usable token with 401 and an RFC 6750 challenge', async () => {
      const none = await call('/api/admin/accounts', { token: null });
      expectProblem(none, 401, 'invalid-token');
      expect(none.headers.get('www-authenticate')).to.match(/^Bearer realm=/).and.not.contain('error=');
      expectProblem(await call('/api/admin/accounts', { token: null, headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } }), 401, 'invalid-token');
      for (const garbage of ['not-a-token', 'x'.repeat(43), 'y'.repeat(1000), 'two words']) {
        const answer = await call('/api/admin/accounts', { token: garbage });
        expectProblem(answer, 401, 'invalid-token');
        expect(answer.headers.get('www-authenticate')).to.contain('error="invalid_token"');
      }
      // A revoked admin token stops working at once.
      const email = 'admin-api-second-admin@example.com';
      await createUser(server.deps, { email, password: ADMIN_PASSWORD, roles: ['admin'] });
      const token = await tokenFor(appConfig, email, ADMIN_PASSWORD);
      expectOk(await call('/api/admin/accounts', { token }), 200);
      await oidc.tokenRevocation(appConfig, token);
      expectProblem(await call('/api/admin/accounts', { token }), 401, 'invalid-token');
    });

    it('refuses a non-admin\'s token that has the admin scope with 403; nothing changes', async () => {
      const self = await person('not-admin');
      const token = await tokenFor(appConfig, self.email, USER_PASSWORD);
      const victim = await person('victim');
      const before = await stored();
      const attempts: Array<[string, string, unknown?]> = [
        ['GET', '/api/admin/accounts'],
        ['GET', `/api/admin/accounts/${victim.id}`],
        ['GET', '/api/admin/audit'],
        ['POST', '/api/admin/accounts', { email: uniqueEmail('sneaky'), invite: true }],
        ['PUT', `/api/admin/accounts/${self.id}/roles/admin`],
        ['PATCH', `/api/admin/accounts/${victim.id}`, { name: 'Renamed by nobody' }],
        ['POST', `/api/admin/accounts/${victim.id}/temporary-password`, { password: 'taken over passphrase 9' }],
        ['POST', `/api/admin/accounts/${victim.id}/disable`],
        ['POST', `/api/admin/accounts/${victim.id}/revoke`],
        ['POST', `/api/admin/accounts/${victim.id}/reset-email`],
      ];
      for (const [method, path, body] of attempts) {
        const answer = await call(path, { method, token, body });
        expectProblem(answer, 403, 'forbidden');
        expect(answer.text).to.not.contain(victim.email);
      }
      expect(await stored()).to.deep.equal(before);
      expect(await signsIn(victim.email, USER_PASSWORD)).to.equal(true);
    });

    it('refuses an admin\'s token without the admin scope with 403 insufficient_scope', async () => {
      const token = await tokenFor(appConfig, 'admin-api-admin@example.com', ADMIN_PASSWORD, 'openid account');
      const answer = await call('/api/admin/accounts', { token });
      expectProblem(answer, 403, 'insufficient-scope');
      expect(answer.headers.get('www-authenticate')).to.contain('error="insufficient_scope"').and.contain('scope="admin"');
    });

    it('refuses an admin\'s token issued to a third-party app, even with consent to the admin scope', async () => {
      const token = await tokenFor(thirdPartyConfig, 'admin-api-admin@example.com', ADMIN_PASSWORD);
      const victim = await person('third-party-victim');
      const before = await stored();
      expectProblem(await call('/api/admin/accounts', { token }), 403, 'forbidden');
      expectProblem(await call(`/api/admin/accounts/${victim.id}/disable`, { method: 'POST', token }), 403, 'forbidden');
      expect(await stored()).to.deep.equal(before);
    });

    it('a client credentials client needs admin in its registered scope', async () => {
      const refused = await oidc.clientCredentialsGrant(await discover(server.url, reporting), { scope: 'admin' }).catch((e: Error) => e);
      expect(refused).to.be.instanceOf(oidc.ResponseBodyError);
      expect((refused as oidc.ResponseBodyError).error).to.equal('invalid_scope');
      // Its token for the scopes it has is refused for want of the admin scope.
      const groupsToken = (await oidc.clientCredentialsGrant(await discover(server.url, reporting), { scope: 'groups' })).access_token;
      expectProblem(await call('/api/admin/accounts', { token: groupsToken }), 403, 'insufficient-scope');
      // A client registered without `scope` gets the default scopes, which leave out admin (the token
      // endpoint refuses); were it ever granted, the API checks the registration itself and refuses.
      const loose = await oidc.clientCredentialsGrant(await discover(server.url, unscoped), { scope: 'admin' }).catch((e: Error) => e);
      if (loose instanceof Error) {
        expect(loose).to.be.instanceOf(oidc.ResponseBodyError);
      } else {
        expect(loose.scope).to.equal('admin');
        const before = await stored();
        expectProblem(await call('/api/admin/accounts', { token: loose.access_token }), 403, 'forbidden');
        expectProblem(await call('/api/admin/accounts', { method: 'POST', token: loose.access_token, body: { email: uniqueEmail('loose'), invite: true } }), 403, 'forbidden');
        expect(await stored()).to.deep.equal(before);
      }
    });

    it('checks the role on every call: granting and removing it takes effect at once', async () => {
      const other = await person('promoted');
      const token = await tokenFor(appConfig, other.email, USER_PASSWORD);
      expectProblem(await call('/api/admin/accounts', { token }), 403, 'forbidden');
      expectOk(await call(`/api/admin/accounts/${other.id}/roles/admin`, { method: 'PUT' }), 204);
      expect((await userDoc(other.id)).roles).to.deep.equal(['admin']);
      expectOk(await call('/api/admin/accounts', { token }), 200);
      expectOk(await call(`/api/admin/accounts/${other.id}/roles/admin`, { method: 'PUT' }), 204); // idempotent
      expect((await userDoc(other.id)).roles).to.deep.equal(['admin']);
      // The promoted admin cannot remove their own role...
      const own = await call(`/api/admin/accounts/${other.id}/roles/admin`, { method: 'DELETE', token });
      expectProblem(own, 409, 'own-admin-access');
      expect((await userDoc(other.id)).roles).to.deep.equal(['admin']);
      // ...but another admin can.
      expectOk(await call(`/api/admin/accounts/${other.id}/roles/admin`, { method: 'DELETE' }), 204);
      expect((await userDoc(other.id)).roles).to.deep.equal([]);
      expectProblem(await call('/api/admin/accounts', { token }), 403, 'forbidden');
      const events = (await auditOf(other.id)).filter((r) => r.event === 'account.updated');
      expect(events.map((r) => [r.actor, r.details.granted])).to.deep.equal([[`admin:${adminId}`, false], [`admin:${adminId}`, true], [`admin:${adminId}`, true]]);
      expectProblem(await call(`/api/admin/accounts/nobody/roles/admin`, { method: 'PUT' }), 404, 'not-found');
    });

    it('an admin cannot remove their own role or disable themselves', async () => {
      const before = await stored();
      expectProblem(await call(`/api/admin/accounts/${adminId}/roles/admin`, { method: 'DELETE' }), 409, 'own-admin-access');
      expectProblem(await call(`/api/admin/accounts/${adminId}/disable`, { method: 'POST' }), 409, 'own-admin-access');
      expect(await stored()).to.deep.equal(before);
      expectOk(await call('/api/admin/accounts'), 200);
    });
  });

  describe('accounts', () => {
    it('GET /api/admin/accounts searches, filters and pages', async () => {
      const tag = 'zanzibar';
      const made = [];
      for (const name of ['Quentin Zanzibar', 'Rosa Zanzibar', 'Sam Zanzibar']) made.push(await person(tag, { name }));
      await server.deps.users.updateOne({ _id: made[2]!.id }, { $set: { status: 'disabled' } });

      const all = await call(`/api/admin/accounts?q=${tag}`);
      expectOk(all, 200);
      expect(all.json.total).to.equal(3);
      expect(all.json.items.map((a: { id: string }) => a.id).sort()).to.deep.equal(made.map((m) => m.id).sort());
      for (const item of all.json.items) expect(Object.keys(item).sort()).to.deep.equal([...SUMMARY_KEYS].sort());
      expect(all.text).to.not.match(/passwordHash|passwordHistory|\$argon2|searchTerms/);

      const rosa = await call('/api/admin/accounts?q=rosa+zanz');
      expect(rosa.json.items.map((a: { name: string }) => a.name)).to.deep.equal(['Rosa Zanzibar']);
      const disabled = await call(`/api/admin/accounts?q=${tag}&status=disabled`);
      expect(disabled.json.items.map((a: { id: string }) => a.id)).to.deep.equal([made[2]!.id]);
      const page2 = await call(`/api/admin/accounts?q=${tag}&page=2&pageSize=2`);
      expect(page2.json).to.include({ total: 3, page: 2, pageSize: 2 });
      expect(page2.json.items).to.have.length(1);
      // Blank parameters (a form sent as is) count as absent.
      const blank = await call(`/api/admin/accounts?q=${tag}&status=&page=&pageSize=`);
      expect(blank.json).to.include({ total: 3, page: 1, pageSize: 25 });
      const head = await fetch(`${server.url}/api/admin/accounts`, { method: 'HEAD', headers: { authorization: `Bearer ${adminToken}` } });
      expect(head.status).to.equal(200);
    });

    it('POST /api/admin/accounts with a temporary password: 201, Location, the summary; it must be changed', async () => {
      const email = uniqueEmail('created');
      const answer = await call('/api/admin/accounts', { method: 'POST', body: { email, name: 'Tess Tanaka', groups: ['staff', 'staff', 'ops'], temporary_password: 'a temporary passphrase 42' } });
      expectOk(answer, 201);
      expect(Object.keys(answer.json).sort()).to.deep.equal([...SUMMARY_KEYS].sort());
      expect(answer.json).to.include({ email, name: 'Tess Tanaka', status: 'active', mustChangePassword: true, locked: false });
      expect(answer.json.groups).to.deep.equal(['staff', 'ops']);
      expect(answer.text).to.not.contain('a temporary passphrase 42');
      expect(answer.headers.get('location')).to.equal(`${server.url}/api/admin/accounts/${answer.json.id}`);
      const shown = await call(new URL(answer.headers.get('location')!).pathname);
      expectOk(shown, 200);
      expect(shown.json).to.include({ id: answer.json.id, hasPassword: true, mustChangePassword: true });

      const result = await authenticate(server.deps.signInDeps, { email, password: 'a temporary passphrase 42' });
      expect(result.ok).to.equal(true);
      expect((await userDoc(answer.json.id)).mustChangePassword).to.equal(true);
      const created = (await auditOf(answer.json.id)).find((r) => r.event === 'account.created')!;
      expect(created).to.include({ actor: `admin:${adminId}` });
      expect(created.details).to.deep.equal({ invite: false });
    });

    it('POST /api/admin/accounts as an invitation (optionally to an app), recorded as the client that asked', async () => {
      const email = uniqueEmail('invited');
      const answer = await call('/api/admin/accounts', { method: 'POST', token: clientToken, body: { email, name: 'Ivy Invited', invite: true, client_id: app.client_id } });
      expectOk(answer, 201);
      expect(answer.json).to.include({ email, status: 'invited', mustChangePassword: false });
      const link = smtp.linkIn(await mailTo(email, /invit/i));
      expect(link).to.match(/\/password\/set\?token=/);
      expect(await signsIn(email, 'anything at all here 1')).to.equal(false);
      const records = await auditOf(answer.json.id);
      expect(records.map((r) => [r.event, r.actor])).to.deep.include.members([['account.created', 'client:automation'], ['invite.sent', 'client:automation']]);
    });

    it('POST /api/admin/accounts: 409 email-taken, 400 for a weak password and for a bad combination; nothing stored', async () => {
      const existing = await person('taken');
      const before = await stored();
      const taken = await call('/api/admin/accounts', { method: 'POST', body: { email: existing.email.toUpperCase(), invite: true } });
      expectProblem(taken, 409, 'email-taken');
      expect(taken.text).to.not.contain(existing.email);

      const email = uniqueEmail('weak');
      const weak = await call('/api/admin/accounts', { method: 'POST', body: { email, temporary_password: 'password' } });
      expectProblem(weak, 400, 'password-policy');
      expect(fieldsOf(weak).every((field) => field === 'temporary_password')).to.equal(true);
      expect(codesOf(weak)).to.include('common');
      const personal = await call('/api/admin/accounts', { method: 'POST', body: { email, name: 'Gwendolyn Harrington', temporary_password: 'harrington lighthouse 2024!' } });
      expectProblem(personal, 400, 'password-policy');
      expect(codesOf(personal)).to.include('contains_personal_info');

      const combos: Array<[Record<string, unknown>, string]> = [
        [{ email }, 'temporary_password'],
        [{ email, invite: false }, 'temporary_password'],
        [{ email, invite: true, temporary_password: 'a temporary passphrase 42' }, 'temporary_password'],
        [{ email, temporary_password: 'a temporary passphrase 42', client_id: app.client_id }, 'client_id'],
        [{ email, invite: true, client_id: 'no-such-client' }, 'client_id'],
      ];
      for (const [body, field] of combos) {
        const answer = await call('/api/admin/accounts', { method: 'POST', body });
        expectProblem(answer, 400, 'invalid-request');
        expect(fieldsOf(answer), JSON.stringify(body)).to.deep.equal([field]);
      }
      expect(await stored()).to.deep.equal(before);
    });

    it('GET /api/admin/accounts/:id: the detail, never a password hash; 404 for an unknown id', async () => {
      const someone = await person('detail', { name: 'Dee Tail' });
      await signIn(backendConfig, new Agent(), someone.email, USER_PASSWORD, { scope: 'openid email' });
      const answer = await call(`/api/admin/accounts/${someone.id}`);
      expectOk(answer, 200);
      expect(answer.json).to.include({ id: someone.id, email: someone.email, name: 'Dee Tail', status: 'active', hasPassword: true, emailVerified: false, notes: '', locked: false });
      expect(Object.keys(answer.json).sort()).to.deep.equal([...SUMMARY_KEYS, 'locale', 'phoneNumber', 'notes', 'emailVerified', 'hasPassword', 'passwordChangedAt', 'lockout', 'apps', 'factors', 'mustEnrolSecondFactor', 'termsAccepted'].sort());
      expect(answer.json.apps).to.have.length(1);
      expect(answer.json.apps[0]).to.include({ clientId: backend.client_id });
      expect(answer.json.apps[0].scopes).to.include.members(['openid', 'email']);
      expect(answer.text).to.not.match(/passwordHash|passwordHistory|\$argon2|searchTerms/);
      expectProblem(await call('/api/admin/accounts/no-such-account'), 404, 'not-found');
      expectProblem(await call(`/api/admin/accounts/${'x'.repeat(300)}`), 404, 'not-found');
    });

    it('PATCH /api/admin/accounts/:id changes name, groups and notes (and the search follows the name)', async () => {
      const someone = await person('patched', { name: 'Pat Before' });
      const answer = await call(`/api/admin/accounts/${someone.id}`, { method: 'PATCH', body: { name: '  Pat Quillfeather ', groups: ['finance', 'finance'], notes: 'Moved to finance.' } });
      expectOk(answer, 204);
      const doc = await userDoc(someone.id);
      expect(doc).to.include({ name: 'Pat Quillfeather', notes: 'Moved to finance.' });
      expect(doc.groups).to.deep.equal(['finance']);
      const found = await call('/api/admin/accounts?q=quillfeather');
      expect(found.json.items.map((a: { id: string }) => a.id)).to.deep.equal([someone.id]);
      const record = (await auditOf(someone.id)).find((r) => r.event === 'account.updated')!;
      expect(record.actor).to.equal(`admin:${adminId}`);
      expect(record.details.fields).to.equal('name,notes,groups');

      const before = await stored();
      expectProblem(await call('/api/admin/accounts/no-such-account', { method: 'PATCH', body: { name: 'Nobody' } }), 404, 'not-found');
      const empty = await call(`/api/admin/accounts/${someone.id}`, { method: 'PATCH', body: {} });
      expectProblem(empty, 400, 'invalid-request');
      const badGroup = await call(`/api/admin/accounts/${someone.id}`, { method: 'PATCH', body: { groups: ['ok', 'not <ok>'] } });
      expectProblem(badGroup, 400, 'invalid-request');
      expect(fieldsOf(badGroup)).to.deep.equal(['groups.1']);
      const long = await call(`/api/admin/accounts/${someone.id}`, { method: 'PATCH', body: { notes: 'n'.repeat(2001) } });
      expectProblem(long, 400, 'invalid-request');
      expect(codesOf(long)).to.deep.equal(['too_long']);
      expect(await stored()).to.deep.equal(before);
    });

    it('POST /api/admin/accounts/:id/reset-email: 202 and a reset link (an invitation for the invited); 409 when disabled', async () => {
      const someone = await person('reset');
      const answer = await call(`/api/admin/accounts/${someone.id}/reset-email`, { method: 'POST' });
      expectOk(answer, 202);
      expect(answer.json).to.deep.equal({ sent: 'reset' });
      expect(smtp.linkIn(await mailTo(someone.email, /reset/i))).to.match(/\/password\/reset\?token=/);
      expect((await auditOf(someone.id)).map((r) => [r.event, r.actor])).to.deep.include(['password.reset_requested', `admin:${adminId}`]);

      const invited = await call('/api/admin/accounts', { method: 'POST', body: { email: uniqueEmail('reinvite'), invite: true } });
      await mailTo(invited.json.email, /invit/i);
      const again = await call(`/api/admin/accounts/${invited.json.id}/reset-email`, { method: 'POST', body: {} });
      expectOk(again, 202);
      expect(again.json).to.deep.equal({ sent: 'invite' });
      await settle();
      expect(smtp.messages.filter((m) => (m.to as { text: string }).text.includes(invited.json.email))).to.have.length(2);

      expectOk(await call(`/api/admin/accounts/${someone.id}/disable`, { method: 'POST' }), 204);
      const before = await stored();
      expectProblem(await call(`/api/admin/accounts/${someone.id}/reset-email`, { method: 'POST' }), 409, 'account-disabled');
      expectProblem(await call('/api/admin/accounts/no-such-account/reset-email', { method: 'POST' }), 404, 'not-found');
      expect(await stored()).to.deep.equal(before);
    });

    it('POST /api/admin/accounts/:id/temporary-password: 204, the old password and sessions end; 400 for a weak one', async () => {
      const someone = await person('temporary');
      const rp = await signIn(backendConfig, new Agent(), someone.email, USER_PASSWORD, { scope: 'openid offline_access' });
      const before = await stored();
      const weak = await call(`/api/admin/accounts/${someone.id}/temporary-password`, { method: 'POST', body: { password: 'short' } });
      expectProblem(weak, 400, 'password-policy');
      expect(codesOf(weak)).to.include('too_short');
      expect(fieldsOf(weak)[0]).to.equal('password');
      expect(await stored()).to.deep.equal(before);

      const answer = await call(`/api/admin/accounts/${someone.id}/temporary-password`, { method: 'POST', body: { password: 'handed out passphrase 77' } });
      expectOk(answer, 204);
      expect(await signsIn(someone.email, USER_PASSWORD)).to.equal(false);
      expect(await signsIn(someone.email, 'handed out passphrase 77')).to.equal(true);
      expect((await userDoc(someone.id)).mustChangePassword).to.equal(true);
      expect(await oidc.refreshTokenGrant(backendConfig, rp.tokens.refresh_token!).catch((e: Error) => e)).to.be.instanceOf(oidc.ResponseBodyError);
      expect((await auditOf(someone.id)).map((r) => [r.event, r.actor])).to.deep.include(['password.temporary_set', `admin:${adminId}`]);
      expectProblem(await call('/api/admin/accounts/no-such-account/temporary-password', { method: 'POST', body: { password: 'handed out passphrase 77' } }), 404, 'not-found');
    });

    it('POST /api/admin/accounts/:id/revoke signs the person out of a live relying party', async () => {
      const someone = await person('revoked');
      const rp = await signIn(backendConfig, new Agent(), someone.email, USER_PASSWORD, { scope: 'openid email offline_access' });
      const { access_token: accessToken, refresh_token: refreshToken } = rp.tokens;
      expect((await oidc.tokenIntrospection(backendConfig, accessToken)).active).to.equal(true);
      expect((await oidc.fetchUserInfo(backendConfig, accessToken, someone.id)).sub).to.equal(someone.id);

      const answer = await call(`/api/admin/accounts/${someone.id}/revoke`, { method: 'POST', token: clientToken });
      expectOk(answer, 200);
      expect(answer.json.sessions).to.be.at.least(1);
      expect(answer.json.grants).to.be.at.least(1);
      expect(Object.keys(answer.json).sort()).to.deep.equal(['grants', 'sessions']);

      const refreshed = await oidc.refreshTokenGrant(backendConfig, refreshToken!).catch((e: Error) => e);
      expect(refreshed).to.be.instanceOf(oidc.ResponseBodyError);
      expect((refreshed as oidc.ResponseBodyError).error).to.equal('invalid_grant');
      expect((await oidc.tokenIntrospection(backendConfig, accessToken)).active).to.equal(false);
      expect((await oidc.tokenIntrospection(backendConfig, refreshToken!)).active).to.equal(false);
      const userinfo = await oidc.fetchUserInfo(backendConfig, accessToken, someone.id).catch((e: Error) => e);
      expect(userinfo).to.be.instanceOf(Error);
      expect((await call(`/api/admin/accounts/${someone.id}`)).json.apps).to.deep.equal([]);
      const record = (await auditOf(someone.id)).find((r) => r.event === 'signout.everywhere')!;
      expect(record).to.include({ actor: 'client:automation' });
      expect(record.details).to.include({ sessions: answer.json.sessions, grants: answer.json.grants });
      expectProblem(await call('/api/admin/accounts/no-such-account/revoke', { method: 'POST' }), 404, 'not-found');
    });

    it('POST /api/admin/accounts/:id/unlock clears a lockout', async () => {
      const someone = await person('locked');
      for (let i = 0; i < 5; i++) await authenticate(server.deps.signInDeps, { email: someone.email, password: `wrong guess ${i}` });
      const locked = await call(`/api/admin/accounts/${someone.id}`);
      expect(locked.json.locked).to.equal(true);
      expect(locked.json.lockout).to.include({ lockCount: 1 });
      expect(Date.parse(locked.json.lockout.lockedUntil)).to.be.greaterThan(Date.now());
      expect((await call('/api/admin/accounts?status=locked')).json.items.map((a: { id: string }) => a.id)).to.include(someone.id);
      expect(await signsIn(someone.email, USER_PASSWORD)).to.equal(false);

      expectOk(await call(`/api/admin/accounts/${someone.id}/unlock`, { method: 'POST' }), 204);
      expect((await call(`/api/admin/accounts/${someone.id}`)).json).to.include({ locked: false, lockout: null });
      expect(await signsIn(someone.email, USER_PASSWORD)).to.equal(true);
      expect((await auditOf(someone.id)).map((r) => [r.event, r.actor])).to.deep.include(['account.unlocked', `admin:${adminId}`]);
      expectProblem(await call('/api/admin/accounts/no-such-account/unlock', { method: 'POST' }), 404, 'not-found');
    });

    it('shows second factors without secrets, and POST /api/admin/accounts/:id/factors/reset removes them all', async () => {
      const someone = await person('factors');
      const enrolment = await startTotpEnrolment(server.deps.factors, someone.id, { issuer: 'Latchkey', account: someone.email });
      const code = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) }).generate({ timestamp: Date.now() - 30_000 });
      expect((await confirmTotpEnrolment(server.deps.factors, someone.id, enrolment.enrolmentId, code)).ok).to.equal(true);
      await generateRecoveryCodes(server.deps.factors, someone.id);

      const detail = await call(`/api/admin/accounts/${someone.id}`);
      expectOk(detail, 200);
      expect(detail.json.factors.map((f: { kind: string }) => f.kind).sort()).to.deep.equal(['recovery_codes', 'totp']);
      expect(detail.text).to.not.contain(enrolment.secretBase32);

      const reset = await call(`/api/admin/accounts/${someone.id}/factors/reset`, { method: 'POST', token: clientToken });
      expectOk(reset, 200);
      expect(reset.json).to.deep.equal({ removed: 2 });
      expect((await call(`/api/admin/accounts/${someone.id}`)).json.factors).to.deep.equal([]);
      const removals = (await auditOf(someone.id)).filter((r) => r.event === 'factor.removed');
      expect(removals.map((r) => r.actor)).to.deep.equal(['client:automation', 'client:automation']);
      await smtp.waitFor((m: ParsedMail) => (m.to as { text: string }).text.includes(someone.email) && /removed/i.test(m.subject ?? ''));
      expect((await call(`/api/admin/accounts/${someone.id}/factors/reset`, { method: 'POST' })).json).to.deep.equal({ removed: 0 });
      expectProblem(await call('/api/admin/accounts/no-such-account/factors/reset', { method: 'POST' }), 404, 'not-found');
    });

    it('POST /api/admin/accounts/:id/disable and /enable', async () => {
      const someone = await person('disabled');
      const rp = await signIn(backendConfig, new Agent(), someone.email, USER_PASSWORD, { scope: 'openid offline_access' });
      expectOk(await call(`/api/admin/accounts/${someone.id}/disable`, { method: 'POST' }), 204);
      expect((await userDoc(someone.id)).status).to.equal('disabled');
      expect(await signsIn(someone.email, USER_PASSWORD)).to.equal(false);
      expect(await oidc.refreshTokenGrant(backendConfig, rp.tokens.refresh_token!).catch((e: Error) => e)).to.be.instanceOf(oidc.ResponseBodyError);
      expectOk(await call(`/api/admin/accounts/${someone.id}/disable`, { method: 'POST' }), 204); // again: still disabled

      expectOk(await call(`/api/admin/accounts/${someone.id}/enable`, { method: 'POST', token: clientToken }), 204);
      expect((await userDoc(someone.id)).status).to.equal('active');
      expect(await signsIn(someone.email, USER_PASSWORD)).to.equal(true);
      const events = (await auditOf(someone.id)).filter((r) => r.event.startsWith('account.')).map((r) => [r.event, r.actor]);
      expect(events.slice(0, 2)).to.deep.equal([['account.enabled', 'client:automation'], ['account.disabled', `admin:${adminId}`]]);
      expectProblem(await call('/api/admin/accounts/no-such-account/disable', { method: 'POST' }), 404, 'not-found');
      expectProblem(await call('/api/admin/accounts/no-such-account/enable', { method: 'POST' }), 404, 'not-found');
    });
  });

  describe('GET /api/admin/audit', () => {
    it('lists events newest first, filtered by account, event and time, with the right actors', async () => {
      const someone = await person('audited');
      const start = new Date().toISOString();
      await call(`/api/admin/accounts/${someone.id}`, { method: 'PATCH', body: { notes: 'first' } });
      await call(`/api/admin/accounts/${someone.id}/revoke`, { method: 'POST', token: clientToken });
      await call(`/api/admin/accounts/${someone.id}/unlock`, { method: 'POST' });

      const all = await call(`/api/admin/audit?user_id=${someone.id}&since=${encodeURIComponent(start)}`);
      expectOk(all, 200);
      expect(all.json.items.map((r: { event: string; actor: string }) => [r.event, r.actor])).to.deep.equal([
        ['account.unlocked', `admin:${adminId}`],
        ['signout.everywhere', 'client:automation'],
        ['account.updated', `admin:${adminId}`],
      ]);
      const first = all.json.items[0];
      expect(Object.keys(first).sort()).to.deep.equal(['actor', 'at', 'details', 'event', 'id', 'ip', 'userAgent', 'userId']);
      expect(first.userId).to.equal(someone.id);
      expect(first.ip).to.be.a('string');
      expect(Date.parse(first.at)).to.be.at.least(Date.parse(start));

      const byEvents = await call(`/api/admin/audit?user_id=${someone.id}&event=account.unlocked,account.updated`);
      expect(byEvents.json.items.map((r: { event: string }) => r.event)).to.deep.equal(['account.unlocked', 'account.updated']);
      const repeated = await call(`/api/admin/audit?user_id=${someone.id}&event=signout.everywhere&event=account.updated`);
      expect(repeated.json.items.map((r: { event: string }) => r.event)).to.deep.equal(['signout.everywhere', 'account.updated']);
      const limited = await call(`/api/admin/audit?user_id=${someone.id}&limit=1`);
      expect(limited.json.items.map((r: { event: string }) => r.event)).to.deep.equal(['account.unlocked']);
      const older = await call(`/api/admin/audit?user_id=${someone.id}&until=${encodeURIComponent(limited.json.items[0].at)}&limit=500`);
      expect(older.json.items.map((r: { event: string }) => r.event)).to.not.include('account.unlocked');
      const none = await call(`/api/admin/audit?user_id=${someone.id}&until=${encodeURIComponent(start)}&event=account.updated`);
      expect(none.json.items).to.deep.equal([]);
      const everyone = await call('/api/admin/audit?limit=5');
      expect(everyone.json.items).to.have.length(5);
      const times = everyone.json.items.map((r: { at: string }) => Date.parse(r.at));
      expect(times).to.deep.equal([...times].sort((a, b) => b - a));
    });
  });

  describe('bad input', () => {
    let target: { id: string; email: string };
    before(async () => {
      target = await person('bad-input');
    });

    const big = 'z'.repeat(20_000);
    const bodyRoutes: Array<{ method: string; path: string; valid: () => Record<string, unknown>; fields: string[] }> = [
      { method: 'POST', path: '/api/admin/accounts', valid: () => ({ email: 'admin-api-never-created@example.com', invite: true }), fields: ['email', 'name', 'groups', 'temporary_password', 'invite', 'client_id'] },
      { method: 'PATCH', path: '/api/admin/accounts/:id', valid: () => ({ name: 'Never Stored' }), fields: ['name', 'groups', 'notes'] },
      { method: 'POST', path: '/api/admin/accounts/:id/temporary-password', valid: () => ({ password: 'never stored passphrase 5' }), fields: ['password'] },
      ...['reset-email', 'revoke', 'unlock', 'disable', 'enable'].map((action) => ({ method: 'POST', path: `/api/admin/accounts/:id/${action}`, valid: () => ({}), fields: [] })),
      { method: 'PUT', path: '/api/admin/accounts/:id/roles/admin', valid: () => ({}), fields: [] },
      { method: 'DELETE', path: '/api/admin/accounts/:id/roles/admin', valid: () => ({}), fields: [] },
    ];

    for (const route of bodyRoutes) {
      it(`${route.method} ${route.path}: operator objects, wrong types, unknown fields, bad JSON, wrong media type, oversized -> 4xx, nothing stored`, async () => {
        const path = route.path.replace(':id', target.id);
        const cases: Array<[string, string | unknown, string | undefined, number, string, string[]?]> = [
          ['an unknown field', { ...route.valid(), roles: ['admin'] }, undefined, 400, 'invalid-request', ['roles']],
          ['a __proto__ field', `{"__proto__": {"admin": true}${Object.keys(route.valid()).length ? ', ' + JSON.stringify(route.valid()).slice(1, -1) : ''}}`, undefined, 400, 'invalid-request'],
          ...route.fields.map((field): [string, unknown, undefined, number, string, string[]] => [`an operator object for ${field}`, { ...route.valid(), [field]: { $ne: null } }, undefined, 400, 'invalid-request', [field]]),
          ...route.fields.map((field): [string, unknown, undefined, number, string, string[]] => [`a number for ${field}`, { ...route.valid(), [field]: 12345 }, undefined, 400, 'invalid-request', [field]]),
          ['an array body', [route.valid()], undefined, 400, 'invalid-request', ['(body)']],
          ['a JSON string body', '"just a string"', undefined, 400, 'invalid-request'],
          ['invalid JSON', '{"name": "x",', undefined, 400, 'invalid-request'],
          ['a 20 kB body', { ...route.valid(), pad: big }, undefined, 413, 'payload-too-large'],
          ['text/plain', JSON.stringify(route.valid()), 'text/plain', 415, 'unsupported-media-type'],
          ['a form', 'email=a%40example.com', 'application/x-www-form-urlencoded', 415, 'unsupported-media-type'],
        ];
        const before = await stored();
        for (const [what, body, type, status, code, fields] of cases) {
          const answer = await call(path, { method: route.method, body, type });
          try {
            expectProblem(answer, status, code);
            if (fields) expect(fieldsOf(answer)).to.include.members(fields);
          } catch (error) {
            (error as Error).message = `${what}: ${(error as Error).message}`;
            throw error;
          }
          expect(answer.text).to.not.contain('never stored passphrase');
        }
        expect(await stored(), 'nothing stored').to.deep.equal(before);
      });
    }

    it('POST /api/admin/accounts: wrong types and forms of every field', async () => {
      const before = await stored();
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ email: 'not an email', invite: true }, 'email'],
        [{ email: ['a@example.com'], invite: true }, 'email'],
        [{ email: 'x@example.com', invite: 'true' }, 'invite'],
        [{ email: 'x@example.com', invite: true, groups: 'staff' }, 'groups'],
        [{ email: 'x@example.com', invite: true, groups: [{ $ne: null }] }, 'groups.0'],
        [{ email: 'x@example.com', invite: true, groups: Array.from({ length: 51 }, (_, i) => `g${i}`) }, 'groups'],
        [{ email: 'x@example.com', invite: true, name: 'n'.repeat(201) }, 'name'],
        [{ email: 'x@example.com', temporary_password: ['a temporary passphrase 42'] }, 'temporary_password'],
        [{ email: 'x@example.com', invite: true, client_id: '' }, 'client_id'],
      ];
      for (const [body, field] of cases) {
        const answer = await call('/api/admin/accounts', { method: 'POST', body });
        expectProblem(answer, 400, 'invalid-request');
        expect(fieldsOf(answer), JSON.stringify(body).slice(0, 100)).to.include(field);
      }
      expect(await stored()).to.deep.equal(before);
    });

    it('query strings: unknown, repeated and malformed parameters -> 400 naming them', async () => {
      const cases: Array<[string, string[]]> = [
        ['/api/admin/accounts?role=admin', ['role']],
        ['/api/admin/accounts?q[$ne]=x', ['q[$ne]']],
        ['/api/admin/accounts?q=a&q=b', ['q']],
        ['/api/admin/accounts?status=bogus', ['status']],
        ['/api/admin/accounts?page=abc', ['page']],
        ['/api/admin/accounts?page=0', ['page']],
        ['/api/admin/accounts?page=1.5', ['page']],
        ['/api/admin/accounts?pageSize=201', ['pageSize']],
        [`/api/admin/accounts?q=${'q'.repeat(101)}`, ['q']],
        ['/api/admin/accounts?__proto__=x', ['__proto__']],
        ['/api/admin/audit?event=not.an.event', ['event.0']],
        ['/api/admin/audit?since=yesterday', ['since']],
        ['/api/admin/audit?until=2024-13-01T00:00:00Z', ['until']],
        ['/api/admin/audit?limit=501', ['limit']],
        ['/api/admin/audit?limit=-1', ['limit']],
        ['/api/admin/audit?user_id=a&user_id=b', ['user_id']],
        ['/api/admin/audit?user_id[$ne]=x', ['user_id[$ne]']],
        [`/api/admin/audit?user_id=${'u'.repeat(201)}`, ['user_id']],
      ];
      for (const [path, fields] of cases) {
        const answer = await call(path);
        expectProblem(answer, 400, 'invalid-request');
        expect(fieldsOf(answer), path).to.include.members(fields);
      }
    });

    it('unknown paths are 404 and other methods 405 with Allow, as problems', async () => {
      expectProblem(await call('/api/admin/nothing-here'), 404, 'about:blank');
      expectProblem(await call(`/api/admin/accounts/${target.id}/roles/owner`, { method: 'PUT' }), 404, 'about:blank');
      const cases: Array<[string, string, string]> = [
        ['/api/admin/accounts', 'DELETE', 'GET, HEAD, POST'],
        [`/api/admin/accounts/${target.id}`, 'PUT', 'GET, HEAD, PATCH, DELETE'],
        [`/api/admin/accounts/${target.id}/revoke`, 'GET', 'POST'],
        [`/api/admin/accounts/${target.id}/roles/admin`, 'POST', 'PUT, DELETE'],
        ['/api/admin/audit', 'POST', 'GET, HEAD'],
      ];
      for (const [path, method, allow] of cases) {
        const answer = await call(path, { method });
        expectProblem(answer, 405, 'about:blank');
        expect(answer.headers.get('allow')).to.equal(allow);
      }
      const options = await call(`/api/admin/accounts/${target.id}/roles/admin`, { method: 'OPTIONS', token: null, headers: { origin: 'https://elsewhere.example' } });
      expect(options.status).to.equal(204);
      expect(options.headers.get('allow')).to.equal('PUT, DELETE');
      expect(options.headers.get('access-control-allow-origin')).to.equal(null);
    });
  });

  describe('the OpenAPI document', () => {
    let doc: Record<string, any>;
    before(async () => {
      doc = (await call('/api/openapi.json', { token: null })).json;
    });

    /** `method path` of every operation the document lists. */
    const documentedOperations = () => Object.entries(doc.paths as Record<string, object>)
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`)).sort();

    it('lists exactly the operations the router serves', () => {
      // The routes the API router registers, without the 405/OPTIONS fallbacks and the catch-all 404.
      const served = apiRoutes(server.deps).stack
        .filter((layer) => layer.methods.length && layer.methods.length < 5)
        .flatMap((layer) => layer.methods.filter((method) => method !== 'HEAD').map((method) => `${method} ${String(layer.path).replace(/:(\w+)/g, '{$1}')}`))
        .sort();
      expect(served).to.have.length.greaterThan(10);
      expect(documentedOperations()).to.deep.equal(served);
    });

    it('describes every admin operation, with both ways to authenticate and its errors', () => {
      const operations = documentedOperations().filter((operation) => operation.includes(' /api/admin'));
      // The webhook endpoints are counted in webhooks.test.ts, the sessions ones in sessions.test.ts, the email one in email-change.test.ts,
      // the deletion (DELETE /api/admin/accounts/{id}) in account-deletion.test.ts.
      expect(operations.filter((operation) => !operation.includes(' /api/admin/webhooks') && !/\/sessions(\/|$)|\/email$/.test(operation) && operation !== 'DELETE /api/admin/accounts/{id}')).to.have.length(16);
      for (const key of operations) {
        const [method, path] = key.split(' ') as [string, string];
        const operation = doc.paths[path][method.toLowerCase()];
        const successes = Object.keys(operation.responses).filter((status) => /^2/.test(status));
        expect(successes, key).to.have.length(1);
        expect(operation.security, key).to.deep.equal([{ bearerAuth: ['admin'] }, { adminClientCredentials: ['admin'] }]);
        expect(Object.keys(operation.responses), key).to.include.members(['401', '403']);
        if (path.includes('{id}')) expect(Object.keys(operation.responses)).to.include('404');
        if (method !== 'GET') expect(Object.keys(operation.responses)).to.include.members(['400', '413', '415']);
      }
      expect(Object.keys(doc.paths['/api/admin/accounts'].post.responses)).to.include('409');
      expect(doc.paths['/api/admin/accounts/{id}/roles/admin'].delete.responses['409'].description).to.contain('own-admin-access');
      expect(doc.paths['/api/admin/accounts'].get.parameters.map((p: { name: string }) => p.name)).to.deep.equal(['q', 'status', 'page', 'pageSize']);
      expect(doc.paths['/api/admin/audit'].get.parameters.map((p: { name: string }) => p.name)).to.deep.equal(['user_id', 'event', 'since', 'until', 'limit']);
      const scheme = doc.components.securitySchemes.adminClientCredentials;
      expect(scheme).to.include({ type: 'oauth2' });
      expect(scheme.flows.clientCredentials).to.deep.include({ tokenUrl: `${server.url}/token`, scopes: { admin: scheme.flows.clientCredentials.scopes.admin } });
      expect(scheme.description).to.contain('client credentials');
      // Every $ref resolves, and every problem type named exists.
      const text = JSON.stringify(doc);
      for (const [, name] of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) expect(doc.components.schemas, name).to.have.property(name!);
      for (const [, code] of text.matchAll(/\/api\/problems\/([a-z-]+)/g)) expect(PROBLEM_CODES, code).to.include(code);
      expect(doc.components.schemas.AccountDetail.properties).to.not.have.property('passwordHash');
    });

    it('its admin request schemas are the routes\' schemas', () => {
      for (const [name, schema] of Object.entries(ADMIN_REQUEST_SCHEMAS)) {
        const documented = doc.components.schemas[name];
        expect(documented, name).to.be.an('object');
        expect(documented.additionalProperties, name).to.equal(false);
        for (const example of documented.examples ?? []) expect((schema as z.ZodType).safeParse(example).success, `${name} ${JSON.stringify(example)}`).to.equal(true);
        expect((schema as z.ZodType).safeParse({ unknown: 1 }).success).to.equal(false);
      }
      expect(doc.components.schemas.AdminCreateAccountRequest.required).to.deep.equal(['email']);
      expect(doc.components.schemas.AdminTemporaryPasswordRequest.required).to.deep.equal(['password']);
      expect(doc.components.schemas.AdminEditAccountRequest.minProperties).to.equal(1);
      const events = doc.paths['/api/admin/audit'].get.parameters.find((p: { name: string }) => p.name === 'event');
      expect(events.schema.items.enum).to.deep.equal([...AUDIT_EVENTS]);
    });
  });
});
