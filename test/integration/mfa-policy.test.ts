// The second-factor policy for administrators (policy.mfa.require) and "require
// enrolment at next sign-in", end to end: the admin console asks a password-only
// administrator to sign in again with a second factor and refuses their POSTs; the
// admin API refuses their token with the two-step-sign-in-required problem (client
// credentials are not affected); under 'none' nothing changes. Operators require
// enrolment from the console, the admin API and the CLI. Real server, database and
// SMTP server, openid-client relying parties, the CLI as a child process, TOTP codes
// computed here from the enrolled secret.
import { expect } from 'chai';
import { Secret, TOTP } from 'otpauth';
import * as oidc from 'openid-client';
import type { ClientMetadata } from 'oidc-provider';
import { createUser } from '../../src/accounts/users.ts';
import { setRole } from '../../src/accounts/admin.ts';
import { confirmTotpEnrolment, startTotpEnrolment, TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { PORTAL_SESSIONS } from '../../src/accounts/revocation.ts';
import { PROBLEM_CODES } from '../../src/web/api/problem.ts';
import { LENIENT_THROTTLES, useTestServer, type TestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page, signedInToPortal } from '../helpers/agent.ts';
import { callApi, expectProblem, type Answer } from '../helpers/api.ts';
import { cliEnvironment, runCli } from '../helpers/cli.ts';
import { discover, openSignIn, publicClient, RP_CALLBACK, startAuthorization, submitSignIn } from '../helpers/rp.ts';

const STEP_MS = 30_000;
const MFA = 'urn:latchkey:acr:mfa';
const PASSWORD = 'urn:latchkey:acr:password';
const WITH_ADMIN = 'openid email profile offline_access admin';
const app = publicClient({ scope: WITH_ADMIN });
const automation = {
  client_id: 'automation',
  client_secret: 'automation-secret-that-is-long-enough-0000',
  grant_types: ['client_credentials'],
  scope: 'admin',
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
} as ClientMetadata;

/** What every describe below shares: people, factors, sign-ins through the real pages. */
function helpers(server: TestServer, appConfig: () => oidc.Configuration) {
  let counter = 0;
  const url = (path: string) => `${server.url}${path}`;
  const db = () => server.database.connection;

  async function newPerson(tag: string, roles: string[] = []) {
    const email = `mfa-policy-${tag}-${++counter}@example.com`;
    const password = `amber lighthouse window ${counter}`;
    const user = await createUser(server.deps, { email, password, name: 'Policy Person', roles });
    return { email, password, id: user._id };
  }

  /**
   * Sets up an authenticator app for the account (enrolled with the code of the step
   * before now). Each code the returned function gives is for a later step than the
   * one before, as a code is accepted once (the server takes the steps around now).
   */
  async function enrolTotp(userId: string, email: string): Promise<() => string> {
    const enrolment = await startTotpEnrolment(server.deps.factors, userId, { issuer: 'Latchkey', account: email });
    const totp = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) });
    const at = (steps: number) => totp.generate({ timestamp: Date.now() + steps * STEP_MS });
    expect((await confirmTotpEnrolment(server.deps.factors, userId, enrolment.enrolmentId, at(-1))).ok).to.equal(true);
    let next = 0;
    return () => {
      if (next > 1) throw new Error('this test used more codes than the server accepts around now');
      return at(next++);
    };
  }

  /** A browser signed in to the portal just now (its password typed at the provider). */
  const portalAgent = (email: string, password: string) => signedInToPortal(url(''), email, password);

  /** Fills the provider's password page and, when asked, the second step; follows on (to `stopAt` if given). */
  async function signInOnPages(agent: Agent, page: Page, email: string, password: string, code?: () => string, stopAt?: string): Promise<Page> {
    const form = formOn(page.body, /\/login$/);
    let next = await agent.follow(new URL(form.action, page.url).href, { form: { ...form.fields, email, password } }, stopAt);
    if (code && /\/second-factor"/.test(next.body)) {
      const step = formOn(next.body, /\/second-factor$/);
      next = await agent.follow(new URL(step.action, next.url).href, { form: { ...step.fields, code: code() } }, stopAt);
    }
    return next;
  }

  /** The app's tokens after a sign-in through the pages (password, and the code when one is asked). */
  async function appTokens(agent: Agent, email: string, password: string, code?: () => string, params: Record<string, string> = {}) {
    const authorization = await startAuthorization(appConfig(), { scope: WITH_ADMIN, ...params });
    let page = await openSignIn(agent, authorization);
    if (!page.url.startsWith(RP_CALLBACK)) page = await signInOnPages(agent, page, email, password, code, RP_CALLBACK);
    expect(page.url.startsWith(RP_CALLBACK), page.body.slice(0, 800)).to.equal(true);
    return oidc.authorizationCodeGrant(appConfig(), new URL(page.url), {
      pkceCodeVerifier: authorization.verifier, expectedState: authorization.state, expectedNonce: authorization.nonce,
    });
  }

  const portalSessionsOf = (userId: string) => db().collection(PORTAL_SESSIONS).find({ accountId: userId }).toArray();
  const userDoc = async (id: string) => (await db().collection('users').findOne({ _id: id as never }))!;

  return { url, db, newPerson, enrolTotp, portalAgent, signInOnPages, appTokens, portalSessionsOf, userDoc };
}

