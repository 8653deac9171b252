// The account portal in the person's language (issue 13): every portal page in every
// language (picked with the lk_lang cookie, as the footer switcher does): <html lang dir>,
// no raw message keys, no English sentence of the portal's catalog left on a page in
// another language, dates and counts in the page's language; the account's own locale
// chooses the language when the person picked none, and a pick wins over it.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Secret, TOTP } from 'otpauth';
import type * as oidc from 'openid-client';
import { createUser } from '../../src/accounts/users.ts';
import { confirmTotpEnrolment, generateRecoveryCodes, startTotpEnrolment, TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { allCatalogs, translator } from '../../src/i18n/messages.ts';
import { PORTAL_SESSIONS } from '../../src/accounts/revocation.ts';
import { LOCALES, type Locale } from '../../src/i18n/locales.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { discover, publicClient, signIn } from '../helpers/rp.ts';

const client = publicClient({ client_name: 'Language App' });

describe('account portal in the person\'s language', function () {
  this.timeout(120_000);
  const { server } = useTestServer({ clients: [client], policy: { ...LENIENT_THROTTLES, mfa: { trustBrowserDays: 30 } } });
  const catalogs = allCatalogs();
  let config: oidc.Configuration;
  let counter = 0;

  before(async () => {
    config = await discover(server.url, client);
  });

  const url = (path: string) => `${server.url}${path}`;
  const decode = (html: string) => html
    .replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_, code) => String.fromCharCode(parseInt(code, 16)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const htmlLang = (page: Page) => /<html lang="([^"]+)" dir="(ltr|rtl)"/.exec(page.body)?.slice(1, 3);
  const heading = (page: Page) => decode(/<h1>([\s\S]*?)<\/h1>/.exec(page.body)?.[1]?.replace(/<\/?bdi>/g, '') ?? '');
  const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  /** A person with an app, an authenticator app, recovery codes and a sign-in in the trail. */
  async function newPerson(tag: string, fields: { locale?: string } = {}) {
    const email = `lang-${tag}-${++counter}@example.com`;
    const password = `steady copper kettle ${counter}`;
    const user = await createUser(server.deps, { email, password, name: 'Language Person' });
    if (fields.locale) await server.deps.users.updateOne({ _id: user._id }, { $set: { locale: fields.locale } });
    return { email, password, userId: user._id };
  }

  async function addFactors(userId: string, email: string) {
    const enrolment = await startTotpEnrolment(server.deps.factors, userId, { issuer: 'Latchkey', account: email });
    const totp = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) });
    expect((await confirmTotpEnrolment(server.deps.factors, userId, enrolment.enrolmentId, totp.generate())).ok).to.equal(true);
    await generateRecoveryCodes(server.deps.factors, userId);
    // Two passkeys as the portal lists them (stored as a registration leaves them): one synced and used, one not yet.
    for (const [name, deviceType, lastUsedAt] of [['Work laptop', 'multiDevice', new Date()], ['Security key', 'singleDevice', null]] as const) {
      await server.deps.factors.passkeys.create({
        _id: randomUUID(), userId, credentialId: randomUUID(), publicKey: 'AAAA', counter: 0, transports: [], name, deviceType, backedUp: deviceType === 'multiDevice', aaguid: '', createdAt: new Date(), lastUsedAt,
      });
    }
  }

  /** A browser signed in to the portal (password at the provider), with headers and cookies of its own. */
  async function portalAgent(email: string, password: string, options: { lang?: Locale; headers?: Record<string, string> } = {}): Promise<Agent> {
    const agent = new Agent(options.headers);
    if (options.lang) agent.cookies.set('lk_lang', options.lang);
    const login = await agent.follow(url('/account'));
    const form = formOn(login.body, /\/login$/);
    const home = await agent.follow(new URL(form.action, login.url).href, { form: { ...form.fields, email, password } });
    expect(home.url, home.body.slice(0, 500)).to.equal(url('/account'));
    return agent;
  }

  async function post(agent: Agent, page: Page, action: RegExp, fields: Record<string, string> = {}): Promise<Page> {
    const form = formOn(page.body, action);
    return agent.request(new URL(form.action, page.url).href, { form: { ...form.fields, ...fields } });
  }

  /** The portal's English messages that are sentences (two words or more, 8 letters or more), without placeholders. */
  const englishSentences = Object.entries(catalogs.en)
    .filter(([key, message]) => key.startsWith('portal.') && !/\{\w+, (plural|select)/.test(message))
    .map(([key, message]) => [key, message.replace(/<\/?\w+>/g, '').replace(/\{\w+\}/g, '').trim()] as const)
    .filter(([, plain]) => plain.includes(' ') && plain.replace(/[^\p{L}]/gu, '').length >= 8);

  function expectInLanguage(page: Page, locale: Locale, what: string): void {
    expect(page.status, `${what}: ${page.body.slice(0, 300)}`).to.be.oneOf([200, 400, 401]);
    expect(htmlLang(page), what).to.deep.equal([locale, locale === 'ar' ? 'rtl' : 'ltr']);
    const text = decode(page.body);
    expect(text, `${what}: no raw message keys`).to.not.match(/\b(portal|common|signin)\.[a-z]/);
    if (locale === 'en') return;
    for (const [key, plain] of englishSentences) {
      // A fragment of the English also found in this language's own words (a product name) is not a gap.
      const pieces = plain.split(/\s{2,}/).filter((piece) => piece.includes(' ') && piece.replace(/[^\p{L}]/gu, '').length >= 8);
      for (const piece of pieces) {
        if (catalogs[locale][key]!.includes(piece)) continue;
        expect(new RegExp(`(^|[^\\p{L}\\d])${escapeRegExp(piece)}($|[^\\p{L}\\d])`, 'u').test(text), `${locale} ${what}: English "${piece}" (${key}) on the page`).to.equal(false);
      }
    }
  }

  /** "2 Dec 2026" in the page's language, as a person there reads it (UTC). */
  const today = (locale: Locale) => new Intl.DateTimeFormat(locale === 'en' ? 'en-GB' : locale, { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }).format(new Date());

  for (const locale of LOCALES) {
    it(`shows every portal page in ${locale}: lang and direction, no raw keys, no English left, dates and counts in ${locale}`, async () => {
      const person = await newPerson(locale);
      // An app the person let in, for the connected apps page and the activity trail.
      await signIn(config, new Agent(), person.email, person.password, { scope: 'openid email profile' });
      const agent = await portalAgent(person.email, person.password, { lang: locale });
      await addFactors(person.userId, person.email);
      const t = catalogs[locale];

      const pages: Record<string, Page> = {};
      for (const path of ['/account', '/account/profile', '/account/password', '/account/security', '/account/apps', '/account/activity', '/account/email']) {
        pages[path] = await agent.request(url(path));
        expect(pages[path]!.status, path).to.equal(200);
        expectInLanguage(pages[path]!, locale, path);
      }
      expect(heading(pages['/account']!)).to.equal(t['portal.overview.title']);
      expect(heading(pages['/account/security']!)).to.equal(t['portal.security.title']);
      expect(decode(pages['/account']!.body)).to.contain(`<title>${t['portal.overview.title']} · Latchkey</title>`);

      // Dates and counts in the page's language: the authenticator app and the codes were set up today; ten codes, all left.
      const security = decode(pages['/account/security']!.body);
      expect(security, 'a date in the page\'s language').to.contain(today(locale));
      const count = locale === 'ar' ? /10|١٠/ : /10/;
      expect(security).to.match(count);
      expect(security).to.contain(translator(locale)('portal.security.passkeyAdded', { date: today(locale), synced: 'yes' }))
        .and.contain(translator(locale)('portal.security.passkeyAdded', { date: today(locale), synced: 'no' }))
        .and.contain(t['portal.security.notUsed']);
      if (locale !== 'en') expect(security, 'no English month').to.not.match(/\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}\b/);
      expect(decode(pages['/account/activity']!.body), 'the trail\'s times in the page\'s language').to.contain(today(locale));
      expect(decode(pages['/account/apps']!.body)).to.contain('Language App').and.contain(t['portal.scope.email']!);
      // The password policy's rules in the page's language too (its catalog: locales/*/password.json).
      for (const rule of server.deps.policy.describeFor(translator(locale))) expect(decode(pages['/account/password']!.body)).to.contain(rule);

      // Pages that forms lead to: a notice, an error beside a field, the setup of an app, new codes, a removal to confirm.
      const afterSave = await post(agent, pages['/account/profile']!, /\/account\/profile$/, { name: 'Language Person', locale: 'not a tag!' });
      expect(afterSave.status).to.equal(400);
      expectInLanguage(afterSave, locale, 'profile error');
      expect(decode(afterSave.body)).to.contain(t['portal.profile.error.locale']!);

      const noticed = await agent.request(url('/account/profile?notice=profile_saved'));
      expectInLanguage(noticed, locale, 'notice');
      expect(decode(noticed.body)).to.contain(t['portal.notice.profileSaved']!);

      const wrong = await post(agent, pages['/account/password']!, /\/account\/password$/, { currentPassword: 'not the password at all', password: 'Another-Long-Passphrase-99' });
      expect(wrong.status).to.equal(400);
      expectInLanguage(wrong, locale, 'password error');
      expect(decode(wrong.body)).to.contain(t['portal.password.error.wrongCurrent']!);

      const setup = await post(agent, pages['/account/security']!, /\/account\/security\/totp$/);
      expectInLanguage(setup, locale, 'authenticator setup');
      expect(decode(setup.body)).to.contain(t['portal.totp.scan']!);
      const wrongCode = await post(agent, setup, /\/totp\/confirm$/, { code: '000000' });
      expect(wrongCode.status).to.equal(400);
      expectInLanguage(wrongCode, locale, 'wrong code');
      expect(decode(wrongCode.body)).to.contain(t['portal.totp.error.wrongCode']!);

      const codes = await post(agent, pages['/account/security']!, /\/account\/security\/recovery-codes$/);
      expectInLanguage(codes, locale, 'recovery codes');
      expect(heading(codes)).to.equal(t['portal.codes.title']);

      // The first "Remove" on the page is the first passkey's.
      const confirm = await post(agent, await agent.request(url('/account/security')), /\/account\/security\/remove$/);
      expectInLanguage(confirm, locale, 'confirm removal');
      expect(heading(confirm)).to.equal(translator(locale)('portal.removeFactor.heading', { kind: 'passkey', name: 'Work laptop' }));

      // The pages without a session: signed out, and a form sent after the session ended.
      const signedOut = await agent.request(url('/account/signed-out'));
      expectInLanguage(signedOut, locale, 'signed out');
      expect(heading(signedOut)).to.equal(t['portal.session.signedOutTitle']);
      const stale = new Agent();
      stale.cookies.set('lk_lang', locale);
      const refused = await stale.request(url('/account/profile'), { form: { name: 'x' } });
      expect(refused.status).to.be.oneOf([401, 403]);
      if (refused.status === 401) expectInLanguage(refused, locale, 'session ended');
    });
  }

  it('shows the portal in the account\'s own language when the person picked none; a pick wins over it', async () => {
    const person = await newPerson('account-fr', { locale: 'fr' });
    // The browser asks for German; the account says French: the account's locale comes first.
    const agent = await portalAgent(person.email, person.password, { headers: { 'accept-language': 'de' } });
    const home = await agent.request(url('/account'));
    expect(htmlLang(home)).to.deep.equal(['fr', 'ltr']);
    expect(heading(home)).to.equal(catalogs.fr['portal.overview.title']);
    expectInLanguage(await agent.request(url('/account/security')), 'fr', 'security (account locale)');

    // The person picks Spanish in the footer: it wins over the account's locale.
    const switched = await agent.request(url('/language'), { form: { lang: 'es', return: '/account/profile' } });
    expect(switched.status).to.equal(303);
    const profile = await agent.request(url('/account/profile'));
    expect(htmlLang(profile)).to.deep.equal(['es', 'ltr']);
    expect(heading(profile)).to.equal(catalogs.es['portal.profile.title']);

    // An account locale we do not have (or a region of one we have) falls back quietly.
    const other = await newPerson('account-pt', { locale: 'pt-PT' });
    const ptAgent = await portalAgent(other.email, other.password, { headers: { 'accept-language': 'ja' } });
    expect(htmlLang(await ptAgent.request(url('/account')))).to.deep.equal(['pt-BR', 'ltr']);
    const unknown = await newPerson('account-xx', { locale: 'zz' });
    const xxAgent = await portalAgent(unknown.email, unknown.password, { headers: { 'accept-language': 'ja' } });
    expect(htmlLang(await xxAgent.request(url('/account')))).to.deep.equal(['ja', 'ltr']);
  });

  it('says counts with the language\'s plural rules', async () => {
    const person = await newPerson('plural');
    const agent = await portalAgent(person.email, person.password, { lang: 'en' });
    await addFactors(person.userId, person.email);
    expect((await agent.request(url('/account/security'))).body).to.contain('10 of 10 codes left');
    for (const [locale, expected] of [['fr', '10 codes restants sur 10'], ['es', 'Quedan 10 códigos de 10'], ['pt-BR', 'Restam 10 códigos de 10'], ['de', '10 von 10 Codes übrig']] as const) {
      agent.cookies.set('lk_lang', locale);
      expect(decode((await agent.request(url('/account/security'))).body), locale).to.contain(expected);
    }

    // Trusted browsers: one, then two, then three (Arabic has a form for two and for three to ten).
    const trust = () => server.deps.factors.trustedBrowsers.create({ _id: randomUUID(), userId: person.userId, deviceId: randomUUID(), createdAt: new Date(), expiresAt: new Date(Date.now() + 86_400_000) });
    const expected: Record<number, Partial<Record<Locale, string>>> = {
      1: { en: 'One browser skips the second step', de: 'Ein Browser überspringt', ar: 'يتخطى متصفح واحد' },
      2: { en: '2 browsers skip the second step', de: '2 Browser überspringen', ar: 'يتخطى متصفحان' },
      3: { en: '3 browsers skip the second step', fr: '3 navigateurs sautent', ar: 'تتخطى 3 متصفحات' },
    };
    for (const count of [1, 2, 3]) {
      await trust();
      for (const [locale, text] of Object.entries(expected[count]!)) {
        agent.cookies.set('lk_lang', locale);
        expect(decode((await agent.request(url('/account/security'))).body), `${locale} ${count}`).to.contain(text);
      }
    }
  });

  it('says refusals in the page\'s language: an app that is not connected, a change that needs a recent sign-in', async () => {
    const person = await newPerson('refusals');
    const agent = await portalAgent(person.email, person.password, { lang: 'ja' });
    const apps = await agent.request(url('/account/apps'));
    const csrf = /name="_csrf" value="([^"]+)"/.exec(apps.body)![1]!;
    const missing = await agent.request(url('/account/apps/revoke'), { form: { _csrf: csrf, grantId: 'no-such-grant' } });
    expect(missing.status).to.equal(404);
    expect(htmlLang(missing)).to.deep.equal(['ja', 'ltr']);
    expect(heading(missing)).to.equal(catalogs.ja['portal.apps.error.notFoundTitle']);
    expect(decode(missing.body)).to.contain(catalogs.ja['portal.apps.error.notFound']!);

    // The password was entered long ago: changing how one signs in asks for it again, in the page's language.
    await server.database.connection.collection(PORTAL_SESSIONS).updateMany({ accountId: person.userId }, { $set: { authTime: new Date(Date.now() - 3_600_000) } });
    agent.cookies.set('lk_lang', 'ar');
    const stale = await agent.request(url('/account/security/totp'), { form: { _csrf: csrf } });
    expect(stale.status).to.equal(401);
    expect(htmlLang(stale)).to.deep.equal(['ar', 'rtl']);
    expect(heading(stale)).to.equal(catalogs.ar['portal.session.recentTitle']);
    expectInLanguage(stale, 'ar', 'recent sign-in needed');
  });
});
