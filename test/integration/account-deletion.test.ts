// "Delete my account" (issue 14) end to end: the portal page behind a recent sign-in and
// the typed email, every session, grant and token refused at once (introspection,
// userinfo and refresh through openid-client), the records erased, the audit trail
// pseudonymised, the email reusable at once (signing up again), the confirmation email;
// the last administrator refused on every surface (portal, console, admin API, CLI);
// bad input on every new route; the grace period on two instances sharing one database:
// disabled at once, restored at the sign-in, erased by the background work exactly once.
// Real servers, database and SMTP server; openid-client as the app; Chromium for axe.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { ClientMetadata } from 'oidc-provider';
import type { BrowserContext } from 'playwright-core';
import { createUser } from '../../src/accounts/users.ts';
import { setDisabled } from '../../src/accounts/admin.ts';
import { generateRecoveryCodes } from '../../src/accounts/factors.ts';
import { eraseDueAccounts, deletionNotice, scheduleAccountDeletion } from '../../src/accounts/deletion.ts';
import { PORTAL_SESSIONS } from '../../src/accounts/revocation.ts';
import { translator } from '../../src/i18n/messages.ts';
import { webhookEventFor } from '../../src/webhooks/events.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { startSmtp, type ParsedMail, type TestSmtp } from '../helpers/smtp.ts';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { Agent, formOn, type Page, signedInToPortal } from '../helpers/agent.ts';
import { confidentialClient, discover, openSignIn, RP_CALLBACK, signIn, startAuthorization, submitSignIn } from '../helpers/rp.ts';
import { callApi, expectProblem } from '../helpers/api.ts';
import { cliEnvironment, runCli } from '../helpers/cli.ts';
import { useBrowser } from '../helpers/browser.ts';
import { axeViolations, describeViolations } from '../helpers/axe.ts';

const app = confidentialClient({ client_name: 'Deletion App', scope: 'openid email profile offline_access' });
const automation = {
  client_id: 'automation', client_secret: 'automation-secret-that-is-long-enough-0000', grant_types: ['client_credentials'], scope: 'admin',
  redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic',
} as ClientMetadata;

const toAddress = (m: ParsedMail) => (m.to as { text: string } | undefined)?.text ?? '';

/** Every collection an account's records live in, by the field naming it. */
const RECORDS: Array<[string, string]> = [
  ['factors', 'userId'], ['factor_enrolments', 'userId'], ['passkeys', 'userId'], ['trusted_browsers', 'userId'], ['one_time_links', 'userId'],
  ['lockouts', 'userId'], ['email_changes', 'userId'], ['known_browsers', 'userId'], ['session_devices', 'accountId'], [PORTAL_SESSIONS, 'accountId'], ['sign_in_second_steps', 'accountId'], ['sign_in_restores', 'accountId'],
  ['oidc_session', 'payload.accountId'], ['oidc_grant', 'payload.accountId'], ['oidc_access_token', 'payload.accountId'], ['oidc_refresh_token', 'payload.accountId'],
];

