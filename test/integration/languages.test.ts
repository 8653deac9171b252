// Pages in the person's language: the choice (ui_locales, then the language picked on
// our pages, then the account's, then Accept-Language, then English), the switcher,
// <html lang dir>, and the sign-in page in every language with no raw keys and no
// English left. Bad values fall back quietly.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { allCatalogs } from '../../src/i18n/messages.ts';
import { LOCALES } from '../../src/i18n/locales.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { discover, openSignIn, publicClient, startAuthorization, submitSignIn } from '../helpers/rp.ts';

const client = publicClient();

describe('pages in the person\'s language', function () {
  this.timeout(60_000);
  const { server } = useTestServer({ clients: [client], policy: LENIENT_THROTTLES });
  const catalogs = allCatalogs();
  let config: oidc.Configuration;

  before(async () => {
    config = await discover(server.url, client);
  });

  async function signInPage(agent: Agent, params: Record<string, string> = {}): Promise<Page> {
    return openSignIn(agent, await startAuthorization(config, params));
  }

  const htmlLang = (page: Page) => /<html lang="([^"]+)" dir="(ltr|rtl)"/.exec(page.body)?.slice(1, 3);
  const heading = (page: Page) => /<h1>([^<]*)<\/h1>/.exec(page.body)?.[1];
  const decode = (html: string) => html.replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code))).replace(/&quot;/g, '"').replace(/&amp;/g, '&');

  it('advertises its languages in discovery (ui_locales_supported)', () => {
    expect(config.serverMetadata().ui_locales_supported).to.deep.equal([...LOCALES]);
  });

  for (const locale of LOCALES) {
    it(`shows the sign-in page in ${locale} for ui_locales=${locale}: lang, direction, no raw keys, no English left`, async () => {
      const page = await signInPage(new Agent(), { ui_locales: locale });
      expect(page.status).to.equal(200);
      expect(htmlLang(page)).to.deep.equal([locale, locale === 'ar' ? 'rtl' : 'ltr']);
      expect(heading(page)).to.equal(catalogs[locale]['signin.title']);
      const text = decode(page.body);
      expect(text, 'no raw message keys').to.not.match(/\b(signin|common)\.[a-z][\w.]*/);
      if (locale !== 'en') {
        for (const [key, english] of Object.entries(catalogs.en)) {
          const plain = english.replace(/<\/?b>|\{[^}]*\}/g, '');
          if (plain.replace(/[^\p{L}]/gu, '').length >= 8 && plain.trim() !== catalogs[locale][key]) {
            expect(text.includes(plain.trim()), `${locale}: English "${plain}" (${key}) on the page`).to.equal(false);
          }
        }
      }
    });
  }

  it('says a failed sign-in in the page\'s language', async () => {
    const agent = new Agent();
    const page = await submitSignIn(agent, await signInPage(agent, { ui_locales: 'fr' }), 'nobody@example.com', 'wrong password here');
    expect(page.status).to.equal(401);
    expect(decode(page.body)).to.contain(catalogs.fr['signin.error.failed']!);
  });

  it('chooses ui_locales, then the picked language, then the account\'s, then Accept-Language; bad values fall back quietly', async () => {
    const lang = async (agent: Agent, params: Record<string, string> = {}) => {
      const page = await signInPage(agent, params);
      expect(page.status, JSON.stringify(params)).to.equal(200);
      return htmlLang(page)?.[0];
    };
    expect(await lang(new Agent({ 'accept-language': 'de-AT,de;q=0.9,en;q=0.5' })), 'Accept-Language').to.equal('de');
    expect(await lang(new Agent({ 'accept-language': 'pt' })), 'pt is pt-BR').to.equal('pt-BR');
    expect(await lang(new Agent({ 'accept-language': 'xx-YY, q=bad;;, ***' })), 'nonsense').to.equal('en');
    expect(await lang(new Agent({ 'accept-language': 'de' }), { ui_locales: 'ja fr' }), 'ui_locales first').to.equal('ja');
    expect(await lang(new Agent({ 'accept-language': 'de' }), { ui_locales: 'zz-QQ fr' }), 'the first of ui_locales we have').to.equal('fr');
    expect(await lang(new Agent({ 'accept-language': 'es' }), { ui_locales: '!!! <script> ' + 'x'.repeat(300) }), 'malformed ui_locales').to.equal('es');

    // The switcher: the pick is remembered in a cookie, above Accept-Language and below ui_locales.
    const agent = new Agent({ 'accept-language': 'de' });
    const page = await signInPage(agent);
    const form = formOn(page.body, /^\/language$/);
    expect(form.fields.return).to.match(/^\/interaction\//);
    const switched = await agent.request(`${server.url}/language`, { form: { return: form.fields.return!, lang: 'ar' } });
    expect(switched.status).to.equal(303);
    expect(switched.headers.get('location')).to.equal(form.fields.return);
    expect(htmlLang(await agent.request(`${server.url}${form.fields.return}`))).to.deep.equal(['ar', 'rtl']);
    expect(await lang(agent, { ui_locales: 'ja' }), 'ui_locales still first').to.equal('ja');
  });

  it('refuses to go anywhere but our own pages after switching, and ignores unknown languages', async () => {
    for (const [body, location] of [
      [{ lang: 'de', return: '//evil.example/x' }, '/account'],
      [{ lang: 'de', return: 'https://evil.example/' }, '/account'],
      [{ lang: 'de', return: '/\\evil.example' }, '/account'],
      [{ lang: 'de' }, '/account'],
      [{ 'lang[$ne]': 'x', return: '/account/profile' }, '/account/profile'],
    ] as const) {
      const agent = new Agent();
      const answer = await agent.request(`${server.url}/language`, { form: body as Record<string, string> });
      expect(answer.status, JSON.stringify(body)).to.equal(303);
      expect(answer.headers.get('location'), JSON.stringify(body)).to.equal(location);
    }
    const agent = new Agent();
    await agent.request(`${server.url}/language`, { form: { lang: 'klingon', return: '/account' } });
    expect(agent.cookies.has('lk_lang')).to.equal(false);
    const bad = new Agent();
    bad.cookies.set('lk_lang', 'x'.repeat(500));
    expect(htmlLang(await signInPage(bad))?.[0], 'a garbage cookie is ignored').to.equal('en');
  });
});
