// Emails in the recipient's language, end to end: real server, real SMTP server.
// An account without a locale gets the language of the page that caused the
// message; an account with one gets its own, whatever the page.
import { expect } from 'chai';
import type { ParsedMail } from 'mailparser';
import { createUser } from '../../src/accounts/users.ts';
import { sendPasswordReset } from '../../src/accounts/password-links.ts';
import { sendResetLinks } from '../../src/accounts/bulk-mail.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent, formOn } from '../helpers/agent.ts';

describe('emails in the recipient language', () => {
  const { server, smtp } = useTestServer({ smtp: true, policy: LENIENT_THROTTLES });
  let counter = 0;
  const uniqueEmail = (tag: string) => `lang-${tag}-${++counter}@example.com`;

  const mailTo = (to: string) => smtp.waitFor((m: ParsedMail) => (m.to as { text: string }).text.includes(to));

  /** "Forgot your password?" submitted from a page in `pageLanguage` (the person's pick, as the switcher leaves it). */
  async function forgotFrom(pageLanguage: string, email: string): Promise<void> {
    const agent = new Agent({ 'accept-language': 'en' });
    agent.cookies.set('lk_lang', pageLanguage);
    const page = await agent.request(`${server.url}/password/forgot`);
    expect(page.status).to.equal(200);
    expect(page.body).to.match(new RegExp(`<html lang="${pageLanguage}"`));
    const form = formOn(page.body, /\/password\/forgot$/);
    const sent = await agent.request(new URL(form.action, page.url).href, { form: { ...form.fields, email } });
    expect(sent.status).to.equal(200);
  }

  function expectLanguage(mail: ParsedMail, lang: string, dir: 'ltr' | 'rtl'): void {
    expect(String(mail.html)).to.match(new RegExp(`^<!DOCTYPE html><html lang="${lang}" dir="${dir}">`));
    for (const part of [mail.subject ?? '', mail.text ?? '', String(mail.html)]) expect(part).to.not.match(/\bemail\.[a-z]/);
    expect(new URL(smtp.linkIn(mail)).origin).to.equal(new URL(server.url).origin);
  }

  it('a forgot-password request from a page in Japanese, for an account without a locale, arrives in Japanese', async () => {
    const email = uniqueEmail('ja');
    await createUser(server.deps, { email, password: 'a password for the japanese page' });
    await forgotFrom('ja', email);
    const mail = await mailTo(email);
    expect(mail.subject).to.equal('Latchkey のパスワードをリセット');
    expect(mail.text).to.contain('パスワードのリセットが依頼されました').and.contain('このリンクの有効期限は').and.contain('心当たりがない場合は');
    expect(mail.text).to.not.contain('Someone asked').and.not.contain('expires in');
    expectLanguage(mail, 'ja', 'ltr');
  });

  it('an account with locale "de" gets German, whatever the language of the page', async () => {
    const email = uniqueEmail('de');
    const user = await createUser(server.deps, { email, password: 'a password for the german account' });
    await server.deps.users.updateOne({ _id: user._id }, { $set: { locale: 'de' } });
    for (const page of ['ja', 'ar']) {
      smtp.clear();
      await forgotFrom(page, email);
      const mail = await mailTo(email);
      expect(mail.subject).to.equal('Ihr Passwort für Latchkey zurücksetzen');
      expect(mail.text).to.contain('Jemand hat angefordert, das Passwort').and.contain('Dieser Link ist 1 Stunde lang gültig');
      expectLanguage(mail, 'de', 'ltr');
    }
  });

  it('Arabic reads right to left in the HTML part', async () => {
    const email = uniqueEmail('ar');
    await createUser(server.deps, { email, password: 'a password for the arabic page' });
    await forgotFrom('ar', email);
    const mail = await mailTo(email);
    expect(mail.subject).to.equal('إعادة تعيين كلمة مرور Latchkey');
    expectLanguage(mail, 'ar', 'rtl');
  });

  it("an operator's or a job's email, without a page, is in the account's language, else English", async () => {
    const french = uniqueEmail('fr');
    const plain = uniqueEmail('none');
    const frUser = await createUser(server.deps, { email: french, password: 'a password for the french account' });
    await server.deps.users.updateOne({ _id: frUser._id }, { $set: { locale: 'fr-CA' } });
    const none = await createUser(server.deps, { email: plain, password: 'a password for the account without' });
    await sendPasswordReset(server.deps.passwords, (await server.deps.users.findById(frUser._id).lean())!, { actor: 'cli' });
    await sendPasswordReset(server.deps.passwords, none, { actor: 'cli' });
    expect((await mailTo(french)).subject).to.equal('Réinitialisez votre mot de passe Latchkey');
    expect((await mailTo(plain)).subject).to.equal('Reset your Latchkey password');
  });

  it("a bulk mail job writes in each account's language, else English, never in the language of whoever started it", async () => {
    const spanish = uniqueEmail('bulk-es');
    const plain = uniqueEmail('bulk-none');
    const esUser = await createUser(server.deps, { email: spanish, password: 'a password for the spanish account' });
    await server.deps.users.updateOne({ _id: esUser._id }, { $set: { locale: 'es' } });
    await createUser(server.deps, { email: plain, password: 'a password for the bulk account without' });
    const started = { actor: 'admin:someone', locale: 'ja' };
    for (const email of [spanish, plain]) {
      const result = await sendResetLinks(server.deps, { email }, { ratePerSecond: 1000, context: started });
      expect(result.sent).to.equal(1);
    }
    expect((await mailTo(spanish)).subject).to.equal('Restablece tu contraseña de Latchkey');
    expect((await mailTo(plain)).subject).to.equal('Reset your Latchkey password');
  });
});
