// Sessions and devices (issue 14) end to end: browsers sign in through the portal and
// a real relying party (openid-client); the portal lists each session with its parsed
// browser and system, its apps and "this browser"; ending one kills its provider
// session, grants and tokens at once while another session's keep working; the admin
// API and CLI list and end them too; bad input on every new route is a clear 4xx
// that changes nothing; the page passes axe in English and Arabic.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { BrowserContext } from 'playwright-core';
import { createUser } from '../../src/accounts/users.ts';
import { listSessions, TOUCH_INTERVAL_MS } from '../../src/accounts/sessions.ts';
import { SESSION_DEVICES } from '../../src/db/models/session-device.ts';
import { PORTAL_SESSIONS } from '../../src/accounts/revocation.ts';
import { translator } from '../../src/i18n/messages.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { discover, openSignIn, publicClient, signIn, startAuthorization } from '../helpers/rp.ts';
import { callApi, expectProblem as expectProblemOf, type CallInit } from '../helpers/api.ts';
import { cliEnvironment, runCli } from '../helpers/cli.ts';
import { useBrowser } from '../helpers/browser.ts';
import { axeViolations, describeViolations } from '../helpers/axe.ts';

const WITH_ADMIN = 'openid email profile offline_access account groups admin';
const app = publicClient({ client_name: 'Test App', scope: WITH_ADMIN });
const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0';
const SAFARI_IOS = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const ADMIN_PASSWORD = 'lighthouse keeper vinyl 91';

const decode = (html: string) => html.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code))).replace(/&amp;/g, '&').replace(/&quot;/g, '"');