describe('second-factor policy for administrators (mfa.require: admins)', function () {
  this.timeout(60_000);
  const { server } = useTestServer({ clients: [app, automation], smtp: true, policy: { ...LENIENT_THROTTLES, mfa: { require: 'admins' } } });
  let appConfig: oidc.Configuration;
  let h: ReturnType<typeof helpers>;

  before(async () => {
    appConfig = await discover(server.url, app);
    h = helpers(server, () => appConfig);
  });

  const api = (path: string, token: string, init: Parameters<typeof callApi>[2] = {}) => callApi(server.url, path, { ...init, token });
  const expectApiProblem = (answer: Answer, status: number, code: string) => expectProblem(answer, status, code, server.url);

  /**
   * An administrator whose sign-in used a password only: signed in while not yet an
   * administrator and without a factor, then given the role and an authenticator app.
   */
  async function passwordOnlyAdmin(tag: string) {
    const person = await h.newPerson(tag);
    const agent = await h.portalAgent(person.email, person.password);
    await setRole(server.deps, person.id, 'admin', true, { actor: 'cli' });
    return { ...person, agent };
  }

  describe('the admin console', () => {
    it('keeps how the portal sign-in was done (acr, amr) with the portal session', async () => {
      const person = await h.newPerson('portal-acr');
      await h.portalAgent(person.email, person.password);
      const [session] = await h.portalSessionsOf(person.id);
      expect(session!.acr).to.equal(PASSWORD);
      expect(session!.amr).to.deep.equal(['pwd']);
    });

    it('sends a password-only administrator to sign in again with the second factor, and back to the page asked for', async () => {
      const admin = await passwordOnlyAdmin('console-stepup');
      const code = await h.enrolTotp(admin.id, admin.email);

      // The console itself: back through the entry, which asks the provider for a fresh two-step sign-in.
      const first = await admin.agent.request(h.url('/admin/audit'));
      expect(first.status).to.equal(302);
      expect(first.headers.get('location')).to.equal('/account/admin?return=%2Fadmin%2Faudit');
      const entry = await admin.agent.request(h.url(first.headers.get('location')!));
      expect(entry.status).to.equal(302);
      const login = new URL(entry.headers.get('location')!, h.url('/'));
      expect(login.pathname).to.equal('/account/login');
      expect(login.searchParams.get('acr')).to.equal('mfa');
      expect(login.searchParams.get('fresh')).to.equal('1');
      const toProvider = await admin.agent.request(login.href);
      const authorize = new URL(toProvider.headers.get('location')!);
      expect(authorize.searchParams.get('acr_values')).to.equal(MFA);
      expect(authorize.searchParams.get('prompt')).to.equal('login');

      const page = await admin.agent.follow(authorize.href);
      expect(page.body, 'the provider asks for the password again').to.contain('autocomplete="current-password"');
      const back = await h.signInOnPages(admin.agent, page, admin.email, admin.password, code);
      expect(back.url).to.equal(h.url('/admin/audit'));
      expect(back.status, back.body.slice(0, 500)).to.equal(200);
      expect(back.body).to.contain('<h1>Audit trail</h1>');
      const sessions = await h.portalSessionsOf(admin.id);
      expect(sessions.map((s) => s.acr)).to.deep.equal([MFA]);
      expect(sessions[0]!.amr).to.include.members(['pwd', 'otp', 'mfa']);
    });

    it('refuses a POST from a password-only administrator with a 403 page and changes nothing', async () => {
      // Handed to the console while not an administrator (the entry hands over any session; the
      // console then says "administrators only"), and given the role afterwards.
      const person = await h.newPerson('console-post');
      const agent = await h.portalAgent(person.email, person.password);
      const notYet = await agent.follow(h.url('/admin'));
      expect(notYet.status).to.equal(403);
      expect(agent.cookies.get('lk_admin')).to.be.a('string');
      await setRole(server.deps, person.id, 'admin', true, { actor: 'cli' });

      const target = await h.newPerson('console-post-target');
      const before = await server.deps.audit.list({ userId: target.id });
      for (const action of ['require-enrolment', 'disable', 'reset-factors']) {
        const refused = await agent.request(h.url(`/admin/accounts/${target.id}/${action}`), { form: { _csrf: agent.cookies.get('lk_csrf') ?? 'x' } });
        expect(refused.status, action).to.equal(403);
        expect(refused.body).to.contain('Two-step sign-in required').and.contain('nothing was changed');
      }
      const stored = await h.userDoc(target.id);
      expect(stored.mustEnrolSecondFactor).to.equal(false);
      expect(stored.status).to.equal('active');
      expect(await server.deps.audit.list({ userId: target.id })).to.have.length(before.length);
      // A GET goes to sign in again instead.
      const get = await agent.request(h.url(`/admin/accounts/${target.id}`));
      expect(get.status).to.equal(302);
      expect(get.headers.get('location')).to.equal(`/account/admin?return=${encodeURIComponent(`/admin/accounts/${target.id}`)}`);
    });

    it('tells an administrator without a second factor to set one up, instead of asking again and again', async () => {
      const admin = await passwordOnlyAdmin('console-nofactor');
      const page = await admin.agent.follow(h.url('/admin'));
      // Today: the provider asks for the password (prompt=login); without a factor the sign-in
      // comes back with a password alone and the entry says what to do. (When the sign-in leads
      // such an administrator to set up a factor instead, that page is shown here.)
      expect(page.status, 'never a redirect loop').to.be.below(300);
      if (/autocomplete="current-password"/.test(page.body)) {
        const after = await h.signInOnPages(admin.agent, page, admin.email, admin.password);
        expect(after.status >= 300 && after.status < 400, 'never a redirect loop').to.equal(false);
        expect(after.url.startsWith(h.url('/admin')) && after.status === 200, 'never the console').to.equal(false);
        if (after.url.includes('/account/admin')) {
          expect(after.status).to.equal(403);
          expect(after.body).to.contain('Two-step verification required').and.contain('/account/security');
        } else {
          expect(after.body, 'otherwise the sign-in leads to setting up a second factor').to.match(/authenticator|passkey/i);
        }
      } else {
        expect(page.body, 'otherwise the sign-in leads to setting up a second factor').to.match(/authenticator|passkey/i);
      }
    });
  });

  describe('the admin API', () => {
    it('refuses an administrator\'s token from a password-only sign-in with two-step-sign-in-required; a two-step sign-in\'s token works', async () => {
      expect(PROBLEM_CODES).to.include('two-step-sign-in-required');
      const person = await h.newPerson('api');
      const agent = new Agent();
      const passwordTokens = await h.appTokens(agent, person.email, person.password);
      expect(passwordTokens.claims()!.acr).to.equal(PASSWORD);
      await setRole(server.deps, person.id, 'admin', true, { actor: 'cli' });
      const target = await h.newPerson('api-target');

      const refused = await api('/api/admin/accounts', passwordTokens.access_token);
      expectApiProblem(refused, 403, 'two-step-sign-in-required');
      expect(refused.json.detail).to.contain('acr_values=urn:latchkey:acr:mfa');
      expect(refused.headers.get('www-authenticate')).to.contain('error="insufficient_user_authentication"').and.contain(`acr_values="${MFA}"`);
      // Nothing changes through it.
      expectApiProblem(await api(`/api/admin/accounts/${target.id}/factors/require-enrolment`, passwordTokens.access_token, { method: 'POST' }), 403, 'two-step-sign-in-required');
      expect((await h.userDoc(target.id)).mustEnrolSecondFactor).to.equal(false);
      // Nor through a token refreshed from it: the refresh token carries how the sign-in was done.
      const refreshedPassword = await oidc.refreshTokenGrant(appConfig, passwordTokens.refresh_token!);
      expectApiProblem(await api('/api/admin/accounts', refreshedPassword.access_token), 403, 'two-step-sign-in-required');

      // Step-up in the same browser session (acr_values): the new token works, the old one still does not.
      const code = await h.enrolTotp(person.id, person.email);
      const mfaTokens = await h.appTokens(agent, person.email, person.password, code, { acr_values: MFA });
      expect(mfaTokens.claims()!.acr).to.equal(MFA);
      const listed = await api('/api/admin/accounts', mfaTokens.access_token);
      expect(listed.status, listed.text.slice(0, 300)).to.equal(200);
      expectApiProblem(await api('/api/admin/accounts', refreshedPassword.access_token), 403, 'two-step-sign-in-required');
      const refreshedMfa = await oidc.refreshTokenGrant(appConfig, mfaTokens.refresh_token!);
      expect((await api('/api/admin/accounts', refreshedMfa.access_token)).status).to.equal(200);
    });

    it('takes client credentials tokens (automation) as before', async () => {
      const { access_token } = await oidc.clientCredentialsGrant(await discover(server.url, automation), { scope: 'admin' });
      const answer = await api('/api/admin/accounts', access_token);
      expect(answer.status, answer.text.slice(0, 300)).to.equal(200);
    });

    it('documents the problem and the new endpoint in the OpenAPI document', async () => {
      const document = (await callApi(server.url, '/api/openapi.json')).json;
      const operation = document.paths['/api/admin/accounts/{id}/factors/require-enrolment'].post;
      expect(operation.operationId).to.equal('adminRequireFactorEnrolment');
      expect(JSON.stringify(operation.responses['403'])).to.contain('two-step-sign-in-required');
      expect(JSON.stringify(operation.responses['404'])).to.contain('not-found');
      expect(document.components.schemas.AccountDetail.properties).to.have.property('mustEnrolSecondFactor');
      const described = await fetch(`${server.url}/api/problems/two-step-sign-in-required`);
      expect(described.status).to.equal(200);
    });
  });

  describe('require enrolment at next sign-in', () => {
    let adminAgent: Agent;
    let adminId: string;
    let adminToken: string;

    before(async () => {
      // An administrator signed in with two steps, to the console and to an app.
      const person = await h.newPerson('operator', ['admin']);
      adminId = person.id;
      const code = await h.enrolTotp(person.id, person.email);
      adminAgent = new Agent();
      const login = await adminAgent.follow(h.url('/admin'));
      const page = await h.signInOnPages(adminAgent, login, person.email, person.password, code);
      expect(page.url).to.equal(h.url('/admin'));
      expect(page.status, page.body.slice(0, 500)).to.equal(200);
      adminToken = (await h.appTokens(new Agent(), person.email, person.password, code)).access_token;
    });

    const flagged = () => h.db().collection('users').countDocuments({ mustEnrolSecondFactor: true });
    const auditCount = () => h.db().collection('audit_events').countDocuments({ event: 'factor.enrolment_required' });

    it('from the console: a button on the account page; the page then shows the requirement; audited once', async () => {
      const person = await h.newPerson('console-require');
      const shown = await adminAgent.request(h.url(`/admin/accounts/${person.id}`));
      expect(shown.body).to.contain('Require two-step verification at next sign-in');
      const form = formOn(shown.body, new RegExp(`/admin/accounts/${person.id}/require-enrolment$`));
      const response = await adminAgent.request(h.url(form.action), { form: form.fields });
      expect(response.status, response.body.slice(0, 300)).to.equal(303);
      const next = await adminAgent.request(h.url(response.headers.get('location')!));
      expect(next.body).to.contain('must set up two-step verification at their next sign-in');
      expect(next.body).to.contain('Required at the next sign-in').and.not.contain('Require two-step verification at next sign-in');
      expect((await h.userDoc(person.id)).mustEnrolSecondFactor).to.equal(true);
      // Again: nothing more stored or audited.
      const again = await adminAgent.request(h.url(form.action), { form: form.fields });
      expect(again.status).to.equal(303);
      expect(again.headers.get('location')).to.contain('enrolment_already_required');
      const events = await server.deps.audit.list({ userId: person.id, events: ['factor.enrolment_required'] });
      expect(events).to.have.length(1);
      expect(events[0]!.actor).to.equal(`admin:${adminId}`);
      expect(next.body).to.contain('Two-step verification required at next sign-in');
    });

    it('from the console: bad input is a clear 4xx and stores nothing', async () => {
      const shown = await adminAgent.request(h.url('/admin'));
      const csrf = /name="_csrf" value="([^"]+)"/.exec(shown.body)![1]!;
      const [flaggedBefore, auditBefore] = [await flagged(), await auditCount()];
      for (const path of ['/admin/accounts/no-such-account/require-enrolment', '/admin/accounts/%5B%24ne%5D/require-enrolment', `/admin/accounts/${'x'.repeat(300)}/require-enrolment`]) {
        const response = await adminAgent.request(h.url(path), { form: `_csrf=${encodeURIComponent(csrf)}&id[$ne]=&id=%7B%22%24ne%22%3Anull%7D` });
        expect(response.status, path).to.equal(404);
        expect(response.body).to.not.match(/\bat \S+ \(|node_modules|\.ts:\d+/);
      }
      const person = await h.newPerson('console-nocsrf');
      const noCsrf = await adminAgent.request(h.url(`/admin/accounts/${person.id}/require-enrolment`), { form: 'id[$ne]=' });
      expect(noCsrf.status).to.be.within(400, 499);
      expect([await flagged(), await auditCount()]).to.deep.equal([flaggedBefore, auditBefore]);
    });

    it('from the admin API: POST /api/admin/accounts/{id}/factors/require-enrolment; the account shows the flag', async () => {
      const person = await h.newPerson('api-require');
      const before = await api(`/api/admin/accounts/${person.id}`, adminToken);
      expect(before.json.mustEnrolSecondFactor).to.equal(false);
      const first = await api(`/api/admin/accounts/${person.id}/factors/require-enrolment`, adminToken, { method: 'POST' });
      expect(first.status, first.text).to.equal(200);
      expect(first.json).to.deep.equal({ changed: true, hasSecondFactor: false });
      const second = await api(`/api/admin/accounts/${person.id}/factors/require-enrolment`, adminToken, { method: 'POST', body: {} });
      expect(second.json).to.deep.equal({ changed: false, hasSecondFactor: false });
      expect((await api(`/api/admin/accounts/${person.id}`, adminToken)).json.mustEnrolSecondFactor).to.equal(true);
      const events = await server.deps.audit.list({ userId: person.id, events: ['factor.enrolment_required'] });
      expect(events.map((e) => e.actor)).to.deep.equal([`admin:${adminId}`]);
    });

    it('from the admin API: unknown ids and operator objects are a clear 4xx and store nothing', async () => {
      const person = await h.newPerson('api-bad');
      const [flaggedBefore, auditBefore] = [await flagged(), await auditCount()];
      for (const id of ['no-such-account', '%5B%24ne%5D', '%7B%22%24ne%22%3Anull%7D', 'x'.repeat(300)]) {
        expectApiProblem(await api(`/api/admin/accounts/${id}/factors/require-enrolment`, adminToken, { method: 'POST' }), 404, 'not-found');
      }
      for (const body of [{ id: { $ne: null } }, { mustEnrolSecondFactor: false }, '{"$where":"1"}', '[]']) {
        expectApiProblem(await api(`/api/admin/accounts/${person.id}/factors/require-enrolment`, adminToken, { method: 'POST', body }), 400, 'invalid-request');
      }
      expectApiProblem(await api(`/api/admin/accounts/${person.id}/factors/require-enrolment?id[$ne]=`, adminToken, { method: 'POST', body: 'not json' }), 400, 'invalid-request');
      expect([await flagged(), await auditCount()]).to.deep.equal([flaggedBefore, auditBefore]);
      expect((await h.userDoc(person.id)).mustEnrolSecondFactor).to.equal(false);
    });

    it('from the CLI: user:require-factor <email>; user:show shows it; bad input exits non-zero and stores nothing', async () => {
      const person = await h.newPerson('cli-require');
      const env = cliEnvironment(server.database.name);
      const run = await runCli(['user:require-factor', person.email], env);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.contain(`${person.email} must set up two-step verification at the next sign-in`);
      expect((await h.userDoc(person.id)).mustEnrolSecondFactor).to.equal(true);
      const again = await runCli(['user:require-factor', '--email', person.email], env);
      expect(again.code).to.equal(0);
      expect(again.stdout).to.contain('already required');
      const events = await server.deps.audit.list({ userId: person.id, events: ['factor.enrolment_required'] });
      expect(events.map((e) => e.actor)).to.deep.equal(['cli']);

      const shown = await runCli(['user:show', '--email', person.email], env);
      expect(shown.code, shown.stderr).to.equal(0);
      expect(shown.stdout).to.contain('required: must set up two-step verification at the next sign-in');
      const json = JSON.parse((await runCli(['user:show', '--email', person.email, '--json'], env)).stdout);
      expect(json.mustEnrolSecondFactor).to.equal(true);

      const [flaggedBefore, auditBefore] = [await flagged(), await auditCount()];
      for (const args of [['user:require-factor', 'nobody@example.com'], ['user:require-factor', '{"$ne":null}'], ['user:require-factor', '--email', '[$ne]'], ['user:require-factor'],
        ['user:require-factor', 'a@example.com', '--email', 'b@example.com']]) {
        const bad = await runCli(args, env);
        expect(bad.code, args.join(' ')).to.equal(1);
        expect(bad.stderr).to.match(/^latchkey: /);
        expect(bad.stderr).to.not.match(/\bat \S+ \(|node_modules/);
      }
      expect([await flagged(), await auditCount()]).to.deep.equal([flaggedBefore, auditBefore]);
    });
  });
});