describe('delete my account', function () {
  this.timeout(120_000);

  describe('at once (no grace period)', () => {
    const { server, smtp } = useTestServer({ clients: [app, automation], smtp: true, policy: LENIENT_THROTTLES });
    let config: oidc.Configuration;
    let counter = 0;

    before(async () => {
      config = await discover(server.url, app);
    });

    const url = (path: string) => `${server.url}${path}`;
    const db = () => server.database.connection;
    const mailTo = (email: string, subject: RegExp) => smtp.waitFor((m) => toAddress(m).includes(email) && subject.test(m.subject ?? ''), 10_000);

    async function newPerson(tag: string, extra: { roles?: string[] } = {}) {
      const email = `delete-${tag}-${++counter}@example.com`;
      const password = `a steady lantern by the sea ${counter}`;
      const user = await createUser(server.deps, { email, password, name: 'Leaving Person', ...extra });
      return { email, password, userId: user._id };
    }

    /** A browser signed in to the portal just now (its password typed at the provider). */
    const portalAgent = (email: string, password: string) => signedInToPortal(url(''), email, password);

    /** GETs `path`, fills its form posting to `action` with `fields` (raw body when a string); the answer, not followed. */
    async function post(agent: Agent, path: string, action: RegExp, fields: Record<string, string> | string): Promise<Page> {
      const shown = await agent.request(url(path));
      expect(shown.status, `GET ${path}: ${shown.body.slice(0, 300)}`).to.equal(200);
      const form = formOn(shown.body, action);
      const body = typeof fields === 'string' ? `${new URLSearchParams(form.fields).toString()}&${fields}` : { ...form.fields, ...fields };
      return agent.request(new URL(form.action, shown.url).href, { form: body });
    }

    it('deletes the account from the portal: tokens refused at once, records erased, trail pseudonymised, confirmation emailed, email reusable', async () => {
      const person = await newPerson('portal');
      await server.deps.users.updateOne({ _id: person.userId }, { $set: { phoneNumber: '+442079460958', address: { locality: 'London', country: 'GB' } } });
      const { tokens } = await signIn(config, new Agent(), person.email, person.password, { scope: 'openid email offline_access' });
      await generateRecoveryCodes(server.deps.factors, person.userId);
      await db().collection('trusted_browsers').insertOne({ _id: `${person.userId}:device` as never, userId: person.userId, deviceId: 'device', createdAt: new Date(), expiresAt: new Date(Date.now() + 86_400_000) });
      await db().collection('one_time_links').insertOne({ _id: `link-${person.userId}` as never, userId: person.userId, purpose: 'reset' });
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).to.equal(true);

      const agent = await portalAgent(person.email, person.password);
      const eventsBefore = await db().collection('audit_events').countDocuments({ userId: person.userId });
      expect(eventsBefore).to.be.greaterThan(0);
      const page = await agent.request(url('/account/delete'));
      expect(page.status).to.equal(200);
      expect(page.headers.get('cache-control')).to.equal('no-store');
      expect(page.body).to.contain('Delete your account').and.contain(person.email).and.contain('name="confirmEmail"');
      expect(page.body).to.contain('can be used for a new account right away');

      // Typed in another case, with spaces: still the account's address.
      const done = await post(agent, '/account/delete', /\/account\/delete$/, { confirmEmail: `  ${person.email.toUpperCase()} ` });
      expect(done.status, done.body.slice(0, 500)).to.equal(303);
      expect(done.headers.get('location')).to.equal('/account/deleted');
      const deleted = await agent.request(url('/account/deleted'));
      expect(deleted.status).to.equal(200);
      expect(deleted.body).to.contain('Your account is deleted');

      // The app's tokens are refused at once.
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).to.equal(false);
      expect(await oidc.fetchUserInfo(config, tokens.access_token, oidc.skipSubjectCheck).then(() => 'answered', () => 'refused')).to.equal('refused');
      expect(await oidc.refreshTokenGrant(config, tokens.refresh_token!).then(() => 'refreshed', () => 'refused')).to.equal('refused');
      // The portal session is gone: the portal asks to sign in again.
      const home = await agent.request(url('/account'));
      expect(home.status).to.equal(302);
      expect(home.headers.get('location')).to.match(/^\/account\/login/);

      expect(await db().collection('users').countDocuments({ _id: person.userId as never })).to.equal(0);
      for (const [collection, field] of RECORDS) {
        expect(await db().collection(collection).countDocuments({ [field]: person.userId }), collection).to.equal(0);
      }
      const mentions = (await db().collection('audit_events').find({}).toArray()).filter((record) => JSON.stringify(record).includes(person.userId) || JSON.stringify(record).includes(person.email));
      expect(mentions).to.deep.equal([]);
      const record = await db().collection('audit_events').findOne({ event: 'account.deleted', actor: 'self', userId: { $regex: '^deleted:' } }, { sort: { at: -1 } });
      expect(record, 'account.deleted by the person').to.not.equal(null);
      expect(await db().collection('audit_events').countDocuments({ userId: record!.userId })).to.equal(eventsBefore + 1);

      const mail = await mailTo(person.email, /account is deleted/);
      expect(mail.text).to.contain(person.email).and.contain('create a new account');

      // The address is free at once: signing up with it starts a new account.
      const newcomer = new Agent();
      const signup = await newcomer.request(url('/signup'));
      const form = formOn(signup.body, /\/signup$/);
      const created = await newcomer.request(url('/signup'), { form: { ...form.fields, email: person.email, name: 'Back Again', password: 'a brand new beginning 2026' } });
      expect(created.status, created.body.slice(0, 300)).to.be.oneOf([200, 303]);
      await mailTo(person.email, /confirm|verify/i);
      const again = await db().collection('users').findOne({ emailNormalized: person.email });
      expect(again, 'a new account with the same address').to.not.equal(null);
      expect(again!._id).to.not.equal(person.userId);
    });

    it('refuses missing, wrong, oversized and non-text confirmations with the error beside the field; nothing is deleted', async () => {
      const person = await newPerson('bad-input');
      const agent = await portalAgent(person.email, person.password);
      const cases: Array<[string, Record<string, string> | string, RegExp]> = [
        ['missing', {}, /Type your email address to confirm/],
        ['empty', { confirmEmail: '   ' }, /Type your email address to confirm/],
        ['another address', { confirmEmail: `someone-else-${counter}@example.com` }, /not the email address of this account/],
        ['oversized', { confirmEmail: `${'a'.repeat(300)}@example.com` }, /too long/],
        ['an operator object', `confirmEmail[$ne]=x`, /could not be read|Type your email address/],
        ['an array', `confirmEmail=${encodeURIComponent(person.email)}&confirmEmail=${encodeURIComponent(person.email)}`, /could not be read|Type your email address/],
      ];
      for (const [label, fields, message] of cases) {
        const answer = await post(agent, '/account/delete', /\/account\/delete$/, fields);
        expect(answer.status, label).to.equal(400);
        expect(answer.body, label).to.match(message).and.match(/id="confirmEmail-error"/).and.contain('error-summary');
      }
      // Without the CSRF token: refused before anything is read.
      const forged = await agent.request(url('/account/delete'), { form: { confirmEmail: person.email } });
      expect(forged.status).to.equal(403);
      // Without a session: a page saying so.
      const anonymous = await new Agent().request(url('/account/delete'), { form: { confirmEmail: person.email } });
      expect(anonymous.status).to.be.oneOf([401, 403]);
      expect(await server.deps.users.exists({ _id: person.userId })).to.not.equal(null);
      expect((await server.deps.users.findById(person.userId).lean())!.status).to.equal('active');
    });

    it('needs a recent sign-in: an older one is sent to sign in again (GET) or refused (POST), nothing deleted', async () => {
      const person = await newPerson('stale');
      const agent = await portalAgent(person.email, person.password);
      await db().collection(PORTAL_SESSIONS).updateMany({ accountId: person.userId }, { $set: { authTime: new Date(Date.now() - 30 * 60_000) } });
      const page = await agent.request(url('/account/delete'));
      expect(page.status).to.equal(302);
      expect(page.headers.get('location')).to.equal(`/account/login?fresh=1&return=${encodeURIComponent('/account/delete')}`);
      const data = await agent.request(url('/account/data'));
      const form = formOn(data.body, /\/account\/data$/);
      const refused = await agent.request(url('/account/delete'), { form: { _csrf: form.fields._csrf!, confirmEmail: person.email } });
      expect(refused.status).to.equal(401);
      expect(refused.body).to.contain(`/account/login?fresh=1&amp;return=${encodeURIComponent('/account/delete')}`);
      expect(await server.deps.users.exists({ _id: person.userId })).to.not.equal(null);
    });

    it('never deletes the last administrator: portal, admin API and CLI refuse it and it stays; another is deleted by each, audited with its actor', async () => {
      await db().collection('users').updateMany({ roles: 'admin' }, { $pull: { roles: 'admin' } as never });
      const admin = await newPerson('last-admin', { roles: ['admin'] });
      const agent = await portalAgent(admin.email, admin.password);
      const portal = await post(agent, '/account/delete', /\/account\/delete$/, { confirmEmail: admin.email });
      expect(portal.status).to.equal(409);
      expect(portal.body).to.contain('You are the only administrator');

      const token = (await oidc.clientCredentialsGrant(await discover(server.url, automation), { scope: 'admin' })).access_token;
      const api = await callApi(server.url, `/api/admin/accounts/${admin.userId}`, { method: 'DELETE', token });
      expectProblem(api, 409, 'account-state', server.url);
      expect(api.json.detail).to.match(/last active administrator/);

      const env = cliEnvironment(server.database.name, { DATA_DIR: server.deps.config.dataDir });
      const cli = await runCli(['user:delete', admin.email, '--yes'], env);
      expect(cli.code).to.equal(1);
      expect(cli.stderr).to.match(/last active administrator/);
      const still = await server.deps.users.findById(admin.userId).lean();
      expect(still).to.include({ status: 'active' });
      expect(still!.roles).to.deep.equal(['admin']);

      // Others go, by each surface, with its actor in the trail.
      const byApi = await newPerson('by-api');
      const { tokens } = await signIn(config, new Agent(), byApi.email, byApi.password, { scope: 'openid email offline_access' });
      const removed = await callApi(server.url, `/api/admin/accounts/${byApi.userId}`, { method: 'DELETE', token });
      expect(removed.status, removed.text).to.equal(204);
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).to.equal(false);
      expect(await server.deps.users.exists({ _id: byApi.userId })).to.equal(null);
      expect(await db().collection('audit_events').countDocuments({ event: 'account.deleted', actor: 'client:automation' })).to.equal(1);
      await mailTo(byApi.email, /account is deleted/);
      expectProblem(await callApi(server.url, `/api/admin/accounts/${byApi.userId}`, { method: 'DELETE', token }), 404, 'not-found', server.url);
      expectProblem(await callApi(server.url, `/api/admin/accounts/${'x'.repeat(300)}`, { method: 'DELETE', token }), 404, 'not-found', server.url);
      expect((await callApi(server.url, `/api/admin/accounts/${admin.userId}`, { method: 'DELETE', token, body: { confirm: true } })).status, 'no body fields').to.equal(400);
      expect((await callApi(server.url, `/api/admin/accounts/${admin.userId}`, { method: 'DELETE', token: null })).status).to.equal(401);

      const byCli = await newPerson('by-cli');
      const unconfirmed = await runCli(['user:delete', byCli.email], env);
      expect(unconfirmed.code, 'no terminal to ask on, no --yes').to.equal(1);
      expect(unconfirmed.stderr).to.match(/--yes/);
      expect(await server.deps.users.exists({ _id: byCli.userId })).to.not.equal(null);
      const unknown = await runCli(['user:delete', 'nobody-here@example.com', '--yes'], env);
      expect(unknown.code).to.equal(1);
      const byId = await runCli(['user:delete', byCli.userId, '--yes'], env);
      expect(byId.code, byId.stderr).to.equal(0);
      expect(byId.stdout).to.contain(`deleted ${byCli.email}`);
      expect(await server.deps.users.exists({ _id: byCli.userId })).to.equal(null);
      expect(await db().collection('audit_events').countDocuments({ event: 'account.deleted', actor: 'cli' })).to.equal(1);
    });

    it('deletes from the console\'s account page after the email typed back; refuses a wrong one and the last administrator', async () => {
      await db().collection('users').updateMany({ roles: 'admin' }, { $pull: { roles: 'admin' } as never });
      const admin = await newPerson('console-admin', { roles: ['admin'] });
      const agent = new Agent();
      const login = await agent.follow(url('/admin'));
      const signInForm = formOn(login.body, /\/login$/);
      const list = await agent.follow(new URL(signInForm.action, login.url).href, { form: { ...signInForm.fields, email: admin.email, password: admin.password } });
      expect(list.url, list.body.slice(0, 300)).to.equal(url('/admin'));
      const person = await newPerson('by-console');
      const { tokens } = await signIn(config, new Agent(), person.email, person.password, { scope: 'openid email offline_access' });

      const page = await agent.request(url(`/admin/accounts/${person.userId}`));
      expect(page.body).to.contain('Delete account').and.contain(`action="/admin/accounts/${person.userId}/delete"`);
      const form = formOn(page.body, /\/delete$/);
      const target = url(`/admin/accounts/${person.userId}/delete`);
      for (const body of [{ ...form.fields }, { ...form.fields, confirmEmail: admin.email }, { ...form.fields, confirmEmail: 'x'.repeat(400) }]) {
        const refused = await agent.request(target, { form: body });
        expect(refused.status).to.equal(400);
        expect(refused.body).to.contain('Nothing was deleted');
      }
      expect((await agent.request(target, { form: `${new URLSearchParams(form.fields)}&confirmEmail[$ne]=x` })).status).to.equal(400);
      expect((await agent.request(url('/admin/accounts/nobody-here/delete'), { form: { ...form.fields, confirmEmail: person.email } })).status).to.equal(404);
      expect(await server.deps.users.exists({ _id: person.userId })).to.not.equal(null);

      const done = await agent.request(target, { form: { ...form.fields, confirmEmail: person.email } });
      expect(done.status).to.equal(303);
      expect(done.headers.get('location')).to.equal('/admin?notice=account_deleted');
      expect((await agent.request(url(done.headers.get('location')!))).body).to.contain('The account was deleted.');
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).to.equal(false);
      expect(await server.deps.users.exists({ _id: person.userId })).to.equal(null);
      expect(await db().collection('audit_events').countDocuments({ event: 'account.deleted', actor: `admin:${admin.userId}` })).to.equal(1);
      await mailTo(person.email, /account is deleted/);

      const self = await agent.request(url(`/admin/accounts/${admin.userId}/delete`), { form: { ...form.fields, confirmEmail: admin.email } });
      expect(self.status).to.equal(409);
      expect(self.body).to.contain('last active administrator');
      expect(await server.deps.users.exists({ _id: admin.userId })).to.not.equal(null);
    });

    it('documents DELETE /api/admin/accounts/{id} in the OpenAPI document: admin access, 204, 404 and 409', async () => {
      const doc = (await callApi(server.url, '/api/openapi.json', { token: null })).json;
      const operation = doc.paths['/api/admin/accounts/{id}'].delete;
      expect(operation.operationId).to.equal('adminDeleteAccount');
      expect(operation.security).to.deep.equal([{ bearerAuth: ['admin'] }, { adminClientCredentials: ['admin'] }]);
      expect(Object.keys(operation.responses)).to.include.members(['204', '401', '403', '404', '409']);
    });

    it('tells webhook receivers: a scheduled deletion as account.disabled, a restore as account.enabled, the erasure as account.deleted', () => {
      const record = (event: string) => ({ id: 'x', at: new Date(), event, userId: 'u', actor: 'self', details: {} });
      expect(webhookEventFor(record('account.deletion_scheduled'))!.type).to.equal('account.disabled');
      expect(webhookEventFor(record('account.restored'))!.type).to.equal('account.enabled');
      expect(webhookEventFor({ ...record('account.deleted'), userId: 'deleted:abc', accountId: 'u' })).to.include({ type: 'account.deleted', accountId: 'u' });
    });

    it('shows "Your data" and the deletion pages in every language', async () => {
      // Covered with a real browser below; here the pages render in every language without a missing text.
      const person = await newPerson('languages');
      const agent = await portalAgent(person.email, person.password);
      for (const lang of ['de', 'fr', 'es', 'pt-BR', 'ja', 'ar']) {
        agent.cookies.set('lk_lang', lang);
        const t = translator(lang as never);
        expect((await agent.request(url('/account/delete'))).body, lang).to.contain(t('portal.delete.submit'));
        expect((await agent.request(url('/account/data'))).body, lang).to.contain(t('portal.data.exportButton'));
        expect((await agent.request(url('/account/deleted?on=2030-01-02'))).body, lang).to.contain(t('portal.deleted.scheduledTitle'));
      }
    });

    describe('accessibility (axe, WCAG 2.2 AA)', () => {
      const browser = useBrowser();
      for (const lang of ['en', 'ar'] as const) {
        it(`passes on the data, delete (with an error) and deleted pages in ${lang === 'en' ? 'English' : 'Arabic'}`, async () => {
          const person = await newPerson(`a11y-${lang}`);
          let context: BrowserContext | undefined;
          try {
            context = await browser.newContext();
            await context.addCookies([{ name: 'lk_lang', value: lang, url: server.url }]);
            const page = await context.newPage();
            await page.goto(url('/account/data'));
            await page.locator('#email').fill(person.email);
            await page.locator('#password').fill(person.password);
            await page.locator('button[type="submit"].primary').first().click();
            await page.waitForURL(url('/account/data'));
            expect(await page.getAttribute('html', 'dir')).to.equal(lang === 'ar' ? 'rtl' : 'ltr');
            const audit = async (where: string) => {
              const violations = await axeViolations(page);
              expect(violations, `${where}: ${describeViolations(violations)}`).to.deep.equal([]);
            };
            await audit('/account/data');
            await page.goto(url('/account/delete'));
            await audit('/account/delete');
            await page.locator('#confirmEmail').fill('not-my-address@example.com');
            await page.locator('form[action="/account/delete"] button[type="submit"]').click();
            await page.locator('#confirmEmail-error').waitFor();
            await audit('/account/delete with an error');
            await page.locator('#confirmEmail').fill(person.email);
            await page.locator('form[action="/account/delete"] button[type="submit"]').click();
            await page.waitForURL(url('/account/deleted'));
            expect(await page.locator('h1').textContent()).to.equal(translator(lang)('portal.deleted.title'));
            await audit('/account/deleted');
            expect(await server.deps.users.exists({ _id: person.userId })).to.equal(null);
          } finally {
            await context?.close();
          }
        });
      }
    });
  });

  describe('with a grace period, on two instances sharing one database', () => {
    let smtp: TestSmtp;
    let cluster: Cluster;
    let config: oidc.Configuration;
    let counter = 0;

    before(async function () {
      this.timeout(120_000);
      smtp = await startSmtp();
      cluster = await startCluster(2, {
        clients: [app], policy: { ...LENIENT_THROTTLES, accountDeletion: { graceDays: 7 } },
        env: { SMTP_URL: smtp.url, SWEEP_INTERVAL_MS: '300' },
      });
      config = await discover(cluster.url, app);
    });

    after(async function () {
      this.timeout(60_000);
      await cluster?.stop();
      await smtp?.close();
    });

    const url = (path: string) => `${cluster.url}${path}`;
    const db = () => cluster.database.connection;
    const deps = () => cluster.instances[0]!.deps;
    const mailTo = (email: string, subject: RegExp) => smtp.waitFor((m) => toAddress(m).includes(email) && subject.test(m.subject ?? ''), 10_000);

    async function newPerson(tag: string) {
      const email = `grace-${tag}-${++counter}@example.com`;
      const password = `a patient harbour light ${counter}`;
      const user = await createUser(deps(), { email, password, name: 'Maybe Leaving' });
      return { email, password, userId: user._id };
    }

    /** A browser signed in to the portal just now (its password typed at the provider). */
    const portalAgent = (email: string, password: string) => signedInToPortal(url(''), email, password);

    it('disables at once (tokens refused), emails the date; a wrong password reads as always; the right one offers to restore, and restoring signs in', async () => {
      const person = await newPerson('restore');
      const { tokens } = await signIn(config, new Agent(), person.email, person.password, { scope: 'openid email offline_access' });
      const agent = await portalAgent(person.email, person.password);
      const page = await agent.request(url('/account/delete'));
      expect(page.body).to.contain('erased after 7 days');
      const form = formOn(page.body, /\/account\/delete$/);
      const done = await agent.request(url('/account/delete'), { form: { ...form.fields, confirmEmail: person.email } });
      expect(done.status).to.equal(303);
      const on = /^\/account\/deleted\?on=(\d{4}-\d{2}-\d{2})$/.exec(done.headers.get('location') ?? '');
      expect(on, done.headers.get('location') ?? '').to.not.equal(null);
      const landed = await agent.request(url(done.headers.get('location')!));
      expect(landed.body).to.contain('Your account will be deleted').and.contain('restore');

      const stored = await deps().users.findById(person.userId).lean();
      expect(stored).to.include({ status: 'disabled', statusBeforeDisable: 'active' });
      const days = (stored!.deletionScheduledFor!.getTime() - Date.now()) / 86_400_000;
      expect(days).to.be.within(6.99, 7.01);
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).to.equal(false);
      expect(await oidc.refreshTokenGrant(config, tokens.refresh_token!).then(() => 'refreshed', () => 'refused')).to.equal('refused');
      expect(await db().collection('oidc_session').countDocuments({ 'payload.accountId': person.userId })).to.equal(0);
      const mail = await mailTo(person.email, /will be deleted/);
      expect(mail.text).to.contain('Restore it').and.contain(url('/account'));
      expect(await db().collection('audit_events').countDocuments({ userId: person.userId, event: 'account.deletion_scheduled' })).to.equal(1);

      // A wrong password: the same page and words as for an address with no account.
      const wrongAgent = new Agent();
      const wrong = await submitSignIn(wrongAgent, await openSignIn(wrongAgent, await startAuthorization(config)), person.email, 'not the password at all 1');
      const otherAgent = new Agent();
      const nobody = await submitSignIn(otherAgent, await openSignIn(otherAgent, await startAuthorization(config)), `nobody-${counter}@example.com`, 'not the password at all 1');
      expect(wrong.status).to.equal(401);
      expect(nobody.status).to.equal(401);
      const errorOf = (body: string) => /<p class="error banner" role="alert">([^<]*)<\/p>/.exec(body)?.[1];
      expect(errorOf(wrong.body)).to.equal(errorOf(nobody.body)).and.to.be.a('string');
      expect(wrong.body).to.not.contain('Restore');

      // The right password: the restore page; "Restore it" goes on to the app.
      const signInAgent = new Agent();
      const authorization = await startAuthorization(config);
      const offer = await submitSignIn(signInAgent, await openSignIn(signInAgent, authorization), person.email, person.password);
      expect(offer.status, offer.body.slice(0, 500)).to.equal(200);
      expect(offer.body).to.contain('Restore your account?').and.contain('scheduled for deletion on');
      const restore = formOn(offer.body, /\/restore$/);
      const back = await signInAgent.follow(new URL(restore.action, offer.url).href, { form: restore.fields }, RP_CALLBACK);
      expect(back.url.startsWith(RP_CALLBACK), back.body.slice(0, 500)).to.equal(true);
      const restored = await oidc.authorizationCodeGrant(config, new URL(back.url), {
        pkceCodeVerifier: authorization.verifier, expectedState: authorization.state, expectedNonce: authorization.nonce,
      });
      expect(restored.claims()!.sub).to.equal(person.userId);
      expect(await deps().users.findById(person.userId).lean()).to.include({ status: 'active', deletionScheduledFor: null, statusBeforeDisable: null });
      expect(await db().collection('audit_events').countDocuments({ userId: person.userId, event: 'account.restored' })).to.equal(1);
      // The restore is used: sending it again restores nothing more.
      const replay = await signInAgent.request(new URL(restore.action, offer.url).href, { form: restore.fields });
      expect(replay.status).to.be.within(400, 499);
      expect(await db().collection('audit_events').countDocuments({ userId: person.userId, event: 'account.restored' })).to.equal(1);
    });

    it('an operator enabling a scheduled account takes the deletion back', async () => {
      const person = await newPerson('enabled');
      await scheduleAccountDeletion(deps(), deletionNotice(deps()), person.userId, 7 * 86_400_000, { actor: 'self' });
      await setDisabled(deps(), person.userId, false, { actor: 'cli' });
      expect(await deps().users.findById(person.userId).lean()).to.include({ status: 'active', deletionScheduledFor: null });
      // Disabled again later for another reason: nothing erases it.
      await setDisabled(deps(), person.userId, true, { actor: 'cli' });
      expect(await eraseDueAccounts(deps(), deletionNotice(deps()), new Date(Date.now() + 30 * 86_400_000))).to.equal(0);
      expect(await deps().users.exists({ _id: person.userId })).to.not.equal(null);
    });

    it('"Cancel" on the restore page ends the sign-in back at the app, and the account stays scheduled', async () => {
      const person = await newPerson('cancel');
      await scheduleAccountDeletion(deps(), deletionNotice(deps()), person.userId, 7 * 86_400_000, { actor: 'self' });
      const agent = new Agent();
      const offer = await submitSignIn(agent, await openSignIn(agent, await startAuthorization(config)), person.email, person.password);
      const cancel = formOn(offer.body, /\/abort$/);
      const back = await agent.follow(new URL(cancel.action, offer.url).href, { form: cancel.fields }, RP_CALLBACK);
      expect(back.url).to.contain('error=access_denied');
      expect(await deps().users.findById(person.userId).lean()).to.include({ status: 'disabled' });
    });

    it('erases each account whose grace period ended exactly once, by the background work of either instance', async () => {
      const people = await Promise.all([1, 2, 3].map((n) => newPerson(`erase-${n}`)));
      for (const person of people) await scheduleAccountDeletion(deps(), deletionNotice(deps()), person.userId, 7 * 86_400_000, { actor: 'self' });
      // A restored account is not erased, even with a date in the past left behind.
      const kept = await newPerson('erase-kept');
      await db().collection('users').updateMany({ _id: { $in: people.map((p) => p.userId) as never[] } }, { $set: { deletionScheduledFor: new Date(Date.now() - 1000) } });
      await db().collection('users').updateOne({ _id: kept.userId as never }, { $set: { deletionScheduledFor: new Date(Date.now() - 1000) } });

      // Both instances' loops run every 300 ms; they also race here, directly, on the same accounts.
      const direct = await Promise.all(cluster.instances.map((instance) => eraseDueAccounts(instance.deps, deletionNotice(instance.deps))));
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && (await db().collection('users').countDocuments({ _id: { $in: people.map((p) => p.userId) as never[] } }))) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await db().collection('users').countDocuments({ _id: { $in: people.map((p) => p.userId) as never[] } })).to.equal(0);
      expect(direct.reduce((a, b) => a + b, 0)).to.be.at.most(3);
      for (const person of people) await mailTo(person.email, /account is deleted/);
      // Two more periods of both loops: nothing is erased or emailed twice.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      for (const person of people) {
        expect(smtp.messages.filter((m) => toAddress(m).includes(person.email) && /account is deleted/.test(m.subject ?? '')), person.email).to.have.length(1);
        for (const [collection, field] of RECORDS) expect(await db().collection(collection).countDocuments({ [field]: person.userId }), collection).to.equal(0);
      }
      expect(await db().collection('audit_events').countDocuments({ event: 'account.deleted', actor: 'system' })).to.equal(3);
      expect(await deps().users.findById(kept.userId).lean()).to.include({ status: 'active' });
      const lease = await db().collection('leases').findOne({ _id: 'account-deletions' as never });
      expect(lease!.taken).to.be.greaterThan(1);
    });

    describe('accessibility of the restore page (axe, WCAG 2.2 AA)', () => {
      const browser = useBrowser();
      for (const lang of ['en', 'ar'] as const) {
        it(`passes in ${lang === 'en' ? 'English' : 'Arabic'}`, async () => {
          const person = await newPerson(`a11y-${lang}`);
          await scheduleAccountDeletion(deps(), deletionNotice(deps()), person.userId, 7 * 86_400_000, { actor: 'self' });
          let context: BrowserContext | undefined;
          try {
            context = await browser.newContext();
            await context.addCookies([{ name: 'lk_lang', value: lang, url: cluster.url }]);
            const page = await context.newPage();
            await page.goto((await startAuthorization(config)).url.href);
            await page.locator('#email').fill(person.email);
            await page.locator('#password').fill(person.password);
            await page.locator('button[type="submit"].primary').first().click();
            await page.locator('form[action$="/restore"]').waitFor();
            expect(await page.getAttribute('html', 'dir')).to.equal(lang === 'ar' ? 'rtl' : 'ltr');
            expect(await page.locator('h1').textContent()).to.equal(translator(lang)('restore.title'));
            const violations = await axeViolations(page);
            expect(violations, describeViolations(violations)).to.deep.equal([]);
          } finally {
            await context?.close();
          }
        });
      }
    });
  });
});
