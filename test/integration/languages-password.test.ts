// The password pages in every language: forgot, its answer, the set-password page of
// a reset and of an invitation, the link problems, sign-up, email confirmation and the
// messages after them. Each has <html lang dir>, no raw keys and none of the English
// of locales/en/password.json left; the policy's refusals and rules are in the page's
// language; the forgot-password answer is the same page for an account and for no
// account in every language; the JSON API keeps its English messages.
import { expect } from 'chai';
import { createUser } from '../../src/accounts/users.ts';
import { allCatalogs, translator } from '../../src/i18n/messages.ts';
import { LOCALES, type Locale } from '../../src/i18n/locales.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { callApi } from '../helpers/api.ts';

describe('password pages in every language', function () {
  this.timeout(60_000);
  const { server } = useTestServer({ policy: LENIENT_THROTTLES });
  const catalogs = allCatalogs();
  // Only this area's English: other areas are checked by their own tests.
  const english = Object.entries(catalogs.en).filter(([key]) => key.startsWith('password.'));
  let counter = 0;
  const uniqueEmail = (tag: string) => `lang-${tag}-${++counter}@example.com`;

  const htmlLang = (page: Page) => /<html lang="([^"]+)" dir="(ltr|rtl)"/.exec(page.body)?.slice(1, 3);
  const heading = (page: Page) => /<h1>([^<]*)<\/h1>/.exec(page.body)?.[1];
  const decode = (html: string) => html.replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code))).replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
  /** The words a person reads: no tags, scripts' addresses or attribute values. */
  const textOf = (page: Page) => decode(page.body.replace(/<[^>]*>/g, ' '));

  /** An agent that speaks `locale`: by the language cookie, or by Accept-Language (every other language). */
  function agentIn(locale: Locale, by: 'cookie' | 'header' = LOCALES.indexOf(locale) % 2 ? 'cookie' : 'header'): Agent {
    if (by === 'header') return new Agent({ 'accept-language': `${locale},en;q=0.1` });
    const agent = new Agent({ 'accept-language': 'en' });
    agent.cookies.set('lk_lang', locale);
    return agent;
  }

  function expectIn(locale: Locale, page: Page, what: string, title?: string): void {
    expect(htmlLang(page), `${what}: lang and dir`).to.deep.equal([locale, locale === 'ar' ? 'rtl' : 'ltr']);
    if (title) expect(decode(heading(page) ?? ''), `${what}: heading`).to.equal(catalogs[locale][title]);
    const text = decode(page.body);
    expect(text, `${what}: no raw message keys`).to.not.match(/\b(password|common|signin)\.[a-z]/);
    if (locale === 'en') return;
    const words = textOf(page);
    for (const [key, source] of english) {
      const plain = source.replace(/<\/?b>|\{[^{}]*\}/g, '').trim();
      if (plain.replace(/[^\p{L}]/gu, '').length >= 8 && plain !== catalogs[locale][key]) {
        expect(words.includes(plain), `${locale} ${what}: English "${plain}" (${key}) on the page`).to.equal(false);
      }
    }
  }

  async function submit(agent: Agent, page: Page, action: RegExp, fields: Record<string, string>): Promise<Page> {
    const form = formOn(page.body, action);
    return agent.request(new URL(form.action, `${server.url}/`).href, { form: { ...form.fields, ...fields } });
  }

  const newUser = (tag: string) => createUser(server.deps, { email: uniqueEmail(tag), name: 'Lang Tester', password: 'a long enough first passphrase 1' });

  for (const locale of LOCALES) {
    describe(locale, () => {
      it('forgot password: the form, its errors, and the same answer for an account and for no account', async () => {
        const agent = agentIn(locale);
        const page = await agent.request(`${server.url}/password/forgot`);
        expect(page.status).to.equal(200);
        expectIn(locale, page, 'forgot', 'password.forgot.title');

        const empty = await submit(agent, page, /\/password\/forgot$/, { email: '' });
        expect(empty.status).to.equal(400);
        expectIn(locale, empty, 'forgot with errors');
        expect(decode(empty.body)).to.contain(catalogs[locale]['password.error.emailMissing']);
        const bad = await submit(agent, page, /\/password\/forgot$/, { email: 'not an address' });
        expect(decode(bad.body)).to.contain(catalogs[locale]['password.error.emailInvalid']);

        const user = await newUser(`forgot-${locale}`);
        const unknownEmail = `nobody-${locale.toLowerCase()}-${++counter}@example.com`;
        const ask = async (email: string) => {
          const asking = agentIn(locale, 'header');
          return submit(asking, await asking.request(`${server.url}/password/forgot`), /\/password\/forgot$/, { email });
        };
        const known = await ask(user.email);
        const unknown = await ask(unknownEmail);
        expect(known.status).to.equal(200);
        expect(unknown.status).to.equal(known.status);
        expectIn(locale, known, 'forgot-sent', 'password.checkEmail');
        // The same page but for the address echoed back (and the per-request nonce).
        const same = (page: Page, email: string) => page.body.replaceAll(email, 'EMAIL').replace(/nonce="[^"]*"/g, '').replace(/name="_csrf" value="[^"]*"/g, '');
        expect(same(known, user.email)).to.equal(same(unknown, unknownEmail));
        expect(decode(known.body)).to.contain(catalogs[locale]['password.forgotSent.help']);
        await server.deps.tasks.idle();
      });

      it('reset and invitation pages: the form, the rules and the strength words; a refused password in the page\'s language', async () => {
        const t = translator(locale);
        const user = await newUser(`reset-${locale}`);
        const agent = agentIn(locale);
        const { token } = await server.deps.links.issue(String(user._id), 'reset');
        const page = await agent.request(`${server.url}/password/reset?token=${token}`);
        expect(page.status).to.equal(200);
        expectIn(locale, page, 'reset', 'password.reset.title');
        const text = decode(page.body);
        for (const rule of server.deps.policy.describeFor(t)) expect(text, 'rules listed').to.contain(rule);
        expect(text).to.contain(`data-strength-strong="${t('password.strength.strong')}"`);
        expect(text).to.contain(t('password.reset.submit'));

        const short = await submit(agent, page, /\/password\/reset$/, { password: 'abc' });
        expect(short.status).to.equal(400);
        expectIn(locale, short, 'reset refused');
        expect(decode(short.body)).to.contain(t('password.issue.tooShort', { min: server.deps.policy.rules.minLength }));

        const invited = await newUser(`invite-${locale}`);
        const invite = await server.deps.links.issue(String(invited._id), 'invite');
        const invitePage = await agent.request(`${server.url}/password/set?token=${invite.token}`);
        expect(invitePage.status).to.equal(200);
        expectIn(locale, invitePage, 'invite', 'password.invite.title');

        const done = await submit(agent, invitePage, /\/password\/set$/, { password: 'Orchard-Compass-Meadow-3' });
        expect(done.status).to.equal(200);
        expectIn(locale, done, 'invite done', 'password.invite.doneTitle');
        expect(decode(done.body)).to.contain(t('password.done.next'));
      });

      it('link problems: an unknown link, a used one with its resend button, and the resend answer', async () => {
        const agent = agentIn(locale);
        const unknown = await agent.request(`${server.url}/password/reset?token=${'x'.repeat(43)}`);
        expect(unknown.status).to.equal(404);
        expectIn(locale, unknown, 'unknown link', 'password.link.unknown.title');
        expect(decode(unknown.body)).to.contain(catalogs[locale]['password.link.askNew']);

        const user = await newUser(`used-${locale}`);
        const { token } = await server.deps.links.issue(String(user._id), 'reset');
        await server.deps.links.consume(token, 'reset');
        const used = await agent.request(`${server.url}/password/reset?token=${token}`);
        expect(used.status).to.equal(410);
        expectIn(locale, used, 'used link', 'password.link.used.title');
        const resent = await submit(agent, used, /\/password\/resend$/, {});
        expect(resent.status).to.equal(200);
        expectIn(locale, resent, 'resent', 'password.checkEmail');
        expect(decode(resent.body)).to.contain(catalogs[locale]['password.link.resent']);
        await server.deps.tasks.idle();
      });

      it('sign-up: the form, its errors, the answer; email confirmation and its answer', async () => {
        const t = translator(locale);
        const agent = agentIn(locale);
        const page = await agent.request(`${server.url}/signup`);
        expect(page.status).to.equal(200);
        expectIn(locale, page, 'signup', 'password.signup.title');
        for (const rule of server.deps.policy.describeFor(t, { history: false })) expect(decode(page.body)).to.contain(rule);

        const empty = await submit(agent, page, /\/signup$/, { name: 'x'.repeat(201), email: '', password: '' });
        expect(empty.status).to.equal(400);
        expectIn(locale, empty, 'signup with errors');
        const errors = decode(empty.body);
        expect(errors).to.contain(t('password.error.nameTooLong', { max: 200 }));
        expect(errors).to.contain(t('password.error.emailMissing'));
        expect(errors).to.contain(t('password.error.passwordMissing'));

        const email = uniqueEmail(`signup-${locale}`);
        const sent = await submit(agent, page, /\/signup$/, { name: 'New Person', email, password: 'Lantern-Harbour-Quiet-72' });
        expect(sent.status).to.equal(200);
        expectIn(locale, sent, 'signup sent', 'password.checkEmail');
        expect(decode(sent.body)).to.contain(t('password.signup.sent', { email }));
        await server.deps.tasks.idle();

        const user = await server.deps.users.findOne({ emailNormalized: email.toLowerCase() }).lean();
        const { token } = await server.deps.links.issue(String(user!._id), 'verify_email');
        const verify = await agent.request(`${server.url}/email/verify?token=${token}`);
        expect(verify.status).to.equal(200);
        expectIn(locale, verify, 'verify email', 'password.verify.title');
        const confirmed = await submit(agent, verify, /\/email\/verify$/, {});
        expect(confirmed.status).to.equal(200);
        expectIn(locale, confirmed, 'email confirmed', 'password.verify.doneTitle');
      });
    });
  }

  it('refuses a weak password in German with the German rule and zxcvbn\'s German advice', async () => {
    const user = await newUser('weak-de');
    const agent = agentIn('de', 'header');
    const { token } = await server.deps.links.issue(String(user._id), 'reset');
    const page = await agent.request(`${server.url}/password/reset?token=${token}`);
    expect(decode(page.body)).to.contain(`Mindestens ${server.deps.policy.rules.minLength} Zeichen`);
    const weak = await submit(agent, page, /\/password\/reset$/, { password: 'aaaaaaaaaaaaaaaa' });
    expect(weak.status).to.equal(400);
    const text = decode(weak.body);
    expect(text).to.contain('Dieses Passwort wäre leicht zu erraten. Wiederholte Zeichen wie „aaa“ sind leicht zu erraten. Fügen Sie weitere, weniger gebräuchliche Wörter hinzu.');
    expect(text).to.not.contain('easy to guess');
    const personal = await submit(agent, page, /\/password\/reset$/, { password: `${user.email.split('@')[0]}-Harbour-72` });
    expect(decode(personal.body)).to.contain('Verwenden Sie weder Ihren Namen noch Ihre E-Mail-Adresse.');
  });

  it('says "too many requests" in the page\'s language, the same for an account and for no account', async () => {
    const user = await newUser('throttled');
    for (const [locale, email] of [['fr', user.email], ['ar', `nobody-throttled-${++counter}@example.com`]] as const) {
      let answer: Page | undefined;
      for (let i = 0; i < 4; i++) {
        const agent = agentIn(locale, 'header');
        answer = await submit(agent, await agent.request(`${server.url}/password/forgot`), /\/password\/forgot$/, { email });
      }
      expect(answer!.status, locale).to.equal(429);
      const minutes = Math.ceil(Number(answer!.headers.get('retry-after')) / 60);
      expect(htmlLang(answer!)?.[0]).to.equal(locale);
      expect(decode(heading(answer!) ?? '')).to.equal(catalogs[locale]['password.error.tooManyTitle']);
      expect(decode(answer!.body)).to.contain(translator(locale)('password.error.tooManyResets', { minutes }));
    }
    await server.deps.tasks.idle();
  });

  describe('with sign-up turned off', () => {
    const { server: closed } = useTestServer({ policy: { signup: { enabled: false } } });
    it('says so in the page\'s language', async () => {
      const page = await agentIn('ja', 'cookie').request(`${closed.url}/signup`);
      expect(page.status).to.equal(404);
      expect(htmlLang(page)?.[0]).to.equal('ja');
      expect(decode(page.body)).to.contain(catalogs.ja['password.signup.disabled']);
    });
  });

  it('keeps the JSON API\'s English messages, whatever language the caller prefers', async () => {
    const user = await newUser('api');
    const messages = async (password: string) => {
      const { token } = await server.deps.links.issue(String(user._id), 'reset');
      const answer = await callApi(server.url, '/api/password-resets/confirm', { method: 'POST', body: { token, password }, headers: { 'accept-language': 'de' } });
      expect(answer.status).to.equal(400);
      return (answer.json.errors as Array<{ code: string; message: string }>).map(({ code, message }) => ({ code, message }));
    };
    expect(await messages('abc')).to.deep.equal([{ code: 'too_short', message: `Use at least ${server.deps.policy.rules.minLength} characters.` }]);
    expect(await messages('aaaaaaaaaaaaaaaa')).to.deep.equal([{
      code: 'too_weak',
      message: 'This password would be easy to guess. Repeated characters like "aaa" are easy to guess. Add more words that are less common.',
    }]);
    expect(await messages('password123')).to.deep.equal([{ code: 'common', message: 'This password is too common. Choose something less predictable.' }]);
  });
});
