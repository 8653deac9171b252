// SCIM 2.0 at /scim/v2 end to end, as a directory service (Entra ID, Okta) drives
// it: a real server, database and SMTP server, client credentials tokens from the
// token endpoint, and the request sequences those services send.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { ClientMetadata } from 'oidc-provider';
import type { ParsedMail } from 'mailparser';
import { createUser } from '../../src/accounts/users.ts';
import { normalizeEmail } from '../../src/accounts/email.ts';
import { callApi, type Answer, type CallInit } from '../helpers/api.ts';
import { startTestServer, useTestServer } from '../helpers/server.ts';
import { discover, publicClient, signIn } from '../helpers/rp.ts';
import { Agent } from '../helpers/agent.ts';
import { generateRecoveryCodes } from '../../src/accounts/factors.ts';
import { cliEnvironment, runCli } from '../helpers/cli.ts';

const ccClient = (client_id: string, scope?: string) => ({
  client_id,
  client_secret: `${client_id}-secret-that-is-long-enough-0000`,
  grant_types: ['client_credentials'],
  ...(scope === undefined ? {} : { scope }),
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
}) as ClientMetadata;
const directory = ccClient('directory', 'scim');
const app = publicClient({ scope: 'openid email profile offline_access' }); // a relying party people sign in to
const automation = ccClient('automation', 'admin'); // the admin scope does not imply scim
const unscoped = ccClient('unscoped'); // no scope metadata: the provider grants any scope; SCIM must not

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

