// The organisation's terms (issue 14): a sign-in asks a person who has not accepted the
// version in force, after the password and before the app; a new version asks again,
// even in a browser signed in already (SSO); declining sends the app access_denied;
// acceptance is stored, audited and shown in the portal; sign-up accepts them with a
// required box; bad input on every new form. Real server, database, SMTP server,
// openid-client as the app, Chromium for the accessibility audit.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { BrowserContext } from 'playwright-core';
import { createUser } from '../../src/accounts/users.ts';
import type { User } from '../../src/db/models/user.ts';
import { translator } from '../../src/i18n/messages.ts';
import { LOCALES } from '../../src/i18n/locales.ts';
import { LENIENT_THROTTLES, startTestServer, testConfig, useTestServer, type TestServer } from '../helpers/server.ts';
import { ConfigError } from '../../src/config.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { RP_CALLBACK, discover, openSignIn, publicClient, startAuthorization, submitSignIn, type Authorization } from '../helpers/rp.ts';
import { useBrowser } from '../helpers/browser.ts';
import { axeViolations, describeViolations } from '../helpers/axe.ts';
import { callApi } from '../helpers/api.ts';

const app = publicClient({ scope: 'openid email profile admin' });
const thirdParty = publicClient({ client_id: 'third-app', client_name: 'Third App', first_party: false, tos_uri: 'https://third.example/tos' });
const TERMS = { version: '2025-01', url: '/legal/terms' };
const NEW_TERMS = { version: '2025-06', url: 'https://example.com/terms/2025-06' };