describe('sessions and devices', function () {
  this.timeout(120_000);
  const { server } = useTestServer({ clients: [app], policy: LENIENT_THROTTLES });
  let appConfig: oidc.Configuration;
  let adminToken: string;
  let counter = 0;

  before(async () => {
    appConfig = await discover(server.url, app);
    await createUser(server.deps, { email: 'sessions-admin@example.com', password: ADMIN_PASSWORD, name: 'Ada Admin', roles: ['admin'] });
    adminToken = (await signIn(appConfig, new Agent(), 'sessions-admin@example.com', ADMIN_PASSWORD, { scope: 'openid admin' })).tokens.access_token;
  });

  const url = (path: string) => `${server.url}${path}`;
  const db = () => server.database.connection;
  const liveSessionCount = (accountId: string) => db().collection('oidc_session').countDocuments({ 'payload.accountId': accountId });

  async function newPerson(tag: string) {
    const email = `sessions-${tag}-${++counter}@example.com`;
    const password = `quiet harbour lantern ${counter}`;
    const user = await createUser(server.deps, { email, password, name: 'Session Person' });
    return { email, password, id: user._id };
  }

  /** A browser with its own user agent, signed in to the portal. */
  async function portalBrowser(email: string, password: string, userAgent: string): Promise<Agent> {
    const agent = new Agent({ 'user-agent': userAgent });
    const login = await agent.follow(url('/account'));
    const form = formOn(login.body, /\/login$/);
    const home = await agent.follow(new URL(form.action, login.url).href, { form: { ...form.fields, email, password } });
    expect(home.url, home.body.slice(0, 300)).to.equal(url('/account'));
    return agent;
  }

  /** The same browser signs in to the app (through its provider session: no form) and gets tokens. */
  const appTokens = async (agent: Agent, email: string, password: string) =>
    (await signIn(appConfig, agent, email, password, { scope: 'openid email profile' })).tokens;

  /** The session ids in the order the portal page lists them (this browser's first). */
  const listedIds = (page: Page) => [...page.body.matchAll(/name="sessionId" value="([^"]+)"/g)].map((m) => m[1]!);

  async function endFromPortal(agent: Agent, sessionId: string): Promise<Page> {
    const page = await agent.request(url('/account/sessions'));
    const form = formOn(page.body, /\/account\/sessions\/end$/);
    return agent.request(url('/account/sessions/end'), { form: { ...form.fields, sessionId } });
  }

  const refreshWorks = async (refreshToken: string) => !((await oidc.refreshTokenGrant(appConfig, refreshToken).catch((e: Error) => e)) instanceof Error);
  const userinfoWorks = async (accessToken: string, sub: string) => !((await oidc.fetchUserInfo(appConfig, accessToken, sub).catch((e: Error) => e)) instanceof Error);
  /** Whether this browser's next authorization for the app asks for the password. */
  const promptsLogin = async (agent: Agent) => /autocomplete="current-password"/.test((await openSignIn(agent, await startAuthorization(appConfig))).body);

  describe('in the portal', () => {
    it('lists both browsers with browser, system, apps and "this browser"; ending the other kills its provider session, grant and tokens at once, not this one\'s', async () => {
      const person = await newPerson('two');
      const chrome = await portalBrowser(person.email, person.password, CHROME_WINDOWS);
      const firefox = await portalBrowser(person.email, person.password, FIREFOX_LINUX);
      const chromeTokens = await appTokens(chrome, person.email, person.password);
      const firefoxTokens = await appTokens(firefox, person.email, person.password);
      expect(chromeTokens.refresh_token && firefoxTokens.refresh_token).to.be.a('string');

      const page = await chrome.request(url('/account/sessions'));
      expect(page.status).to.equal(200);
      const html = decode(page.body);
      expect(html).to.contain('Sessions and devices').and.contain('Chrome on Windows').and.contain('Firefox on Linux');
      // This browser first, marked; each with the apps signed in through it (the portal and the app).
      expect(html.indexOf('Chrome on Windows')).to.be.below(html.indexOf('Firefox on Linux'));
      expect(html.match(/<span class="badge">This browser<\/span>/g)).to.have.length(1);
      expect(html.indexOf('<span class="badge">This browser')).to.be.below(html.indexOf('Firefox on Linux'));
      expect(html.match(/Test App/g)).to.have.length(2);
      expect(html).to.contain(translator('en')('common.portalName')).and.contain('127.0.0.1');
      expect(html).to.contain('Sign out this browser').and.contain('End session: Firefox on Linux').and.contain('End all other sessions');
      // The navigation leads here.
      expect(html).to.match(/href="\/account\/sessions" aria-current="page"/);

      const sessions = await listSessions(server.deps, person.id);
      expect(sessions).to.have.length(2);
      const [chromeId, firefoxId] = listedIds(page);
      const firefoxSession = sessions.find((s) => s.id === firefoxId)!;
      expect(firefoxSession.device).to.deep.equal({ browser: 'Firefox', os: 'Linux' });
      expect(firefoxSession.userAgent).to.equal(FIREFOX_LINUX);
      expect(firefoxSession.apps.map((a) => a.clientId)).to.include('test-app');
      expect(firefoxSession.signedInAt).to.be.instanceOf(Date);
      expect(sessions.find((s) => s.id === chromeId)!.device).to.deep.equal({ browser: 'Chrome', os: 'Windows' });

      const ended = await endFromPortal(chrome, firefoxId!);
      expect(ended.status).to.equal(303);
      expect(ended.headers.get('location')).to.equal('/account/sessions?notice=session_ended');

      // At once: the other browser's tokens fail, its provider session and portal session are gone.
      expect(await refreshWorks(firefoxTokens.refresh_token!)).to.equal(false);
      expect(await userinfoWorks(firefoxTokens.access_token, person.id)).to.equal(false);
      expect(await promptsLogin(firefox)).to.equal(true);
      expect((await firefox.request(url('/account'))).status).to.equal(302);
      // This browser keeps everything.
      expect(await userinfoWorks(chromeTokens.access_token, person.id)).to.equal(true);
      expect(await refreshWorks(chromeTokens.refresh_token!)).to.equal(true);
      expect(await promptsLogin(chrome)).to.equal(false);
      const after = await chrome.request(url('/account/sessions?notice=session_ended'));
      expect(listedIds(after)).to.deep.equal([chromeId]);
      expect(decode(after.body)).to.contain('The session was ended').and.not.contain('End all other sessions');
      expect(await db().collection(SESSION_DEVICES).countDocuments({ _id: firefoxId as never })).to.equal(0);

      const events = await server.deps.audit.list({ userId: person.id, events: ['session.ended'] });
      expect(events).to.have.length(1);
      expect(events[0]!.details).to.include({ sessionId: firefoxId });
      const activity = decode((await chrome.request(url('/account/activity'))).body);
      expect(activity).to.contain(translator('en')('portal.event.session.ended'));
    });

    it('ending this browser\'s session signs it out of the portal and the provider', async () => {
      const person = await newPerson('own');
      const chrome = await portalBrowser(person.email, person.password, CHROME_WINDOWS);
      const tokens = await appTokens(chrome, person.email, person.password);
      const [own] = listedIds(await chrome.request(url('/account/sessions')));
      const page = await chrome.request(url('/account/sessions'));
      expect(decode(page.body)).to.contain('Ending this session signs this browser out');
      const ended = await endFromPortal(chrome, own!);
      expect(ended.status).to.equal(303);
      expect(ended.headers.get('location')).to.equal('/account/signed-out');
      expect(chrome.cookies.has('lk_account')).to.equal(false);
      expect((await chrome.request(url('/account/sessions'))).status).to.equal(302);
      expect(await promptsLogin(chrome)).to.equal(true);
      expect(await userinfoWorks(tokens.access_token, person.id)).to.equal(false);
      expect(await liveSessionCount(person.id)).to.equal(0);
      expect(await db().collection(PORTAL_SESSIONS).countDocuments({ accountId: person.id })).to.equal(0);
    });

    it('ends every other session, keeping this browser signed in', async () => {
      const person = await newPerson('others');
      const chrome = await portalBrowser(person.email, person.password, CHROME_WINDOWS);
      const firefox = await portalBrowser(person.email, person.password, FIREFOX_LINUX);
      const safari = await portalBrowser(person.email, person.password, SAFARI_IOS);
      const safariTokens = await appTokens(safari, person.email, person.password);
      const chromeTokens = await appTokens(chrome, person.email, person.password);
      const page = await chrome.request(url('/account/sessions'));
      expect(listedIds(page)).to.have.length(3);
      expect(decode(page.body)).to.contain('Safari on iOS');
      const form = formOn(page.body, /\/account\/sessions\/end-others$/);
      const ended = await chrome.request(url('/account/sessions/end-others'), { form: form.fields });
      expect(ended.status).to.equal(303);
      expect(ended.headers.get('location')).to.equal('/account/sessions?notice=others_ended');
      expect(listedIds(await chrome.request(url('/account/sessions')))).to.have.length(1);
      expect(await promptsLogin(firefox)).to.equal(true);
      expect(await promptsLogin(safari)).to.equal(true);
      expect(await refreshWorks(safariTokens.refresh_token!)).to.equal(false);
      expect(await refreshWorks(chromeTokens.refresh_token!)).to.equal(true);
      expect(await promptsLogin(chrome)).to.equal(false);
      const events = await server.deps.audit.list({ userId: person.id, events: ['sessions.ended_others'] });
      expect(events[0]!.details).to.include({ sessions: 2 });
    });

    it('moves "last active" when the session signs in to an app again, at most every few minutes', async () => {
      const person = await newPerson('seen');
      const chrome = await portalBrowser(person.email, person.password, CHROME_WINDOWS);
      const [session] = await listSessions(server.deps, person.id);
      const devices = db().collection(SESSION_DEVICES);
      const old = new Date(Date.now() - TOUCH_INTERVAL_MS - 60_000);
      await devices.updateOne({ _id: session!.id as never }, { $set: { lastSeenAt: old } });
      await appTokens(chrome, person.email, person.password);
      const touched = (await devices.findOne({ _id: session!.id as never }))!.lastSeenAt as Date;
      expect(touched.getTime()).to.be.greaterThan(old.getTime() + 60_000);
      // A second sign-in right after does not write again.
      await appTokens(chrome, person.email, person.password);
      expect(((await devices.findOne({ _id: session!.id as never }))!.lastSeenAt as Date).getTime()).to.equal(touched.getTime());
      const [listed] = await listSessions(server.deps, person.id);
      expect(listed!.lastSeenAt!.getTime()).to.equal(touched.getTime());
    });

    it('does not list a session that expired or was signed out everywhere; sign out everywhere removes the device records', async () => {
      const person = await newPerson('gone');
      const chrome = await portalBrowser(person.email, person.password, CHROME_WINDOWS);
      await portalBrowser(person.email, person.password, FIREFOX_LINUX);
      const sessions = await listSessions(server.deps, person.id);
      expect(sessions).to.have.length(2);
      await db().collection('oidc_session').updateOne({ 'payload.uid': sessions[1]!.id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
      expect((await listSessions(server.deps, person.id)).map((s) => s.id)).to.deep.equal([sessions[0]!.id]);
      const overview = await chrome.request(url('/account'));
      const form = formOn(overview.body, /\/account\/sign-out-everywhere$/);
      expect((await chrome.request(url('/account/sign-out-everywhere'), { form: form.fields })).status).to.equal(303);
      expect(await listSessions(server.deps, person.id)).to.deep.equal([]);
      expect(await db().collection(SESSION_DEVICES).countDocuments({ accountId: person.id })).to.equal(0);
    });

    it('refuses bad input with a clear 4xx and changes nothing; another account\'s session reads as not found', async () => {
      const person = await newPerson('bad');
      const other = await newPerson('bad-other');
      const chrome = await portalBrowser(person.email, person.password, CHROME_WINDOWS);
      const otherBrowser = await portalBrowser(other.email, other.password, FIREFOX_LINUX);
      const [otherSession] = listedIds(await otherBrowser.request(url('/account/sessions')));
      const page = await chrome.request(url('/account/sessions'));
      const { fields } = formOn(page.body, /\/account\/sessions\/end$/);
      const before = [await liveSessionCount(person.id), await liveSessionCount(other.id)];
      const send = (form: string) => chrome.request(url('/account/sessions/end'), { form: `_csrf=${encodeURIComponent(fields._csrf!)}&${form}` });
      const cases: Array<[string, number]> = [
        ['', 400],
        ['sessionId=', 400],
        [`sessionId=${'a'.repeat(65)}`, 400],
        [`sessionId=${'a'.repeat(20_000)}`, 400],
        ['sessionId=..%2Fetc', 400],
        ['sessionId%5B%24ne%5D=x', 400],
        ['sessionId=a&sessionId=b', 400],
        ['sessionId=nosuchsession0000000', 404],
        [`sessionId=${otherSession}`, 404],
      ];
      const notFound: string[] = [];
      for (const [form, status] of cases) {
        const answer = await send(form);
        expect(answer.status, form.slice(0, 60)).to.be.oneOf(status === 400 ? [400, 413] : [status]);
        expect(answer.body).to.not.match(/\bat \S+ \(|node_modules|\.ts:\d+|Error:/);
        if (status === 404) notFound.push(decode(answer.body).replace(/nonce="[^"]*"|Reference: [\w-]+/g, ''));
      }
      // Unknown and another account's: the same page.
      expect(notFound[0]).to.equal(notFound[1]);
      expect(notFound[0]).to.contain('Session not found');
      // No CSRF token, or no portal session: refused.
      expect((await chrome.request(url('/account/sessions/end'), { form: { sessionId: otherSession! } })).status).to.equal(403);
      // A valid form from a browser without a portal session: 401, nothing ended.
      const stranger = new Agent();
      for (const name of ['lk_csrf', 'lk_csrf.sig']) if (chrome.cookies.has(name)) stranger.cookies.set(name, chrome.cookies.get(name)!);
      expect((await stranger.request(url('/account/sessions/end'), { form: { ...fields, sessionId: otherSession! } })).status).to.equal(401);
      expect([await liveSessionCount(person.id), await liveSessionCount(other.id)]).to.deep.equal(before);
      expect(await server.deps.audit.list({ userId: other.id, events: ['session.ended'] })).to.deep.equal([]);
      // end-others takes no input but the CSRF token.
      expect((await chrome.request(url('/account/sessions/end-others'), { form: { sessionId: otherSession! } })).status).to.equal(403);
      expect(await liveSessionCount(other.id)).to.equal(before[1]);
    });
  });

  describe('for admins', () => {
    const call = (path: string, init: CallInit = {}) => callApi(server.url, path, { ...init, token: init.token === undefined ? adminToken : init.token });
    const expectProblem = (answer: Awaited<ReturnType<typeof call>>, status: number, code: string) => expectProblemOf(answer, status, code, server.url);

    it('lists and ends an account\'s sessions through the admin API; unknown, malformed and other accounts\' ids are 404s that end nothing', async () => {
      const person = await newPerson('api');
      const other = await newPerson('api-other');
      const chrome = await portalBrowser(person.email, person.password, CHROME_WINDOWS);
      const firefox = await portalBrowser(person.email, person.password, FIREFOX_LINUX);
      const otherBrowser = await portalBrowser(other.email, other.password, SAFARI_IOS);
      const firefoxTokens = await appTokens(firefox, person.email, person.password);
      const chromeTokens = await appTokens(chrome, person.email, person.password);
      await appTokens(otherBrowser, other.email, other.password);

      const listed = await call(`/api/admin/accounts/${person.id}/sessions`);
      expect(listed.status, listed.text).to.equal(200);
      expect(listed.headers.get('cache-control')).to.equal('no-store');
      const items = listed.json.items as Array<Record<string, any>>;
      expect(items).to.have.length(2);
      expect(Object.keys(items[0]!).sort()).to.deep.equal(['apps', 'browser', 'expiresAt', 'id', 'ip', 'lastSeenAt', 'os', 'signedInAt', 'userAgent']);
      const firefoxItem = items.find((item) => item.browser === 'Firefox')!;
      expect(firefoxItem.os).to.equal('Linux');
      expect(firefoxItem.apps.map((a: { clientId: string }) => a.clientId)).to.include('test-app');
      const otherId = (await listSessions(server.deps, other.id))[0]!.id;

      expectProblem(await call('/api/admin/accounts/no-such-account/sessions'), 404, 'not-found');
      expectProblem(await call(`/api/admin/accounts/${'x'.repeat(300)}/sessions`), 404, 'not-found');
      expectProblem(await call(`/api/admin/accounts/${person.id}/sessions`, { token: null }), 401, 'invalid-token');
      expectProblem(await call(`/api/admin/accounts/${person.id}/sessions`, { token: firefoxTokens.access_token }), 403, 'insufficient-scope');
      expectProblem(await call(`/api/admin/accounts/${person.id}/sessions/${firefoxItem.id}`, { method: 'DELETE', token: firefoxTokens.access_token }), 403, 'insufficient-scope');
      for (const bad of ['nosuchsession0000000', otherId, '%24ne', 'a'.repeat(65), '..%2F..%2Fx', encodeURIComponent('{"$ne":1}')]) {
        expectProblem(await call(`/api/admin/accounts/${person.id}/sessions/${bad}`, { method: 'DELETE' }), 404, 'not-found');
      }
      expectProblem(await call(`/api/admin/accounts/${person.id}/sessions/${firefoxItem.id}`, { method: 'DELETE', body: { sessionId: { $ne: 1 } } }), 400, 'invalid-request');
      expectProblem(await call(`/api/admin/accounts/no-such-account/sessions/${firefoxItem.id}`, { method: 'DELETE' }), 404, 'not-found');
      expect(await liveSessionCount(person.id)).to.equal(2);
      expect(await liveSessionCount(other.id)).to.equal(1);

      const ended = await call(`/api/admin/accounts/${person.id}/sessions/${firefoxItem.id}`, { method: 'DELETE' });
      expect(ended.status, ended.text).to.equal(204);
      expect(await refreshWorks(firefoxTokens.refresh_token!)).to.equal(false);
      expect(await promptsLogin(firefox)).to.equal(true);
      expect(await refreshWorks(chromeTokens.refresh_token!)).to.equal(true);
      expect(((await call(`/api/admin/accounts/${person.id}/sessions`)).json.items as unknown[])).to.have.length(1);
      const [event] = await server.deps.audit.list({ userId: person.id, events: ['session.ended'] });
      expect(event!.actor).to.match(/^admin:/);
      // Again: it is gone.
      expectProblem(await call(`/api/admin/accounts/${person.id}/sessions/${firefoxItem.id}`, { method: 'DELETE' }), 404, 'not-found');

      // The OpenAPI document describes both.
      const document = (await call('/api/openapi.json', { token: null })).json;
      expect(document.paths['/api/admin/accounts/{id}/sessions'].get.operationId).to.equal('adminListSessions');
      expect(document.paths['/api/admin/accounts/{id}/sessions/{sessionId}'].delete.operationId).to.equal('adminEndSession');
      for (const operation of [document.paths['/api/admin/accounts/{id}/sessions'].get, document.paths['/api/admin/accounts/{id}/sessions/{sessionId}'].delete]) {
        expect(operation.security).to.deep.equal([{ bearerAuth: ['admin'] }, { adminClientCredentials: ['admin'] }]);
        expect(Object.keys(operation.responses)).to.include.members(['401', '403', '404']);
      }
      expect(document.paths['/api/admin/accounts/{id}/sessions/{sessionId}'].delete.parameters.map((p: { name: string }) => p.name)).to.deep.equal(['id', 'sessionId']);
      expect(document.components.schemas.AccountSessionList.properties.items.items).to.deep.equal({ $ref: '#/components/schemas/AccountSession' });
    });

    it('lists and ends sessions with the CLI, by email or id', async function () {
      this.timeout(120_000);
      const person = await newPerson('cli');
      const other = await newPerson('cli-other');
      await portalBrowser(person.email, person.password, CHROME_WINDOWS);
      const firefox = await portalBrowser(person.email, person.password, FIREFOX_LINUX);
      await portalBrowser(other.email, other.password, SAFARI_IOS);
      const env = cliEnvironment(server.database.name);
      const listed = await runCli(['user:sessions', person.email], env);
      expect(listed.code, listed.stderr).to.equal(0);
      expect(listed.stdout).to.contain('2 sessions of').and.contain('Chrome on Windows').and.contain('Firefox on Linux').and.contain('latchkey-account');
      const asJson = await runCli(['user:sessions', person.id, '--json'], env);
      const sessions = JSON.parse(asJson.stdout) as Array<{ id: string; device: { browser: string } }>;
      const firefoxId = sessions.find((s) => s.device.browser === 'Firefox')!.id;
      // An id may begin with "-" (base64url): the command reads it as the id, never as an option.
      const dashed = await runCli(['user:end-session', person.email, '-ZSoivyvFlq0bMGT4xWp_'], env);
      expect(dashed.stderr).to.match(/has no live session with id -ZSoivyvFlq0bMGT4xWp_/);
      const otherId = (await listSessions(server.deps, other.id))[0]!.id;

      for (const [args, message] of [
        [['user:end-session', person.email, '$ne'], /not a session id/],
        [['user:end-session', person.email, otherId], /has no live session/],
        [['user:end-session', 'nobody@example.com', firefoxId], /no account with email/],
        [['user:end-session', 'no-such-id', firefoxId], /no account with id/],
      ] as Array<[string[], RegExp]>) {
        const run = await runCli(args, env);
        expect(run.code, args.join(' ')).to.equal(1);
        expect(run.stderr).to.match(message);
      }
      expect(await liveSessionCount(person.id)).to.equal(2);
      expect(await liveSessionCount(other.id)).to.equal(1);

      const ended = await runCli(['user:end-session', person.email, firefoxId], env);
      expect(ended.code, ended.stderr).to.equal(0);
      expect(await promptsLogin(firefox)).to.equal(true);
      expect(await liveSessionCount(person.id)).to.equal(1);
      const [event] = await server.deps.audit.list({ userId: person.id, events: ['session.ended'] });
      expect(event!.actor).to.equal('cli');
    });
  });

  describe('in the admin console', () => {
    it('shows the account\'s sessions on its page and ends one; bad, unknown and other accounts\' ids are 404s that end nothing', async () => {
      const person = await newPerson('console');
      const other = await newPerson('console-other');
      await portalBrowser(person.email, person.password, CHROME_WINDOWS);
      const firefox = await portalBrowser(person.email, person.password, FIREFOX_LINUX);
      const firefoxTokens = await appTokens(firefox, person.email, person.password);
      await portalBrowser(other.email, other.password, SAFARI_IOS);
      const otherId = (await listSessions(server.deps, other.id))[0]!.id;
      const firefoxId = (await listSessions(server.deps, person.id)).find((s) => s.device.browser === 'Firefox')!.id;

      const admin = new Agent();
      const login = await admin.follow(url(`/admin/accounts/${person.id}`));
      const loginForm = formOn(login.body, /\/login$/);
      const page = await admin.follow(new URL(loginForm.action, login.url).href, { form: { ...loginForm.fields, email: 'sessions-admin@example.com', password: ADMIN_PASSWORD } });
      expect(page.status, page.body.slice(0, 300)).to.equal(200);
      const html = decode(page.body);
      expect(html).to.contain('id="sessions-heading"').and.contain('Chrome on Windows').and.contain('Firefox on Linux').and.contain('Test App');
      expect(html).to.contain(firefoxId).and.not.contain(otherId);

      const { fields } = formOn(page.body, /\/end-session$/);
      const send = (path: string, form: string) => admin.request(url(path), { form: `_csrf=${encodeURIComponent(fields._csrf!)}&${form}` });
      const before = [await liveSessionCount(person.id), await liveSessionCount(other.id)];
      for (const [path, form] of [
        [`/admin/accounts/${person.id}/end-session`, ''],
        [`/admin/accounts/${person.id}/end-session`, 'sessionId%5B%24ne%5D=x'],
        [`/admin/accounts/${person.id}/end-session`, `sessionId=${'a'.repeat(5000)}`],
        [`/admin/accounts/${person.id}/end-session`, 'sessionId=nosuchsession0000000'],
        [`/admin/accounts/${person.id}/end-session`, `sessionId=${otherId}`],
        [`/admin/accounts/no-such-account/end-session`, `sessionId=${firefoxId}`],
        [`/admin/accounts/${other.id}/end-session`, `sessionId=${firefoxId}`],
      ]) {
        const answer = await send(path!, form!);
        expect(answer.status, `${path} ${form!.slice(0, 40)}`).to.equal(404);
        expect(answer.body).to.not.match(/\bat \S+ \(|node_modules|\.ts:\d+|Error:/);
      }
      expect((await admin.request(url(`/admin/accounts/${person.id}/end-session`), { form: { sessionId: firefoxId } })).status).to.equal(403);
      expect([await liveSessionCount(person.id), await liveSessionCount(other.id)]).to.deep.equal(before);

      const ended = await send(`/admin/accounts/${person.id}/end-session`, `sessionId=${firefoxId}`);
      expect(ended.status).to.equal(303);
      expect(ended.headers.get('location')).to.equal(`/admin/accounts/${person.id}?notice=session_ended`);
      expect(await refreshWorks(firefoxTokens.refresh_token!)).to.equal(false);
      expect(await promptsLogin(firefox)).to.equal(true);
      const after = decode((await admin.request(url(`/admin/accounts/${person.id}?notice=session_ended`))).body);
      expect(after).to.contain('Session ended: that browser is signed out').and.not.contain('Firefox on Linux');
      const [event] = await server.deps.audit.list({ userId: person.id, events: ['session.ended'] });
      expect(event!.actor).to.match(/^admin:/);
    });
  });

  describe('accessibility of the page (axe, WCAG 2.2 AA)', () => {
    const browser = useBrowser();
    for (const lang of ['en', 'ar'] as const) {
      it(`passes in ${lang === 'en' ? 'English' : 'Arabic'}`, async () => {
        const person = await newPerson(`a11y-${lang}`);
        // Another browser signed in to the app, to list beside this one.
        await appTokens(await portalBrowser(person.email, person.password, FIREFOX_LINUX), person.email, person.password);
        let context: BrowserContext | undefined;
        try {
          context = await browser.newContext();
          await context.addCookies([{ name: 'lk_lang', value: lang, url: server.url }]);
          const page = await context.newPage();
          await page.goto(url('/account/sessions'));
          await page.locator('#email').fill(person.email);
          await page.locator('#password').fill(person.password);
          await page.locator('button[type="submit"].primary').first().click();
          await page.waitForURL(url('/account/sessions'));
          await page.locator('li.session').nth(1).waitFor();
          expect(await page.getAttribute('html', 'dir')).to.equal(lang === 'ar' ? 'rtl' : 'ltr');
          expect(await page.locator('h1').textContent()).to.equal(translator(lang)('sessions.title'));
          const violations = await axeViolations(page);
          expect(violations, describeViolations(violations)).to.deep.equal([]);
          if (process.env.SESSIONS_SHOTS) await page.screenshot({ path: `${process.env.SESSIONS_SHOTS}/sessions-${lang}.png`, fullPage: true });
        } finally {
          await context?.close();
        }
      });
    }

    it('passes on the console\'s account page with its sessions section', async () => {
      const person = await newPerson('a11y-console');
      await appTokens(await portalBrowser(person.email, person.password, FIREFOX_LINUX), person.email, person.password);
      await portalBrowser(person.email, person.password, CHROME_WINDOWS);
      let context: BrowserContext | undefined;
      try {
        context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(url(`/admin/accounts/${person.id}`));
        await page.locator('#email').fill('sessions-admin@example.com');
        await page.locator('#password').fill(ADMIN_PASSWORD);
        await page.locator('button[type="submit"].primary').first().click();
        await page.waitForURL(url(`/admin/accounts/${person.id}`));
        await page.locator('li.session').nth(1).waitFor();
        const violations = await axeViolations(page);
        expect(violations, describeViolations(violations)).to.deep.equal([]);
        if (process.env.SESSIONS_SHOTS) await page.screenshot({ path: `${process.env.SESSIONS_SHOTS}/sessions-console.png`, fullPage: true });
      } finally {
        await context?.close();
      }
    });
  });
});