describe('SCIM 2.0', function () {
  this.timeout(120_000);
  const { server, smtp } = useTestServer({ clients: [directory, automation, unscoped, app], smtp: true });
  let token: string;
  let counter = 0;
  const unique = (tag: string) => `scim-${tag}-${++counter}@example.com`;

  let appConfig: oidc.Configuration;

  before(async () => {
    token = (await oidc.clientCredentialsGrant(await discover(server.url, directory), { scope: 'scim' })).access_token;
    appConfig = await discover(server.url, app);
  });

  const scim = (path: string, init: CallInit = {}) => callApi(server.url, `/scim/v2${path}`, {
    ...init, token: init.token === undefined ? token : init.token, type: init.type ?? 'application/scim+json',
  });
  const users = () => server.database.connection.collection('users');
  const groups = () => server.database.connection.collection('groups');
  const audit = () => server.database.connection.collection('audit_events');

  function expectOk(answer: Answer, status: number): void {
    expect(answer.status, answer.text.slice(0, 500)).to.equal(status);
    if (status !== 204) expect(answer.headers.get('content-type')).to.match(/^application\/scim\+json/);
  }
  function expectError(answer: Answer, status: number, scimType?: string): void {
    expect(answer.status, answer.text.slice(0, 500)).to.equal(status);
    expect(answer.headers.get('content-type')).to.match(/^application\/scim\+json/);
    expect(answer.json.schemas).to.deep.equal([ERROR]);
    expect(answer.json.status).to.equal(String(status));
    expect(answer.json.detail).to.be.a('string').and.not.equal('');
    if (scimType) expect(answer.json.scimType).to.equal(scimType);
    expect(answer.text).to.not.match(/\bat \S+ \(|node_modules|\.ts:\d+|Error:/);
  }
  const newUser = (email: string, extra: Record<string, unknown> = {}) => ({
    schemas: [USER, ENTERPRISE],
    userName: email,
    externalId: `ext-${email}`,
    name: { givenName: 'Grace', familyName: 'Hopper' },
    displayName: 'Grace Hopper',
    emails: [{ value: email, type: 'work', primary: true }],
    locale: 'en-GB',
    active: true,
    [ENTERPRISE]: { department: 'Navy', employeeNumber: '1906' },
    ...extra,
  });
  const patch = (...operations: unknown[]) => ({ schemas: [PATCH], Operations: operations });
  const mailTo = (to: string) => smtp.waitFor((m: ParsedMail) => (m.to as { text: string }).text.includes(to), 10_000);

  describe('discovery and access', () => {
    it('describes itself: ServiceProviderConfig, ResourceTypes, Schemas', async () => {
      const config = await scim('/ServiceProviderConfig');
      expectOk(config, 200);
      expect(config.json.patch.supported).to.equal(true);
      expect(config.json.filter).to.deep.equal({ supported: true, maxResults: 200 });
      expect(config.json.etag.supported).to.equal(true);
      expect(config.json.bulk.supported).to.equal(false);
      const types = await scim('/ResourceTypes');
      expect(types.json.Resources.map((t: { id: string }) => t.id)).to.deep.equal(['User', 'Group']);
      expect((await scim('/ResourceTypes/User')).json.schemaExtensions[0].schema).to.equal(ENTERPRISE);
      const schemas = await scim('/Schemas');
      expect(schemas.json.Resources.map((s: { id: string }) => s.id)).to.include.members([USER, GROUP, ENTERPRISE]);
      const user = await scim(`/Schemas/${USER}`);
      expect(user.json.attributes.map((a: { name: string }) => a.name)).to.include.members(['id', 'externalId', 'userName', 'name', 'active', 'emails', 'groups']);
      expectError(await scim('/Schemas/urn:nothing'), 404);
      expectError(await scim('/Nowhere'), 404);
      const notAllowed = await scim('/ServiceProviderConfig', { method: 'POST', body: {} });
      expectError(notAllowed, 405);
      expect(notAllowed.headers.get('allow')).to.equal('GET');
      expect((await scim('/Users/x', { method: 'POST', body: {} })).headers.get('allow')).to.equal('GET, PUT, PATCH, DELETE');
      expectError(await scim('/Bulk', { method: 'POST', body: {} }), 501);
    });

    it('connects a directory as the README says: client:add with the scim scope, a token from /token, then /scim/v2', async () => {
      const metadata = {
        client_id: 'directory-sync', client_name: 'Directory provisioning', grant_types: ['client_credentials'], scope: 'scim',
        token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [], response_types: [],
      };
      // The operator's CLI shares the server's data directory (its DATA_KEYS).
      const run = await runCli(['client:add'], cliEnvironment(server.database.name, { DATA_DIR: server.deps.config.dataDir }), JSON.stringify(metadata));
      expect(run.code, run.stderr).to.equal(0);
      const secret = (await server.database.connection.collection('oidc_client').findOne({ _id: 'directory-sync' as never }))!.payload.client_secret as string;
      const issued = await oidc.clientCredentialsGrant(await discover(server.url, { ...metadata, client_secret: secret } as ClientMetadata), { scope: 'scim' });
      const answer = await scim('/Users?count=1', { token: issued.access_token });
      expectOk(answer, 200);
      expect(answer.json.schemas).to.deep.equal(['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
    });

    it('takes only client credentials tokens with the scim scope of clients registered for it', async () => {
      const none = await scim('/Users', { token: null });
      expectError(none, 401);
      expect(none.headers.get('www-authenticate')).to.match(/^Bearer realm=/);
      const garbage = await scim('/Users', { token: 'not-a-token' });
      expectError(garbage, 401);
      expect(garbage.headers.get('www-authenticate')).to.match(/error="invalid_token"/);

      // Registered for admin only: the provider will not grant scim, and an admin token is not enough.
      const refused = await oidc.clientCredentialsGrant(await discover(server.url, automation), { scope: 'scim' }).catch((e: Error) => e);
      expect(refused).to.be.instanceOf(Error);
      const adminToken = (await oidc.clientCredentialsGrant(await discover(server.url, automation), { scope: 'admin' })).access_token;
      expectError(await scim('/Users', { token: adminToken }), 403);
      expect(adminToken).to.be.a('string');
      // No scope metadata: scim is an operator scope, granted only to clients that register it.
      const loose = await oidc.clientCredentialsGrant(await discover(server.url, unscoped), { scope: 'scim' }).catch((e: Error) => e);
      expect(loose).to.be.instanceOf(Error);
      const other = (await oidc.clientCredentialsGrant(await discover(server.url, unscoped), { scope: 'openid' })).access_token;
      const forbidden = await scim('/Users', { token: other });
      expectError(forbidden, 403);
      expect(forbidden.headers.get('www-authenticate')).to.match(/insufficient_scope/);
    });
  });

  describe('users, as a directory provisions them', () => {
    it('creates an invited account (the invitation is emailed), found by userName and externalId, audited with the client as actor', async () => {
      const email = unique('create');
      expect((await scim(`/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`)).json.totalResults).to.equal(0);

      const created = await scim('/Users', { method: 'POST', body: newUser(email) });
      expectOk(created, 201);
      const id = created.json.id as string;
      expect(created.headers.get('location')).to.equal(`${server.url}/scim/v2/Users/${id}`);
      expect(created.headers.get('etag')).to.match(/^W\/".+"$/);
      expect(created.json).to.deep.include({ userName: email, displayName: 'Grace Hopper', active: true, externalId: `ext-${email}`, locale: 'en-GB' });
      expect(created.json.name).to.deep.equal({ formatted: 'Grace Hopper', givenName: 'Grace', familyName: 'Hopper' });
      expect(created.json[ENTERPRISE]).to.deep.equal({ employeeNumber: '1906', department: 'Navy' });
      expect(created.json.meta).to.include({ resourceType: 'User', location: `${server.url}/scim/v2/Users/${id}`, version: created.headers.get('etag') });
      expect(created.json).to.not.have.property('password');

      const invitation = await mailTo(email);
      expect(smtp.linkIn(invitation)).to.match(/\/password\/set\?token=/);
      const stored = await users().findOne({ _id: id as never });
      expect(stored).to.include({ status: 'invited', passwordHash: null, externalId: `ext-${email}`, name: 'Grace Hopper' });

      const byUserName = await scim(`/Users?filter=${encodeURIComponent(`userName eq "${email.toUpperCase()}"`)}`);
      expectOk(byUserName, 200);
      expect(byUserName.json).to.deep.include({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 1, startIndex: 1, itemsPerPage: 1 });
      expect(byUserName.json.Resources[0].id).to.equal(id);
      const byExternalId = await scim(`/Users?filter=${encodeURIComponent(`externalId eq "ext-${email}"`)}`);
      expect(byExternalId.json.Resources.map((r: { id: string }) => r.id)).to.deep.equal([id]);
      const get = await scim(`/Users/${id}`);
      expectOk(get, 200);
      expect(get.headers.get('etag')).to.equal(created.headers.get('etag'));

      const records = await audit().find({ userId: id }).toArray();
      expect(records.map((r) => r.event)).to.include.members(['invite.sent', 'account.created']);
      expect(records.find((r) => r.event === 'account.created')!.actor).to.equal('client:directory');
    });

    it('creates with a temporary password (changed at first sign-in, no email), or without an invitation when asked; refuses a weak password', async () => {
      const temporary = unique('temporary');
      const created = await scim('/Users', { method: 'POST', body: newUser(temporary, { password: 'tempor4ry horse battery' }) });
      expectOk(created, 201);
      const stored = await users().findOne({ _id: created.json.id });
      expect(stored).to.include({ status: 'active', mustChangePassword: true });
      expect(stored!.passwordHash).to.match(/^\$argon2id\$/);

      const quiet = unique('quiet');
      const waiting = await scim('/Users', {
        method: 'POST',
        body: { ...newUser(quiet), schemas: [USER, 'urn:latchkey:params:scim:schemas:extension:provisioning:2.0:User'], [ENTERPRISE]: undefined, 'urn:latchkey:params:scim:schemas:extension:provisioning:2.0:User': { sendInvitation: false } },
      });
      expectOk(waiting, 201);
      expect(await users().findOne({ _id: waiting.json.id })).to.include({ status: 'invited', passwordHash: null });

      const weak = await scim('/Users', { method: 'POST', body: newUser(unique('weak'), { password: 'password' }) });
      expectError(weak, 400, 'invalidValue');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(smtp.messages.some((m) => (m.to as { text: string }).text.includes(temporary) || (m.to as { text: string }).text.includes(quiet))).to.equal(false);
    });

    it('PATCH active false disables and signs out everywhere; true enables again (Entra ID\'s "False" string too)', async () => {
      const email = unique('active');
      const { json: { id } } = await scim('/Users', { method: 'POST', body: newUser(email, { password: 'tempor4ry horse battery' }) });
      // A session and a grant of the person, as the provider stores them.
      await server.database.connection.collection('oidc_session').insertOne({ _id: 'scim-session' as never, payload: { accountId: id, uid: 'u1' }, expiresAt: new Date(Date.now() + 3_600_000) });
      await server.database.connection.collection('oidc_grant').insertOne({ _id: 'scim-grant' as never, payload: { accountId: id, clientId: 'x' }, expiresAt: new Date(Date.now() + 3_600_000) });

      const off = await scim(`/Users/${id}`, { method: 'PATCH', body: patch({ op: 'Replace', path: 'active', value: 'False' }) });
      expectOk(off, 200);
      expect(off.json.active).to.equal(false);
      expect(await users().findOne({ _id: id })).to.include({ status: 'disabled' });
      expect(await server.database.connection.collection('oidc_session').countDocuments({ 'payload.accountId': id })).to.equal(0);
      expect(await server.database.connection.collection('oidc_grant').countDocuments({ 'payload.accountId': id })).to.equal(0);
      const disabled = await audit().findOne({ userId: id, event: 'account.disabled' });
      expect(disabled!.actor).to.equal('client:directory');
      expect((await scim(`/Users?filter=${encodeURIComponent(`active eq false and userName eq "${email}"`)}`)).json.totalResults).to.equal(1);

      const on = await scim(`/Users/${id}`, { method: 'PATCH', body: patch({ op: 'replace', value: { active: true } }) });
      expect(on.json.active).to.equal(true);
      expect(await users().findOne({ _id: id })).to.include({ status: 'active' });
    });

    it('an account created inactive is not invited until it is enabled; a refused password changes nothing', async () => {
      const email = unique('prehire');
      const created = await scim('/Users', { method: 'POST', body: newUser(email, { active: false }) });
      expectOk(created, 201);
      expect(created.json.active).to.equal(false);
      expect(await users().findOne({ _id: created.json.id })).to.include({ status: 'disabled', statusBeforeDisable: 'invited' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(smtp.messages.some((m) => (m.to as { text: string }).text.includes(email))).to.equal(false);

      expectOk(await scim(`/Users/${created.json.id}`, { method: 'PATCH', body: patch({ op: 'replace', path: 'active', value: true }) }), 200);
      expect(await users().findOne({ _id: created.json.id })).to.include({ status: 'invited' });
      const invitation = await mailTo(email);
      expect(smtp.linkIn(invitation)).to.match(/\/password\/set\?token=/);

      const weak = await scim(`/Users/${created.json.id}`, { method: 'PATCH', body: patch({ op: 'replace', value: { displayName: 'Changed', password: 'password' } }) });
      expectError(weak, 400, 'invalidValue');
      expect(await users().findOne({ _id: created.json.id })).to.include({ name: 'Grace Hopper', passwordHash: null });
    });

    it('a new userName ends the links sent to the old address; someone still invited is invited again at the new one', async () => {
      const email = unique('moving');
      const { json: { id } } = await scim('/Users', { method: 'POST', body: newUser(email) });
      const first = smtp.linkIn(await mailTo(email));
      const moved = unique('moved');
      expectOk(await scim(`/Users/${id}`, { method: 'PATCH', body: patch({ op: 'replace', path: 'userName', value: moved }) }), 200);
      const second = smtp.linkIn(await mailTo(moved));
      expect(second).to.not.equal(first);
      const links = await server.database.connection.collection('one_time_links').find({ userId: id, usedAt: null }).toArray();
      expect(links).to.have.length(1);
      const old = await fetch(first);
      expect(await old.text()).to.not.match(/name="password"/);
      const fresh = await fetch(second);
      expect(await fresh.text()).to.match(/name="password"/);
    });

    it('PATCHes the paths directories send (valuePath filters, sub-attributes, the enterprise extension) and PUT replaces', async () => {
      const email = unique('patch');
      const { json: { id } } = await scim('/Users', { method: 'POST', body: newUser(email) });
      const changed = unique('patched');
      const manager = (await createUser(server.deps, { email: unique('manager') }))._id;
      const patched = await scim(`/Users/${id}`, {
        method: 'PATCH',
        body: patch(
          { op: 'replace', path: 'emails[type eq "work"].value', value: changed },
          { op: 'replace', path: 'userName', value: changed },
          { op: 'replace', path: 'name.familyName', value: 'Murray Hopper' },
          { op: 'replace', path: 'displayName', value: 'Grace Murray Hopper' },
          { op: 'add', path: 'phoneNumbers[type eq "work"].value', value: '+1 555 0100' },
          { op: 'add', path: 'addresses[type eq "work"].locality', value: 'Arlington' },
          { op: 'add', path: `${ENTERPRISE}:manager`, value: manager },
          { op: 'remove', path: `${ENTERPRISE}:employeeNumber` },
          { op: 'replace', path: `${ENTERPRISE}:department`, value: 'Computing' },
        ),
      });
      expectOk(patched, 200);
      expect(patched.json).to.deep.include({ userName: changed, displayName: 'Grace Murray Hopper' });
      expect(patched.json.emails).to.deep.equal([{ value: changed, type: 'work', primary: true }]);
      expect(patched.json.phoneNumbers[0].value).to.equal('+1 555 0100');
      expect(patched.json.addresses[0]).to.include({ locality: 'Arlington' });
      expect(patched.json[ENTERPRISE]).to.deep.equal({ department: 'Computing', manager: { value: manager, $ref: `${server.url}/scim/v2/Users/${manager}` } });
      const stored = await users().findOne({ _id: id });
      expect(stored).to.include({ email: changed, emailNormalized: normalizeEmail(changed), name: 'Grace Murray Hopper', phoneNumber: '+1 555 0100' });
      expect(stored!.searchTerms).to.include('murray');
      expect(stored!.address).to.include({ locality: 'Arlington' });

      // The name shows as both displayName and name.formatted: changing either changes it.
      const formatted = await scim(`/Users/${id}`, { method: 'PATCH', body: patch({ op: 'replace', path: 'name.formatted', value: 'Rear Admiral Hopper' }) });
      expect(formatted.json).to.deep.include({ displayName: 'Rear Admiral Hopper' });
      expect(formatted.json.name).to.include({ formatted: 'Rear Admiral Hopper', givenName: 'Grace', familyName: 'Murray Hopper' });

      // PUT: what is not sent is cleared (the phone, the address, the extension).
      const replaced = await scim(`/Users/${id}`, { method: 'PUT', body: { schemas: [USER], userName: changed, displayName: 'G. Hopper', externalId: 'new-ext' } });
      expectOk(replaced, 200);
      expect(replaced.json).to.not.have.any.keys('phoneNumbers', 'addresses', ENTERPRISE, 'locale');
      expect(await users().findOne({ _id: id })).to.include({ name: 'G. Hopper', externalId: 'new-ext', phoneNumber: null, locale: null });
      const updates = await audit().find({ userId: id, event: 'account.updated' }).toArray();
      expect(updates.length).to.be.at.least(2);
      expect(updates.every((r) => r.actor === 'client:directory')).to.equal(true);
    });

    it('a userName already in use by another account: PATCH and PUT are 409 uniqueness, and nothing changes', async () => {
      const taken = unique('taken');
      await scim('/Users', { method: 'POST', body: newUser(taken) });
      const mine = unique('mine');
      const { json: { id } } = await scim('/Users', { method: 'POST', body: newUser(mine) });
      expectError(await scim(`/Users/${id}`, { method: 'PATCH', body: patch({ op: 'replace', path: 'userName', value: taken.toUpperCase() }) }), 409, 'uniqueness');
      expectError(await scim(`/Users/${id}`, { method: 'PUT', body: { schemas: [USER], userName: taken } }), 409, 'uniqueness');
      expect(await users().findOne({ _id: id })).to.include({ emailNormalized: normalizeEmail(mine) });
    });

    it('ETags: If-Match with the current version succeeds, with an old one is 412', async () => {
      const { json: { id }, headers } = await scim('/Users', { method: 'POST', body: newUser(unique('etag')) });
      const first = headers.get('etag')!;
      const changed = await scim(`/Users/${id}`, { method: 'PATCH', headers: { 'if-match': first }, body: patch({ op: 'replace', path: 'displayName', value: 'Version Two' }) });
      expectOk(changed, 200);
      expect(changed.headers.get('etag')).to.not.equal(first);
      expectError(await scim(`/Users/${id}`, { method: 'PATCH', headers: { 'if-match': first }, body: patch({ op: 'replace', path: 'displayName', value: 'Lost Update' }) }), 412);
      expectError(await scim(`/Users/${id}`, { method: 'DELETE', headers: { 'if-match': first } }), 412);
      expect((await users().findOne({ _id: id }))!.name).to.equal('Version Two');
    });

    it('two concurrent creates of one userName: one 201, one 409 uniqueness', async () => {
      const email = unique('race');
      const answers = await Promise.all([
        scim('/Users', { method: 'POST', body: newUser(email) }),
        scim('/Users', { method: 'POST', body: newUser(email.toUpperCase()) }),
      ]);
      expect(answers.map((a) => a.status).sort()).to.deep.equal([201, 409]);
      expectError(answers.find((a) => a.status === 409)!, 409, 'uniqueness');
      expect(await users().countDocuments({ emailNormalized: email })).to.equal(1);
    });

    it('DELETE deletes the account and its records, keeps its audit events under a pseudonym, and never the last admin', async () => {
      const email = unique('delete');
      const { json: { id } } = await scim('/Users', { method: 'POST', body: newUser(email, { password: 'tempor4ry horse battery' }) });
      await server.database.connection.collection('one_time_links').insertOne({ _id: `scim-link-${id}` as never, userId: id, purpose: 'reset' });
      await server.database.connection.collection('lockouts').insertOne({ _id: `account:${id}` as never, userId: id });
      const before = await audit().countDocuments({ userId: id });
      expect(before).to.be.greaterThan(0);
      const followed: Array<{ event: string; userId: string | null; accountId: string | null }> = [];
      server.deps.audit.follow(async (records) => void followed.push(...records));

      expectOk(await scim(`/Users/${id}`, { method: 'DELETE' }), 204);
      // Followers (webhooks) learn which account went; the trail keeps only the pseudonym.
      const told = followed.find((record) => record.event === 'account.deleted');
      expect(told).to.include({ accountId: id });
      expect(told!.userId).to.match(/^deleted:/);
      expectError(await scim(`/Users/${id}`), 404);
      expectError(await scim(`/Users/${id}`, { method: 'DELETE' }), 404);
      expect(await users().countDocuments({ _id: id })).to.equal(0);
      expect(await server.database.connection.collection('one_time_links').countDocuments({ userId: id })).to.equal(0);
      expect(await server.database.connection.collection('lockouts').countDocuments({ _id: `account:${id}` as never })).to.equal(0);
      expect(await audit().countDocuments({ userId: id })).to.equal(0);
      const deleted = await audit().findOne({ event: 'account.deleted', actor: 'client:directory' });
      expect(deleted!.userId).to.match(/^deleted:/);
      expect(await audit().countDocuments({ userId: deleted!.userId })).to.equal(before + 1);

      const admin = await createUser(server.deps, { email: unique('admin'), password: 'lighthouse keeper vinyl 91', roles: ['admin'] });
      const refused = await scim(`/Users/${admin._id}`, { method: 'DELETE' });
      expectError(refused, 409);
      expect(refused.json.detail).to.match(/last active administrator/);
      expect(await users().countDocuments({ _id: admin._id as never })).to.equal(1);
      expect((await users().findOne({ _id: admin._id as never }))!.roles).to.deep.equal(['admin']);

      // Two concurrent deletions of the last two administrators: never both.
      const second = await createUser(server.deps, { email: unique('admin'), password: 'lighthouse keeper vinyl 91', roles: ['admin'] });
      const answers = await Promise.all([admin._id, second._id].map((id) => scim(`/Users/${id}`, { method: 'DELETE' })));
      expect(answers.map((a) => a.status)).to.include(409);
      expect(await users().countDocuments({ roles: 'admin', status: 'active' })).to.equal(answers.filter((a) => a.status === 409).length);
    });

    it('DELETE of a signed-in person with a second factor: tokens stop working, factors and sessions go, their acts as an operator are pseudonymised', async () => {
      const email = unique('signed-in');
      const password = 'a person who will leave 77';
      const person = await createUser(server.deps, { email, password, name: 'Leaving Soon' });
      const { tokens } = await signIn(appConfig, new Agent(), email, password, { scope: 'openid email offline_access' });
      await generateRecoveryCodes(server.deps.factors, person._id);
      await server.database.connection.collection('trusted_browsers').insertOne({ _id: `${person._id}:device` as never, userId: person._id, deviceId: 'device', createdAt: new Date(), expiresAt: new Date(Date.now() + 86_400_000) });
      await server.database.connection.collection('passkeys').insertOne({ _id: `passkey-${person._id}` as never, userId: person._id });
      // As if this person had acted as an administrator on someone else.
      const actId = `scim-act-${++counter}`;
      await audit().insertOne({ _id: actId as never, at: new Date(), event: 'account.updated', userId: 'someone-else', actor: `admin:${person._id}`, ip: null, userAgent: null, details: {}, expiresAt: new Date(Date.now() + 86_400_000) });
      expect(await server.database.connection.collection('factors').countDocuments({ userId: person._id })).to.equal(1);
      expect(await server.database.connection.collection('oidc_session').countDocuments({ 'payload.accountId': person._id })).to.equal(1);

      expectOk(await scim(`/Users/${person._id}`, { method: 'DELETE' }), 204);
      const userinfo = await oidc.fetchUserInfo(appConfig, tokens.access_token, oidc.skipSubjectCheck).catch((e: Error) => e);
      expect(userinfo).to.be.instanceOf(Error);
      const refreshed = await oidc.refreshTokenGrant(appConfig, tokens.refresh_token!).catch((e: Error) => e);
      expect(refreshed).to.be.instanceOf(Error);
      for (const collection of ['factors', 'factor_enrolments', 'portal_sessions', 'trusted_browsers', 'passkeys']) {
        expect(await server.database.connection.collection(collection).countDocuments({ $or: [{ userId: person._id }, { accountId: person._id }] }), collection).to.equal(0);
      }
      for (const collection of ['oidc_session', 'oidc_grant', 'oidc_access_token', 'oidc_refresh_token']) {
        expect(await server.database.connection.collection(collection).countDocuments({ 'payload.accountId': person._id }), collection).to.equal(0);
      }
      const act = await audit().findOne({ _id: actId as never });
      expect(act!.actor).to.match(/^admin:deleted:/);
      const mentions = (await audit().find({}).toArray()).filter((record) => JSON.stringify(record).includes(person._id));
      expect(mentions).to.deep.equal([]);
    });

    it('never takes over an administrator: no userName or password change, and not the last one disabled', async () => {
      const admin = await createUser(server.deps, { email: unique('guarded-admin'), password: 'lighthouse keeper vinyl 91', roles: ['admin'] });
      await users().updateMany({ roles: 'admin', _id: { $ne: admin._id as never } }, { $pull: { roles: 'admin' } as never });
      const takeover = await scim(`/Users/${admin._id}`, { method: 'PATCH', body: patch({ op: 'replace', path: 'userName', value: unique('attacker') }) });
      expectError(takeover, 403);
      expectError(await scim(`/Users/${admin._id}`, { method: 'PATCH', body: patch({ op: 'replace', path: 'password', value: 'an attacker chose this 99' }) }), 403);
      expectError(await scim(`/Users/${admin._id}`, { method: 'PATCH', body: patch({ op: 'replace', path: 'active', value: false }) }), 409);
      expect(await users().findOne({ _id: admin._id as never })).to.include({ email: admin.email, status: 'active', mustChangePassword: false });
      // Their profile is the directory's to keep.
      const renamed = await scim(`/Users/${admin._id}`, { method: 'PATCH', body: patch({ op: 'replace', path: 'displayName', value: 'Ada Admin' }) });
      expectOk(renamed, 200);
    });
  });

  describe('groups', () => {
    async function member(tag: string): Promise<string> {
      return (await scim('/Users', { method: 'POST', body: newUser(unique(tag), { password: 'tempor4ry horse battery' }) })).json.id;
    }
    const groupsOf = async (id: string) => ((await users().findOne({ _id: id as never }))!.groups as string[]);

    it('create with members, add, remove by valuePath and by value list, rename: the groups claim follows', async () => {
      const [a, b, c] = [await member('ga'), await member('gb'), await member('gc')];
      const created = await scim('/Groups', { method: 'POST', body: { schemas: [GROUP], displayName: 'Engineering', externalId: 'g-eng', members: [{ value: a }] } });
      expectOk(created, 201);
      const id = created.json.id as string;
      expect(created.json.members.map((m: { value: string }) => m.value)).to.deep.equal([a]);
      expect(await groupsOf(a)).to.deep.equal(['Engineering']);

      // Entra ID: add members, then remove one by filter.
      expectOk(await scim(`/Groups/${id}`, { method: 'PATCH', body: patch({ op: 'Add', path: 'members', value: [{ value: b }, { value: c }] }) }), 200);
      expect(await groupsOf(b)).to.deep.equal(['Engineering']);
      // Adding a member again changes nothing, not even the version.
      const version = (await scim(`/Groups/${id}`)).headers.get('etag');
      const again = await scim(`/Groups/${id}`, { method: 'PATCH', body: patch({ op: 'Add', path: 'members', value: [{ value: b }] }) });
      expectOk(again, 200);
      expect(again.headers.get('etag')).to.equal(version);
      expectOk(await scim(`/Groups/${id}`, { method: 'PATCH', body: patch({ op: 'Remove', path: `members[value eq "${a}"]` }) }), 200);
      expect(await groupsOf(a)).to.deep.equal([]);
      // Okta style: remove with a value list.
      expectOk(await scim(`/Groups/${id}`, { method: 'PATCH', body: patch({ op: 'remove', path: 'members', value: [{ value: c }] }) }), 200);
      expect(await groupsOf(c)).to.deep.equal([]);
      // Rename: members carry the new name only.
      const renamed = await scim(`/Groups/${id}`, { method: 'PATCH', body: patch({ op: 'replace', value: { displayName: 'Platform' } }) });
      expectOk(renamed, 200);
      expect(await groupsOf(b)).to.deep.equal(['Platform']);
      expect((await scim(`/Users/${b}`)).json.groups).to.deep.equal([{ value: id, display: 'Platform', $ref: `${server.url}/scim/v2/Groups/${id}`, type: 'direct' }]);

      const found = await scim(`/Groups?filter=${encodeURIComponent('displayName eq "platform"')}&excludedAttributes=members`);
      expect(found.json.totalResults).to.equal(1);
      expect(found.json.Resources[0]).to.not.have.property('members');
      expect((await scim(`/Groups?filter=${encodeURIComponent(`members[value eq "${b}"]`)}`)).json.Resources.map((g: { id: string }) => g.id)).to.deep.equal([id]);
      expect((await audit().findOne({ event: 'group.updated', 'details.groupId': id, 'details.renamedFrom': 'Engineering' }))!.actor).to.equal('client:directory');

      expectError(await scim('/Groups', { method: 'POST', body: { schemas: [GROUP], displayName: 'PLATFORM' } }), 409, 'uniqueness');
      // A rename onto another group's name: an update the unique index refuses (FerretDB words it differently from an insert).
      const other = await scim('/Groups', { method: 'POST', body: { schemas: [GROUP], displayName: 'Other team' } });
      expectError(await scim(`/Groups/${other.json.id}`, { method: 'PATCH', body: patch({ op: 'replace', path: 'displayName', value: 'platform' }) }), 409, 'uniqueness');
      expectOk(await scim(`/Groups/${other.json.id}`, { method: 'DELETE' }), 204);
      expectError(await scim(`/Groups/${id}`, { method: 'PATCH', body: patch({ op: 'add', path: 'members', value: [{ value: 'no-such-user' }] }) }), 400, 'invalidValue');

      expectOk(await scim(`/Groups/${id}`, { method: 'DELETE' }), 204);
      expect(await groupsOf(b)).to.deep.equal([]);
      expectError(await scim(`/Groups/${id}`), 404);
    });

    it('If-Match on groups; a change whose instance died part way is finished by the next one', async () => {
      const [a, b, c] = [await member('ia'), await member('ib'), await member('ic')];
      const created = await scim('/Groups', { method: 'POST', body: { schemas: [GROUP], displayName: 'Interrupted', members: [{ value: a }, { value: b }] } });
      const id = created.json.id as string;
      const stale = created.headers.get('etag')!;
      expectOk(await scim(`/Groups/${id}`, { method: 'PATCH', headers: { 'if-match': stale }, body: patch({ op: 'add', path: 'externalId', value: 'x-1' }) }), 200);
      expectError(await scim(`/Groups/${id}`, { method: 'PATCH', headers: { 'if-match': stale }, body: patch({ op: 'add', path: 'externalId', value: 'x-2' }) }), 412);
      expectError(await scim(`/Groups/${id}`, { method: 'DELETE', headers: { 'if-match': stale } }), 412);

      // As a rename to "Renamed" that also removed b and added c leaves things when its instance dies
      // after writing the group: the accounts still as before, the lease lapsed.
      await groups().updateOne({ _id: id as never }, { $set: {
        displayName: 'Renamed', displayNameNormalized: 'renamed', members: [a, c], lockedUntil: new Date(Date.now() - 1000), leaseId: 'dead',
        pending: { previousName: 'Interrupted', removed: [b] },
      } });
      const next = await scim(`/Groups/${id}`, { method: 'PATCH', body: patch({ op: 'replace', path: 'externalId', value: 'x-3' }) });
      expectOk(next, 200);
      expect(await groupsOf(a)).to.deep.equal(['Renamed']);
      expect(await groupsOf(b)).to.deep.equal([]);
      expect(await groupsOf(c)).to.deep.equal(['Renamed']);
      expect(await groups().findOne({ _id: id as never })).to.include({ lockedUntil: null, leaseId: null, pending: null });
    });

    it('two instances on one database: concurrent membership changes through both lose nothing', async () => {
      // A second instance sharing the database and the data directory (its DATA_KEYS), as a cluster's members do.
      const other = await startTestServer({ database: server.database, clients: [directory], env: { DATA_DIR: server.deps.config.dataDir } });
      try {
        const people = await Promise.all(Array.from({ length: 6 }, (_, i) => member(`two${i}`)));
        const { json: { id } } = await scim('/Groups', { method: 'POST', body: { schemas: [GROUP], displayName: 'Two Instances', members: [{ value: people[0] }] } });
        const answers = await Promise.all(people.map((person, i) => callApi(i % 2 ? other.url : server.url, `/scim/v2/Groups/${id}`, {
          method: 'PATCH', token, type: 'application/scim+json',
          body: i === 0 ? patch({ op: 'remove', path: `members[value eq "${person}"]` }) : patch({ op: 'add', path: 'members', value: [{ value: person }] }),
        })));
        for (const answer of answers) expectOk(answer, 200);
        const group = await groups().findOne({ _id: id });
        expect([...group!.members].sort()).to.deep.equal(people.slice(1).sort());
        expect(await groupsOf(people[0]!)).to.deep.equal([]);
        for (const person of people.slice(1)) expect(await groupsOf(person)).to.deep.equal(['Two Instances']);
      } finally {
        await other.stop();
      }
    });

    it('concurrent PATCHes of one group lose no member and leave every account in step', async () => {
      const people = await Promise.all(Array.from({ length: 8 }, (_, i) => member(`con${i}`)));
      const { json: { id } } = await scim('/Groups', { method: 'POST', body: { schemas: [GROUP], displayName: 'Concurrent' } });
      const answers = await Promise.all([
        ...people.map((person) => scim(`/Groups/${id}`, { method: 'PATCH', body: patch({ op: 'add', path: 'members', value: [{ value: person }] }) })),
        scim(`/Groups/${id}`, { method: 'PATCH', body: patch({ op: 'replace', path: 'displayName', value: 'Concurrent Renamed' }) }),
      ]);
      for (const answer of answers) expectOk(answer, 200);
      const group = await groups().findOne({ _id: id });
      expect([...group!.members].sort()).to.deep.equal([...people].sort());
      expect(group!.lockedUntil).to.equal(null);
      for (const person of people) expect(await groupsOf(person)).to.deep.equal(['Concurrent Renamed']);
    });
  });

  describe('paging and filtering', () => {
    it('provisions 1,000 users, pages through them with startIndex and count, and filters with sw, co, pr, and, or', async function () {
      // Provisioned as a directory's first sync does: 1,000 creates, 25 at a time (no invitations: sendInvitation false).
      const PROVISIONING = 'urn:latchkey:params:scim:schemas:extension:provisioning:2.0:User';
      const ids: string[] = [];
      for (let batch = 0; batch < 1000; batch += 25) {
        const created = await Promise.all(Array.from({ length: 25 }, (_, j) => {
          const i = batch + j;
          return scim('/Users', {
            method: 'POST',
            body: {
              schemas: [USER, PROVISIONING], userName: `bulk-${String(i).padStart(4, '0')}@paging.example`, externalId: `bulk-ext-${i}`,
              displayName: `Bulk ${i}`, [PROVISIONING]: { sendInvitation: false },
            },
          });
        }));
        for (const [j, answer] of created.entries()) {
          expectOk(answer, 201);
          ids[batch + j] = answer.json.id;
        }
      }
      const filter = encodeURIComponent('userName sw "bulk-"');
      const seen = new Set<string>();
      for (let startIndex = 1; startIndex <= 1000; startIndex += 200) {
        const page = await scim(`/Users?filter=${filter}&startIndex=${startIndex}&count=200`);
        expectOk(page, 200);
        expect(page.json).to.deep.include({ totalResults: 1000, startIndex, itemsPerPage: 200 });
        for (const resource of page.json.Resources) seen.add(resource.id);
      }
      // Every user once, in userName order.
      expect([...seen]).to.deep.equal(ids);
      const last = await scim(`/Users?filter=${filter}&startIndex=991&count=50`);
      expect(last.json).to.deep.include({ totalResults: 1000, itemsPerPage: 10 });
      const countOnly = await scim(`/Users?filter=${filter}&count=0`);
      expect(countOnly.json).to.deep.include({ totalResults: 1000, itemsPerPage: 0 });
      const capped = await scim(`/Users?filter=${filter}&count=5000`);
      expect(capped.json.itemsPerPage).to.equal(200);

      const either = await scim(`/Users?filter=${encodeURIComponent('externalId eq "bulk-ext-7" or userName eq "BULK-0008@paging.example"')}`);
      expect(either.json.Resources.map((r: { id: string }) => r.id)).to.deep.equal([ids[7], ids[8]]);
      const both = await scim(`/Users?filter=${encodeURIComponent('userName co "-099" and externalId pr')}`);
      expect(both.json.totalResults).to.equal(10);
      const searched = await scim('/Users/.search', {
        method: 'POST',
        body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'externalId sw "bulk-ext-99"', startIndex: 1, count: 5, attributes: ['externalId'] },
      });
      expectOk(searched, 200);
      expect(searched.json).to.deep.include({ totalResults: 11, itemsPerPage: 5 });
      expect(searched.json.Resources[0]).to.have.keys('schemas', 'id', 'externalId', 'meta');
      expectError(await scim('/Users/.search', { method: 'POST', body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], sortBy: 'userName' } }), 400, 'invalidValue');
      expectError(await scim('/Users/.search', { method: 'POST', body: { schemas: [USER], filter: 'userName pr' } }), 400, 'invalidSyntax');
      expectError(await scim('/Users/.search', { method: 'POST', body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], count: '5' } }), 400, 'invalidValue');
      expectError(await scim('/Users/.search'), 405);
      const withUrn = await scim(`/Users?filter=${encodeURIComponent(`${USER}:userName eq "bulk-0001@paging.example"`)}&attributes=userName`);
      expect(withUrn.json.Resources).to.deep.equal([{ schemas: [USER], id: ids[1], userName: 'bulk-0001@paging.example', meta: withUrn.json.Resources[0].meta }]);
    });
  });

  describe('bad input', () => {
    it('refuses malformed and unsupported filters and bad paging with invalidFilter / invalidValue', async () => {
      for (const filter of ['userName eq', 'userName eq "x" and', '(userName eq "x"', 'userName xx "x"', 'x'.repeat(1001)]) {
        expectError(await scim(`/Users?filter=${encodeURIComponent(filter)}`), 400, 'invalidFilter');
      }
      for (const filter of ['title eq "x"', 'userName ne "x"', 'not (userName eq "x")', 'userName gt "a"', 'active eq "yes"', 'userName eq 5']) {
        expectError(await scim(`/Users?filter=${encodeURIComponent(filter)}`), 400, 'invalidFilter');
      }
      expectError(await scim('/Users?startIndex=abc'), 400, 'invalidValue');
      // Checked before anything is done: no account is created by a request whose answer would be refused.
      const email = unique('projection');
      expectError(await scim('/Users?attributes=a&attributes=b', { method: 'POST', body: newUser(email) }), 400, 'invalidValue');
      expect(await users().countDocuments({ emailNormalized: email })).to.equal(0);
      expectError(await scim('/Users?count=1&count=2'), 400, 'invalidValue');
    });

    it('refuses unknown attributes, wrong schemas, operator objects, wrong types, bad JSON, other media types and oversized bodies', async () => {
      const email = unique('bad');
      const cases: Array<[unknown, string]> = [
        [{ ...newUser(email), favouriteColour: 'blue' }, 'invalidSyntax'],
        [{ ...newUser(email), schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'] }, 'invalidSyntax'],
        [{ ...newUser(email), schemas: [USER, 'urn:example:unknown'] }, 'invalidSyntax'],
        [{ ...newUser(email), schemas: undefined }, 'invalidSyntax'],
        [{ ...newUser(email), $where: 'sleep(1000)' }, 'invalidSyntax'],
        [{ ...newUser(email), name: { $gt: '' } }, 'invalidSyntax'],
        [{ ...newUser(email), userName: { $ne: null } }, 'invalidValue'],
        [{ ...newUser(email), active: 'maybe' }, 'invalidValue'],
        [{ ...newUser(email), emails: 'x@example.com' }, 'invalidValue'],
        [{ ...newUser(email), userName: 'not an email', emails: [] }, 'invalidValue'],
        [{ ...newUser(email), locale: 'en_GB; drop' }, 'invalidValue'],
        [{ ...newUser(email), displayName: 'x'.repeat(201) }, 'invalidValue'],
        [[newUser(email)], 'invalidSyntax'],
      ];
      for (const [body, scimType] of cases) {
        const answer = await scim('/Users', { method: 'POST', body });
        expect(answer.status, JSON.stringify(body).slice(0, 300)).to.equal(400);
        expectError(answer, 400, scimType);
      }
      expectError(await scim('/Users', { method: 'POST', body: '{"schemas": [' }), 400, 'invalidSyntax');
      expectError(await scim('/Users', { method: 'POST', body: newUser(email), type: 'text/plain' }), 415);
      expectError(await scim('/Users', { method: 'POST' }), 400, 'invalidSyntax');
      const huge = await scim('/Users', { method: 'POST', body: { ...newUser(email), nickName: 'x'.repeat(1024 * 1024 + 10) } });
      expectError(huge, 413);
      expect(await users().countDocuments({ emailNormalized: email })).to.equal(0);
      // application/json is accepted as well.
      expectOk(await scim('/Users', { method: 'POST', body: newUser(email), type: 'application/json' }), 201);
    });

    it('answers seeded random resources, PATCHes and filters without a 5xx, and never grants a role', async () => {
      const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
      let state = seed >>> 0;
      const next = () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
      const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
      const KEYS = ['schemas', 'userName', 'name', 'givenName', 'displayName', 'emails', 'value', 'type', 'primary', 'active', 'password', 'members',
        'Operations', 'op', 'path', 'externalId', 'groups', 'roles', '$ne', '$set', '__proto__', 'constructor', ENTERPRISE, 'manager', 'meta', 'id'];
      const TEXT = ['', 'x', 'a@b.c', 'True', 'replace', 'add', 'remove', 'members[value eq "x"]', 'emails[type eq "work"].value', 'name.givenName',
        USER, GROUP, PATCH, ENTERPRISE, `${ENTERPRISE}:manager`, 'admin', '\u0000', '😀', 'x'.repeat(3000), '"', '[', ']', '.', 'userName eq'];
      const value = (depth: number): unknown => {
        const shape = Math.floor(next() * (depth > 3 ? 4 : 7));
        if (shape === 0) return pick(TEXT);
        if (shape === 1) return pick([true, false, null, 0, -1, 1e308]);
        if (shape === 2) return `${pick(TEXT)}${Math.floor(next() * 1e6)}@example.com`;
        if (shape === 3) return pick(TEXT);
        if (shape === 4) return Array.from({ length: Math.floor(next() * 4) }, () => value(depth + 1));
        return Object.fromEntries(Array.from({ length: Math.floor(next() * 5) }, () => [pick(KEYS), value(depth + 1)]));
      };
      const FILTER = ['userName', 'externalId', 'active', 'emails', 'members', 'displayName', 'eq', 'sw', 'co', 'pr', 'and', 'or', 'not', '(', ')', '[', ']', '"x"', 'true', '.', ':'];
      const { json: { id: userId } } = await scim('/Users', { method: 'POST', body: newUser(unique('fuzz')) });
      const { json: { id: groupId } } = await scim('/Groups', { method: 'POST', body: { schemas: [GROUP], displayName: `Fuzz ${seed}` } });
      for (let round = 0; round < 40; round++) {
        const resource = { ...(next() < 0.7 ? { schemas: pick([[USER], [GROUP], [PATCH], [USER, ENTERPRISE]]) } : {}), ...(value(0) as object) };
        const operations = { schemas: [PATCH], Operations: Array.from({ length: 1 + Math.floor(next() * 3) }, () => ({ op: pick(['add', 'Replace', 'remove', 'x']), path: value(3), value: value(1) })) };
        const filter = Array.from({ length: 1 + Math.floor(next() * 6) }, () => pick(FILTER)).join(' ');
        const answers = await Promise.all([
          scim('/Users', { method: 'POST', body: resource }),
          scim(`/Users/${userId}`, { method: 'PUT', body: resource }),
          scim(`/Users/${userId}`, { method: 'PATCH', body: next() < 0.5 ? operations : resource }),
          scim('/Groups', { method: 'POST', body: resource }),
          scim(`/Groups/${groupId}`, { method: 'PATCH', body: operations }),
          scim(`/Users?filter=${encodeURIComponent(filter)}&count=1`),
          scim(`/Groups?filter=${encodeURIComponent(filter)}&count=1`),
        ]);
        for (const answer of answers) {
          expect(answer.status, `seed ${seed}, round ${round}: ${answer.text.slice(0, 300)}`).to.be.below(500);
          expect(answer.headers.get('content-type')).to.match(/^application\/scim\+json/);
        }
      }
      // Roles come only from operators: the only accounts with one are the administrators these tests made.
      const withRoles = await users().find({ roles: { $ne: [] } }).toArray();
      for (const user of withRoles) expect(user.email, JSON.stringify(user.roles)).to.match(/^scim-(guarded-)?admin-/);
    });

    it('refuses bad PATCH requests: schemas, ops, paths, read-only attributes, values', async () => {
      const { json: { id } } = await scim('/Users', { method: 'POST', body: newUser(unique('badpatch')) });
      const cases: Array<[unknown, number, string]> = [
        [{ schemas: [USER], Operations: [{ op: 'replace', path: 'active', value: false }] }, 400, 'invalidSyntax'],
        [{ schemas: [PATCH], Operations: [] }, 400, 'invalidSyntax'],
        [patch({ op: 'move', path: 'active', value: false }), 400, 'invalidSyntax'],
        [patch({ op: 'replace', path: 'active' }), 400, 'invalidSyntax'],
        [patch({ op: 'remove' }), 400, 'noTarget'],
        [patch({ op: 'replace', path: 'favouriteColour', value: 'x' }), 400, 'invalidPath'],
        [patch({ op: 'replace', path: 'emails[type eq "work"', value: 'x' }), 400, 'invalidPath'],
        [patch({ op: 'replace', path: 'emails[type zz "work"].value', value: 'x' }), 400, 'invalidFilter'],
        [patch({ op: 'replace', path: 'id', value: 'mine' }), 400, 'mutability'],
        [patch({ op: 'add', path: 'groups', value: [{ value: 'x' }] }), 400, 'mutability'],
        [patch({ op: 'replace', path: 'userName', value: 'nope' }), 400, 'invalidValue'],
        [patch({ op: 'replace', path: 'active', value: { $ne: 1 } }), 400, 'invalidValue'],
        [patch({ op: 'replace', value: { $set: { roles: ['admin'] } } }), 400, 'invalidPath'],
        [patch({ op: 'replace', path: 'emails[display eq "x"].value', value: 'x@example.com' }), 400, 'invalidPath'],
        [{ schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: false, extra: 1 }] }, 400, 'invalidSyntax'],
      ];
      for (const [body, status, scimType] of cases) {
        const answer = await scim(`/Users/${id}`, { method: 'PATCH', body });
        expect(answer.status, JSON.stringify(body)).to.equal(status);
        expectError(answer, status, scimType);
      }
      expect(await users().findOne({ _id: id })).to.include({ status: 'invited' });
      expectError(await scim('/Users/does-not-exist', { method: 'PATCH', body: patch({ op: 'replace', path: 'active', value: false }) }), 404);
      expectError(await scim('/Users/bad%20id'), 404);
    });
  });
});
