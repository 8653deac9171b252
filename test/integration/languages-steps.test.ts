// The sign-in's later steps and the provider's own pages in every language: the second
// step (an authenticator app), the setup of a first factor (an app that requires
// two-step sign-in), the forced change after a temporary password, consent (a
// third-party app), an error page (an unknown sign-in), sign-out and signed-out. Each
// page in each language has its <html lang dir>, no raw message keys, and no English
// sentence of these areas (locales/<lang>/steps.json, errors.json) left. The throttle's
// 429 page says its wait with a plural.
import { expect } from 'chai';
import { Secret, TOTP } from 'otpauth';
import * as oidc from 'openid-client';
import { createUser } from '../../src/accounts/users.ts';
import { setTemporaryPassword } from '../../src/accounts/set-password.ts';
import { confirmTotpEnrolment, generateRecoveryCodes, startTotpEnrolment, TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { allCatalogs, translator } from '../../src/i18n/messages.ts';
import { LOCALES, type Locale } from '../../src/i18n/locales.ts';
import { LENIENT_THROTTLES, useTestServer, withTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { confidentialClient, discover, openSignIn, RP_CALLBACK, signIn, startAuthorization, submitSignIn } from '../helpers/rp.ts';

const web = confidentialClient({ client_name: 'Steps App' } as never);
const strict = confidentialClient({ client_id: 'steps-strict', client_name: 'Strict App', require_mfa: true } as never);
const thirdParty = confidentialClient({
  client_id: 'steps-third', client_name: 'Third Party', 'client_name#de': 'Drittanbieter', first_party: false,
  client_uri: 'https://third.example/', logo_uri: 'https://static.third.example/logo.png', policy_uri: 'https://third.example/privacy', tos_uri: 'https://third.example/terms',
} as never);
const TRUST_DAYS = 30;

describe('the sign-in steps and the provider\'s pages in every language', function () {
  this.timeout(120_000);
  const { server } = useTestServer({ clients: [web, strict, thirdParty], policy: { ...LENIENT_THROTTLES, mfa: { trustBrowserDays: TRUST_DAYS } } });
  const catalogs = allCatalogs();
  const mine = (key: string) => /^(steps|errors)\./.test(key);
  let config: oidc.Configuration;
  let strictConfig: oidc.Configuration;
  let thirdConfig: oidc.Configuration;
  let people = 0;

  before(async () => {
    config = await discover(server.url, web);
    strictConfig = await discover(server.url, strict);
    thirdConfig = await discover(server.url, thirdParty);
  });

  const decode = (html: string) => html
    .replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_, code) => String.fromCharCode(parseInt(code, 16)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  /** The words a person reads: no markup, no scripts, no attribute values but the ones read out. */
  const textOf = (html: string) => decode(html.replace(/<\/?bdi>/g, '').replace(/<script[\s\S]*?<\/script>/g, ' ').replace(/<[^>]*aria-label="([^"]*)"[^>]*>/g, ' $1 ').replace(/<[^>]+>/g, ' ')).replace(/[ \t\r\n]+/g, ' ');

  /** The English parts of my areas' messages (between placeholders and tags) a page must not show in another language. */
  const englishParts = Object.entries(catalogs.en).filter(([key]) => mine(key)).flatMap(([key, message]) =>
    message.split(/<\/?b>|\{(?:[^{}]|\{[^{}]*\})*\}/)
      .map((part) => part.trim())
      .filter((part) => part.replace(/[^\p{L}]/gu, '').length >= 8)
      .map((part) => ({ key, part })));

  function expectSpoken(page: Page, locale: Locale, what: string): void {
    const lang = /<html lang="([^"]+)" dir="(ltr|rtl)"/.exec(page.body)?.slice(1, 3);
    expect(lang, `${what}: lang and dir`).to.deep.equal([locale, locale === 'ar' ? 'rtl' : 'ltr']);
    const text = textOf(page.body);
    expect(text, `${what} (${locale}): no raw message keys`).to.not.match(/\b(steps|errors|common|signin)\.[a-z]/);
    if (locale === 'en') return;
    for (const { key, part } of englishParts) {
      if (catalogs[locale][key]!.includes(part)) continue;
      expect(text.includes(part), `${what} (${locale}): English "${part}" (${key}) on the page`).to.equal(false);
    }
  }

  const heading = (page: Page) => textOf(/<h1>([\s\S]*?)<\/h1>/.exec(page.body)?.[1] ?? '').trim();

  async function personWithApp() {
    const email = `steps-${++people}@example.com`;
    const password = `the right password number ${people}`;
    const user = await createUser(server.deps, { email, password });
    const enrolment = await startTotpEnrolment(server.deps.factors, user._id, { issuer: 'Latchkey', account: email });
    const totp = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) });
    expect((await confirmTotpEnrolment(server.deps.factors, user._id, enrolment.enrolmentId, totp.generate({ timestamp: Date.now() - 30_000 }))).ok).to.equal(true);
    await generateRecoveryCodes(server.deps.factors, user._id);
    return { email, password };
  }

  async function person() {
    const email = `steps-${++people}@example.com`;
    const password = `the right password number ${people}`;
    await createUser(server.deps, { email, password });
    return { email, password };
  }

  const submit = (agent: Agent, page: Page, action: RegExp, fields: Record<string, string>) => {
    const form = formOn(page.body, action);
    return agent.follow(new URL(form.action, page.url).href, { form: { ...form.fields, ...fields } }, RP_CALLBACK);
  };

  for (const locale of LOCALES) {
    describe(locale, () => {
      const agent = () => new Agent({ 'accept-language': locale });
      const t = (key: string) => catalogs[locale][key]!;

      it('the second step (an authenticator app and recovery codes), and its error for a wrong code', async () => {
        const someone = await personWithApp();
        const browser = agent();
        const page = await submitSignIn(browser, await openSignIn(browser, await startAuthorization(config, { ui_locales: locale })), someone.email, someone.password);
        expect(page.status).to.equal(200);
        expect(heading(page)).to.equal(t('steps.secondFactor.title'));
        expect(page.body).to.contain('name="trust"');
        expectSpoken(page, locale, 'second step');
        const wrong = await submit(browser, page, /\/second-factor$/, { code: 'x'.repeat(40) });
        expect(wrong.status).to.equal(400);
        expect(textOf(wrong.body)).to.contain(t('steps.error.codeTooLong'));
        expectSpoken(wrong, locale, 'second step, code too long');
        const refused = await submit(browser, wrong, /\/second-factor$/, { code: '000000' });
        expect(refused.status).to.be.oneOf([401]);
        expect(textOf(refused.body)).to.contain(t('steps.secondFactor.error.failed'));
        expectSpoken(refused, locale, 'second step, wrong code');
      });

      it('the setup of a first factor for an app that requires two-step sign-in, and its error', async () => {
        const someone = await person();
        const browser = agent();
        const page = await submitSignIn(browser, await openSignIn(browser, await startAuthorization(strictConfig, { ui_locales: locale })), someone.email, someone.password);
        expect(page.status).to.equal(200);
        expect(heading(page)).to.equal(t('steps.enrol.title'));
        expectSpoken(page, locale, 'enrolment');
        const wrong = await submit(browser, page, /\/enrol\/totp$/, { code: '' });
        expect(wrong.status).to.equal(400);
        expect(textOf(wrong.body)).to.contain(t('steps.enrol.error.codeMissing'));
        expectSpoken(wrong, locale, 'enrolment, no code');
      });

      it('the forced change after a temporary password', async () => {
        const email = `steps-${++people}@example.com`;
        const temporary = `temporary handed out ${people}`;
        const user = await createUser(server.deps, { email, password: 'initial password placeholder' });
        await setTemporaryPassword({ ...server.deps.passwords, temporaryPasswordMs: 7 * 86_400_000 }, user, temporary);
        const browser = agent();
        const page = await submitSignIn(browser, await openSignIn(browser, await startAuthorization(config, { ui_locales: locale })), email, temporary);
        expect(page.status).to.equal(200);
        expect(heading(page)).to.equal(t('steps.changePassword.title'));
        expectSpoken(page, locale, 'forced change');
        const empty = await submit(browser, page, /\/change-password$/, { password: '' });
        expect(empty.status).to.equal(400);
        expect(textOf(empty.body)).to.contain(t('steps.changePassword.error.missing'));
        expectSpoken(empty, locale, 'forced change, no password');
        // The policy's rules and its refusal in the page's language (locales/<lang>/password.json).
        expect(textOf(page.body)).to.contain(t('password.rule.notCommon'));
        const common = await submit(browser, empty, /\/change-password$/, { password: 'password123' });
        expect(common.status).to.equal(400);
        expect(textOf(common.body)).to.contain(t('password.issue.common'));
        if (locale !== 'en') expect(textOf(common.body)).to.not.contain(catalogs.en['password.issue.common']);
      });

      it('consent for a third-party app, with every scope it asks for in words', async () => {
        const someone = await person();
        const browser = agent();
        const page = await submitSignIn(browser, await openSignIn(browser, await startAuthorization(thirdConfig, { ui_locales: locale, scope: 'openid email profile' })), someone.email, someone.password);
        expect(page.status).to.equal(200);
        expect(page.body).to.contain('/confirm"');
        const text = textOf(page.body);
        for (const scope of ['openid', 'email', 'profile']) expect(text).to.contain(t(`steps.consent.scope.${scope}`));
        // The app as it registered: its name in this language where it has one, its logo and links.
        const name = locale === 'de' ? 'Drittanbieter' : 'Third Party';
        expect(heading(page)).to.contain(name);
        expect(decode(page.body)).to.contain(`<img class="app-logo" src="https://static.third.example/logo.png" alt="${t('steps.consent.logo').replace('{app}', name)}"`);
        expect(page.headers.get('content-security-policy')).to.contain("img-src 'self' data: https://static.third.example;");
        expect(page.body).to.contain('href="https://third.example/privacy"').and.contain('href="https://third.example/terms"');
        expect(text).to.contain(t('steps.consent.policy').replace('{app}', name)).and.contain(t('steps.consent.terms').replace('{app}', name));
        expectSpoken(page, locale, 'consent');

        // The password step again, once it is done (login.ts): its refusal in the page's language.
        const allow = formOn(page.body, /\/confirm$/);
        const again = await browser.request(new URL(allow.action.replace(/\/confirm$/, '/login'), page.url).href, { form: { ...allow.fields, email: someone.email, password: someone.password } });
        expect(again.status).to.equal(400);
        expect(heading(again)).to.equal(t('errors.step.done.title'));
        expect(textOf(again.body)).to.contain(t('errors.step.done'));
        expectSpoken(again, locale, 'step already done');
      });

      it('an error page: an unknown sign-in, a protocol error, a page that is not there', async () => {
        const expired = await agent().request(`${server.url}/interaction/does-not-exist`);
        expect(expired.status).to.equal(400);
        expect(heading(expired)).to.equal(t('errors.interaction.expired.title'));
        expect(textOf(expired.body)).to.contain(t('errors.interaction.expired.message'));
        expectSpoken(expired, locale, 'expired sign-in');

        const protocol = await agent().request(`${server.url}/auth?client_id=nope&response_type=code&scope=openid`);
        expect(protocol.status).to.equal(400);
        expect(heading(protocol)).to.equal(t('errors.provider.title'));
        expect(protocol.body).to.contain('invalid_client');
        expectSpoken(protocol, locale, 'protocol error');

        const refused = await agent().request(`${server.url}/password/forgot`, { method: 'DELETE' });
        expect(refused.status).to.equal(405);
        expect(heading(refused)).to.equal(t('errors.methodNotAllowed.title'));
        expectSpoken(refused, locale, 'method not allowed');

        const missing = await agent().request(`${server.url}/no-such-page`);
        expect(missing.status).to.equal(404);
        expect(heading(missing)).to.equal(t('errors.notFound.title'));
        expectSpoken(missing, locale, 'not found');
      });

      it('sign-out and signed out', async () => {
        const someone = await person();
        const browser = agent();
        const { tokens } = await signIn(config, browser, someone.email, someone.password);
        const confirm = await browser.follow(`${server.url}/session/end?client_id=${web.client_id}&id_token_hint=${tokens.id_token}`);
        expect(confirm.status).to.equal(200);
        expect(heading(confirm)).to.equal(t('steps.logout.heading'));
        expect(textOf(confirm.body)).to.contain('Steps App');
        expectSpoken(confirm, locale, 'sign out');
        const form = formOn(confirm.body, /\/session\/end\/confirm$/);
        const done = await browser.follow(new URL(form.action, confirm.url).href, { form: { ...form.fields, logout: 'yes' } });
        expect(done.status).to.equal(200);
        expect(heading(done)).to.equal(t('steps.loggedOut.heading'));
        expectSpoken(done, locale, 'signed out');
      });
    });
  }

  it('says the throttle\'s wait with a plural, in the page\'s language (429 page)', async () => {
    await withTestServer({ clients: [web], policy: { throttle: { perIpEmail: { points: 1, durationSeconds: 600 } } } }, async (limited) => {
      const limitedConfig = await discover(limited.url, web);
      for (const locale of ['en', 'ar', 'ja'] as const) {
        const email = `throttled-${locale}@example.com`;
        const tryOnce = async () => {
          const browser = new Agent({ 'accept-language': locale });
          return submitSignIn(browser, await openSignIn(browser, await startAuthorization(limitedConfig, { ui_locales: locale })), email, 'wrong password!');
        };
        expect((await tryOnce()).status).to.equal(401);
        const page = await tryOnce();
        expect(page.status).to.equal(429);
        const minutes = Math.ceil(Number(page.headers.get('retry-after')) / 60);
        expect(heading(page)).to.equal(catalogs[locale]['errors.interaction.throttled.title']);
        expect(textOf(page.body)).to.contain(translator(locale)('errors.interaction.throttled.message', { minutes }));
        expectSpoken(page, locale, 'throttled');
      }
    });
    expect(translator('en')('errors.interaction.throttled.message', { minutes: 1 })).to.equal('Too many sign-in attempts. Wait 1 minute and try again.');
    expect(translator('en')('errors.interaction.throttled.message', { minutes: 10 })).to.equal('Too many sign-in attempts. Wait 10 minutes and try again.');
  });
});