function expectClearRefusal(page: Page, status = 400) {
  expect(page.status, page.body.slice(0, 300)).to.equal(status);
  expect(page.body).to.not.match(/\bat \S+ \(|node_modules|\.ts:\d+|Error:/);
}

describe('terms', function () {
  this.timeout(60_000);
  const { server, smtp } = useTestServer({ clients: [app, thirdParty], smtp: true, policy: { ...LENIENT_THROTTLES, terms: TERMS } });
  let counter = 0;

  async function newPerson(tag: string) {
    const email = `terms-${tag}-${++counter}@example.com`;
    const password = `amber willow compass ${counter}`;
    const user = await createUser(server.deps, { email, password, name: 'Terry' });
    return { email, password, id: user._id };
  }
  const stored = async (on: TestServer, id: string) => (await on.deps.users.findById(id).lean<User>())!;

  /** An authorization of `client` at `on`, signed in with the password: the page after the password (or the callback). */
  async function signInTo(on: TestServer, agent: Agent, person: { email: string; password: string }, client = app, params: Record<string, string> = {}): Promise<{ page: Page; authorization: Authorization; config: oidc.Configuration }> {
    const config = await discover(on.url, client);
    const authorization = await startAuthorization(config, params);
    const login = await openSignIn(agent, authorization);
    const page = await submitSignIn(agent, login, person.email, person.password);
    return { page, authorization, config };
  }

  /** Sends the terms page's accept (or decline) form; follows to the callback. */
  async function answer(agent: Agent, page: Page, decision: 'accept' | 'decline', override: Record<string, string> = {}): Promise<Page> {
    const forms = [...page.body.matchAll(/<form[^>]*action="([^"]+\/terms)"[^>]*>([\s\S]*?)<\/form>/g)];
    const form = forms.map((match) => formOn(match[0], /\/terms$/)).find((f) => f.fields.decision === decision);
    if (!form) throw new Error(`no ${decision} form on the page:\n${page.body.slice(0, 1500)}`);
    return agent.follow(new URL(form.action, page.url).href, { form: { ...form.fields, ...override } }, RP_CALLBACK);
  }

  const codeGrant = (config: oidc.Configuration, authorization: Authorization, callback: string) =>
    oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: authorization.verifier, expectedState: authorization.state, expectedNonce: authorization.nonce });

  it('asks after the password and before the app; accepting stores the version, the time and the app, audited', async () => {
    const person = await newPerson('first');
    const agent = new Agent();
    const before = Date.now();
    const { page, authorization, config } = await signInTo(server, agent, person);
    expect(page.status).to.equal(200);
    expect(page.url).to.match(/\/interaction\/[\w-]+$/);
    expect(page.body).to.contain('Accept the terms to continue').and.contain('href="/legal/terms"').and.contain('version 2025-01').and.contain(person.email);
    expect((await stored(server, person.id)).termsAccepted, 'nothing stored before the answer').to.equal(null);

    const callback = await answer(agent, page, 'accept');
    expect(callback.url.startsWith(RP_CALLBACK), callback.body.slice(0, 500)).to.equal(true);
    const tokens = await codeGrant(config, authorization, callback.url);
    expect(tokens.claims()!.sub).to.equal(person.id);

    const accepted = (await stored(server, person.id)).termsAccepted!;
    expect(accepted.version).to.equal('2025-01');
    expect(accepted.clientId).to.equal('test-app');
    expect(accepted.at!.getTime()).to.be.within(before - 1000, Date.now() + 1000);
    const events = await server.deps.audit.list({ userId: person.id, events: ['terms.accepted'] });
    expect(events).to.have.length(1);
    expect(events[0]!.details).to.include({ version: '2025-01', clientId: 'test-app' });

    // Accepted once: another browser's sign-in goes straight to the app.
    const again = await signInTo(server, new Agent(), person);
    expect(again.page.url.startsWith(RP_CALLBACK), again.page.body.slice(0, 500)).to.equal(true);
  });

  it('declining ends the sign-in: the app gets access_denied through openid-client, nothing is stored, and the browser is signed out', async () => {
    const person = await newPerson('decline');
    const agent = new Agent();
    const { page, authorization, config } = await signInTo(server, agent, person);
    const callback = await answer(agent, page, 'decline');
    expect(callback.url.startsWith(RP_CALLBACK)).to.equal(true);
    const error = await codeGrant(config, authorization, callback.url).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(oidc.AuthorizationResponseError);
    expect((error as oidc.AuthorizationResponseError).error).to.equal('access_denied');
    expect((await stored(server, person.id)).termsAccepted).to.equal(null);
    expect(await server.deps.audit.list({ userId: person.id, events: ['terms.accepted'] })).to.have.length(0);
    // Declining signed this browser out: the next authorization asks for the password again.
    const next = await openSignIn(agent, await startAuthorization(config));
    expect(next.body).to.contain('autocomplete="current-password"').and.not.contain('Accept the terms to continue');
  });

  it('links an app\'s own terms beside ours, and goes on to that app\'s consent after accepting', async () => {
    const person = await newPerson('third');
    const agent = new Agent();
    const { page, authorization, config } = await signInTo(server, agent, person, thirdParty);
    expect(page.body).to.contain('href="https://third.example/tos"').and.match(/(<bdi>)?Third App(<\/bdi>)? terms of service/);
    const consent = await answer(agent, page, 'accept');
    expect(consent.body, 'the consent page of the third-party app').to.match(/\/confirm"/);
    const allow = formOn(consent.body, /\/confirm$/);
    const callback = await agent.follow(new URL(allow.action, consent.url).href, { form: allow.fields }, RP_CALLBACK);
    expect((await codeGrant(config, authorization, callback.url)).claims()!.sub).to.equal(person.id);
    expect((await stored(server, person.id)).termsAccepted!.clientId).to.equal('third-app');
  });

  describe('a new version (a second instance with the new terms on the same database)', () => {
    let updated: TestServer;
    before(async function () {
      this.timeout(60_000);
      // The same data directory: the same cookie and data keys, as instances of one deployment share.
      updated = await startTestServer({
        clients: [app, thirdParty], database: server.database, policy: { ...LENIENT_THROTTLES, terms: NEW_TERMS },
        env: { DATA_DIR: server.deps.config.dataDir },
      });
    });
    after(async () => {
      await updated?.stop();
    });

    it('asks again even in a browser signed in already (SSO), says the terms changed, and a page of the old version accepts nothing', async () => {
      const person = await newPerson('sso');
      const agent = new Agent();
      const first = await signInTo(server, agent, person);
      const done = await answer(agent, first.page, 'accept');
      expect(done.url.startsWith(RP_CALLBACK)).to.equal(true);

      // Same browser, the instance with the new version: no password asked, the terms are.
      const config = await discover(updated.url, app);
      const authorization = await startAuthorization(config);
      const page = await openSignIn(agent, authorization);
      expect(page.status).to.equal(200);
      expect(page.body).to.not.contain('autocomplete="current-password"');
      expect(page.body).to.contain('The terms have changed').and.contain('href="https://example.com/terms/2025-06"').and.contain('version 2025-06');

      // The page of the old version (the terms changed while it was open): nothing stored, the new version shown.
      const stale = await answer(agent, page, 'accept', { version: '2025-01' });
      expectClearRefusal(stale, 409);
      expect(stale.body).to.contain('The terms changed while this page was open').and.contain('version 2025-06');
      expect((await stored(server, person.id)).termsAccepted!.version).to.equal('2025-01');

      const callback = await answer(agent, stale, 'accept');
      expect(callback.url.startsWith(RP_CALLBACK), callback.body.slice(0, 500)).to.equal(true);
      expect((await codeGrant(config, authorization, callback.url)).claims()!.sub).to.equal(person.id);
      expect((await stored(server, person.id)).termsAccepted!.version).to.equal('2025-06');
    });
  });

  it('shows the acceptance in the portal overview, with a link to the terms', async () => {
    const person = await newPerson('portal');
    const agent = new Agent();
    const login = await agent.follow(`${server.url}/account`);
    const terms = await submitSignIn(agent, login, person.email, person.password);
    expect(terms.body, 'the portal is an app too: the terms first').to.contain('Accept the terms to continue');
    const form = [...terms.body.matchAll(/<form[^>]*action="([^"]+\/terms)"[^>]*>[\s\S]*?<\/form>/g)].map((m) => formOn(m[0], /\/terms$/)).find((f) => f.fields.decision === 'accept')!;
    const home = await agent.follow(new URL(form.action, terms.url).href, { form: form.fields });
    expect(home.url).to.equal(`${server.url}/account`);
    expect(home.body).to.match(/You accepted the terms of service \(version 2025-01\) on [^<]+\d{4}/).and.contain('href="/legal/terms"');
  });

  it('shows the acceptance in the console\'s account page and the admin API\'s account', async () => {
    const adminPassword = 'granite harbour violet 42';
    const admin = await createUser(server.deps, { email: `terms-admin-${++counter}@example.com`, password: adminPassword, roles: ['admin'] });
    // The admin's own sign-in asks for the terms too; then a token for the admin API, and the console in the same browser.
    const adminBrowser = new Agent();
    const signedIn = await signInTo(server, adminBrowser, { email: admin.email, password: adminPassword }, app, { scope: 'openid admin' });
    const token = (await codeGrant(signedIn.config, signedIn.authorization, (await answer(adminBrowser, signedIn.page, 'accept')).url)).access_token;

    const person = await newPerson('console');
    const browser = new Agent();
    const { page } = await signInTo(server, browser, person);
    const before = await callApi(server.url, `/api/admin/accounts/${person.id}`, { token });
    expect(before.status, before.text.slice(0, 300)).to.equal(200);
    expect(before.json.termsAccepted, 'not accepted yet').to.equal(null);
    await answer(browser, page, 'accept');
    const after = await callApi(server.url, `/api/admin/accounts/${person.id}`, { token });
    expect(after.json.termsAccepted).to.deep.include({ version: '2025-01', clientId: 'test-app' });
    expect(after.json.termsAccepted.at).to.match(/^\d{4}-\d\d-\d\dT/);

    const consolePage = await adminBrowser.follow(`${server.url}/admin/accounts/${person.id}`);
    expect(consolePage.status, consolePage.body.slice(0, 300)).to.equal(200);
    expect(consolePage.body).to.contain('Terms of service').and.match(/Version 2025-01 on [^<]+, signing in to test-app/);
  });

  it('refuses a policy with a version but no URL, or a URL that is neither https nor a path, naming the setting', () => {
    expect(() => testConfig({ policy: { terms: { version: '1' } } })).to.throw(ConfigError, /terms\.url is required/);
    expect(() => testConfig({ policy: { terms: { version: '1', url: 'http://example.com/terms' } } })).to.throw(ConfigError, /terms\.url/);
    expect(() => testConfig({ policy: { terms: { version: 'two words', url: '/terms' } } })).to.throw(ConfigError, /terms\.version/);
    expect(testConfig({ policy: { terms: { version: '3.1', url: '/terms' } } }).policy.terms).to.deep.equal({ version: '3.1', url: '/terms' });
    expect(testConfig().policy.notices).to.deep.equal({ newBrowser: true, newBrowserThrottleMinutes: 60 });
  });

  describe('sign-up', () => {
    it('has a required box for the terms; ticked, the acceptance is stored with the account and the first sign-in does not ask', async () => {
      const agent = new Agent();
      const shown = await agent.request(`${server.url}/signup`);
      expect(shown.body).to.contain('name="acceptTerms"').and.contain('I have read and accept the terms of service (version 2025-01)');
      const form = formOn(shown.body, /\/signup$/);
      const email = `terms-signup-${++counter}@example.com`;
      const password = 'sturdy lantern meadow 77';
      const fields = { ...form.fields, name: 'Sig Nup', email, password };

      const unticked = await agent.request(`${server.url}/signup`, { form: fields });
      expectClearRefusal(unticked);
      expect(unticked.body).to.contain('Accept the terms of service to create your account.');
      const staleVersion = await agent.request(`${server.url}/signup`, { form: { ...fields, acceptTerms: 'yes', termsVersion: '2024-01' } });
      expectClearRefusal(staleVersion);
      expect(await server.deps.users.countDocuments({ email })).to.equal(0);

      const sent = await agent.request(`${server.url}/signup`, { form: { ...fields, acceptTerms: 'yes' } });
      expect(sent.status, sent.body.slice(0, 500)).to.equal(200);
      const account = (await server.deps.users.findOne({ email }).lean<User>())!;
      expect(account.termsAccepted!.version).to.equal('2025-01');
      expect(account.termsAccepted!.clientId).to.equal(null);

      const mail = await smtp.waitFor((m) => (m.to as { text: string } | undefined)?.text.includes(email) === true, 15_000);
      const verify = smtp.linkIn(mail);
      const page = await agent.request(verify);
      const confirm = formOn(page.body, /\/email\/verify/);
      await agent.follow(new URL(confirm.action, page.url).href, { form: confirm.fields });
      const { page: after } = await signInTo(server, new Agent(), { email, password });
      expect(after.url.startsWith(RP_CALLBACK), after.body.slice(0, 500)).to.equal(true);
      await server.deps.tasks.idle();
      const events = await server.deps.audit.list({ userId: account._id, events: ['terms.accepted'] });
      expect(events.map((e) => e.details.via)).to.deep.equal(['sign_up']);
    });
  });

  describe('bad input', () => {
    it('refuses missing, garbled, oversized and operator-object answers with a clear 400, storing nothing', async () => {
      const person = await newPerson('bad');
      const agent = new Agent();
      const { page } = await signInTo(server, agent, person);
      const forms = [...page.body.matchAll(/<form[^>]*action="([^"]+\/terms)"[^>]*>[\s\S]*?<\/form>/g)].map((m) => formOn(m[0], /\/terms$/));
      const accept = forms.find((f) => f.fields.decision === 'accept')!;
      const target = new URL(accept.action, page.url).href;
      const csrf = accept.fields._csrf!;
      const bodies = [
        `_csrf=${csrf}`,
        `_csrf=${csrf}&decision=accept`,
        `_csrf=${csrf}&version=2025-01`,
        `_csrf=${csrf}&decision=maybe&version=2025-01`,
        `_csrf=${csrf}&decision=accept&version=${'9'.repeat(65)}`,
        `_csrf=${csrf}&decision[$ne]=decline&version=2025-01`,
        `_csrf=${csrf}&decision=accept&version[$ne]=x`,
        `_csrf=${csrf}&decision=accept&decision=accept&version=2025-01`,
      ];
      for (const body of bodies) {
        const answered = await agent.request(target, { form: body });
        expectClearRefusal(answered);
        expect(answered.body, body).to.contain('Your answer could not be read');
      }
      expectClearRefusal(await agent.request(target, { body: '{"decision":"accept"}', headers: { 'content-type': 'application/json' } }), 415);
      expectClearRefusal(await agent.request(target, { form: 'decision=accept&version=2025-01' }), 403);
      expect((await stored(server, person.id)).termsAccepted).to.equal(null);

      // The terms form at the password step (nothing to accept yet) is refused too.
      const other = new Agent();
      const login = await openSignIn(other, await startAuthorization(await discover(server.url, app)));
      const loginForm = formOn(login.body, /\/login$/);
      const early = await other.request(new URL(loginForm.action.replace(/\/login$/, '/terms'), login.url).href, { form: { _csrf: loginForm.fields._csrf!, decision: 'accept', version: '2025-01' } });
      expectClearRefusal(early);
    });
  });

  it('says the terms page in every language, with no key left untranslated', async () => {
    for (const lang of LOCALES) {
      const person = await newPerson(`lang-${lang}`);
      const agent = new Agent();
      agent.cookies.set('lk_lang', lang);
      const { page } = await signInTo(server, agent, person);
      expect(page.status, lang).to.equal(200);
      const t = translator(lang);
      expect(page.body, lang).to.contain(`lang="${lang}"`).and.contain(t('terms.accept')).and.not.match(/\bterms\.[a-z]+\.?[a-zA-Z]*\b(?![^<]*>)/);
    }
  });

  describe('accessibility of the terms page (axe, WCAG 2.2 AA)', () => {
    const browser = useBrowser();
    for (const lang of ['en', 'ar'] as const) {
      it(`passes in ${lang === 'en' ? 'English' : 'Arabic'}`, async () => {
        const person = await newPerson(`a11y-${lang}`);
        const authorization = await startAuthorization(await discover(server.url, thirdParty));
        let context: BrowserContext | undefined;
        try {
          context = await browser.newContext();
          await context.addCookies([{ name: 'lk_lang', value: lang, url: server.url }]);
          const page = await context.newPage();
          await page.goto(authorization.url.href);
          await page.locator('#email').fill(person.email);
          await page.locator('#password').fill(person.password);
          await page.locator('button[type="submit"].primary').first().click();
          await page.locator('form[action$="/terms"]').first().waitFor();
          expect(await page.getAttribute('html', 'dir')).to.equal(lang === 'ar' ? 'rtl' : 'ltr');
          expect(await page.locator('h1').textContent()).to.equal(translator(lang)('terms.heading'));
          const violations = await axeViolations(page);
          expect(violations, describeViolations(violations)).to.deep.equal([]);
        } finally {
          await context?.close();
        }
      });
    }
  });
});