describe('second-factor policy off (mfa.require: none)', function () {
  this.timeout(60_000);
  const { server } = useTestServer({ clients: [app, automation], policy: { ...LENIENT_THROTTLES, mfa: { require: 'none' } } });
  let appConfig: oidc.Configuration;
  let h: ReturnType<typeof helpers>;

  before(async () => {
    appConfig = await discover(server.url, app);
    h = helpers(server, () => appConfig);
  });

  it('lets a password-only administrator use the console (GET and POST) and the admin API, as before', async () => {
    const admin = await h.newPerson('none-admin', ['admin']);
    const agent = new Agent();
    const login = await agent.follow(h.url('/admin'));
    const page = await h.signInOnPages(agent, login, admin.email, admin.password);
    expect(page.url).to.equal(h.url('/admin'));
    expect(page.status).to.equal(200);
    expect((await h.portalSessionsOf(admin.id))[0]!.acr).to.equal(PASSWORD);

    const target = await h.newPerson('none-target');
    const shown = await agent.request(h.url(`/admin/accounts/${target.id}`));
    const form = formOn(shown.body, /\/require-enrolment$/);
    expect((await agent.request(h.url(form.action), { form: form.fields })).status).to.equal(303);
    expect((await h.userDoc(target.id)).mustEnrolSecondFactor).to.equal(true);

    const tokens = await h.appTokens(new Agent(), admin.email, admin.password);
    expect(tokens.claims()!.acr).to.equal(PASSWORD);
    const answer = await callApi(server.url, '/api/admin/accounts', { token: tokens.access_token });
    expect(answer.status, answer.text.slice(0, 300)).to.equal(200);
    const { access_token } = await oidc.clientCredentialsGrant(await discover(server.url, automation), { scope: 'admin' });
    expect((await callApi(server.url, '/api/admin/accounts', { token: access_token })).status).to.equal(200);
  });
});
