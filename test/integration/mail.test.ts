// The emails: every message of the catalogue through a real SMTP server,
// background sending, retries, giving up, the development outbox, escaping,
// and what reaches the logs.
import { expect } from 'chai';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { simpleParser } from 'mailparser';
import { Mailer, type MailerOptions } from '../../src/mail/mailer.ts';
import { buildMessage, formatWhen, MESSAGE_NAMES, type MessageData, type MessageName } from '../../src/mail/messages.ts';
import { describeDuration } from '../../src/background.ts';
import { DEFAULT_LOCALE, directionOf, LOCALES } from '../../src/i18n/locales.ts';
import { readCatalog } from '../../src/i18n/messages.ts';
import { recipientLocale } from '../../src/i18n/locales.ts';
import { startSmtp, type ParsedMail, type TestSmtp } from '../helpers/smtp.ts';

const ISSUER = 'http://localhost:4455';
const MAIL_FROM = 'Latchkey Test <no-reply@latchkey.test>';
const PASSWORD = 'Correct-Horse-Battery-Staple-42';

interface LogLine { level: number; msg: string; [key: string]: unknown }

function memoryLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const log = pino({ level: 'info' }, stream);
  return {
    log,
    lines,
    all: () => lines.join('\n'),
    parsed: (): LogLine[] => lines.map((line) => JSON.parse(line) as LogLine),
  };
}

function tokenLink(label: string): string {
  return `${ISSUER}/password/reset?token=TOKEN-${label}-${Math.random().toString(36).slice(2)}`;
}

function dataFor(name: MessageName, to: string, link: string): MessageData {
  const base: MessageData = { to, name: 'Ada Lovelace', link };
  switch (name) {
    case 'invite': return { ...base, expiresInMs: 7 * 86_400_000, appName: 'Acme Notes' };
    case 'password_reset': return { ...base, expiresInMs: 3_600_000 };
    case 'verify_email': return { ...base, expiresInMs: 24 * 3_600_000 };
    case 'password_changed': return { ...base, when: new Date('2025-03-04T14:05:00Z'), ip: '203.0.113.7' };
    case 'signup_existing_account': return base;
    case 'factor_added':
    case 'factor_removed': return { ...base, when: new Date('2025-03-04T14:05:00Z'), ip: '203.0.113.7', factors: ['totp'] };
    case 'recovery_codes_generated': return { ...base, when: new Date('2025-03-04T14:05:00Z'), ip: '203.0.113.7' };
    case 'account_locked': return { ...base, when: new Date('2025-03-04T14:05:00Z') };
    case 'new_browser_signin': return { ...base, link: `${ISSUER}/account/sessions`, when: new Date('2025-03-04T14:05:00Z'), ip: '203.0.113.7', browser: 'Firefox on Windows' };
    case 'account_deleted': return { ...base, link: `${ISSUER}/signup`, when: new Date('2025-03-04T14:05:00Z') };
    case 'email_change_confirm': return { ...base, expiresInMs: 24 * 3_600_000 };
    case 'email_changed': return { ...base, expiresInMs: 7 * 86_400_000, when: new Date('2025-03-04T14:05:00Z'), newEmail: 'ada.new@example.org' };
    case 'email_change_by_admin': return { ...base, link: `${ISSUER}/account`, when: new Date('2025-03-04T14:05:00Z'), newEmail: 'ada.new@example.org', contact: 'help@example.com' };
    case 'email_change_in_use': return base;
    case 'account_deletion_scheduled': return { ...base, link: `${ISSUER}/account`, when: new Date('2025-03-04T14:05:00Z') };
    case 'recovery_code_used': return { ...base, when: new Date('2025-03-04T14:05:00Z'), ip: '203.0.113.7', remaining: 3 };
  }
}

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('mail', () => {
  let smtp: TestSmtp;
  const mailers: Mailer[] = [];
  let tmp: string;

  function mailer(options: Partial<MailerOptions> & { log: MailerOptions['log'] }): Mailer {
    const m = new Mailer({ smtpUrl: smtp.url, from: MAIL_FROM, outboxDir: join(tmp, 'unused-outbox'), issuer: ISSUER, retryDelayMs: 10, ...options });
    mailers.push(m);
    return m;
  }

  before(async () => {
    smtp = await startSmtp();
    tmp = mkdtempSync(join(tmpdir(), 'latchkey-mail-'));
  });
  after(async () => {
    await Promise.all(mailers.map((m) => m.close()));
    await smtp.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  describe('every message kind', () => {
    const logs = memoryLogger();
    const received = new Map<MessageName, { mail: ParsedMail; link: string; to: string }>();

    before(async () => {
      const m = mailer({ log: logs.log });
      const links = new Map<MessageName, string>();
      for (const name of MESSAGE_NAMES) {
        const to = `${name.replace(/_/g, '-')}@example.com`;
        const link = tokenLink(name);
        links.set(name, link);
        // A careless caller spreading a record with a password into the data: it must not show.
        m.send(name, { ...dataFor(name, to, link), password: PASSWORD } as MessageData);
      }
      await m.idle();
      for (const name of MESSAGE_NAMES) {
        const to = `${name.replace(/_/g, '-')}@example.com`;
        const mail = await smtp.waitFor((x) => x.to !== undefined && !Array.isArray(x.to) && x.to.value[0]?.address === to);
        received.set(name, { mail, link: links.get(name)!, to });
      }
      expect(m.stats).to.deep.equal({ sent: MESSAGE_NAMES.length, failed: 0, retried: 0 });
    });

    for (const name of ['invite', 'password_reset', 'verify_email', 'password_changed', 'signup_existing_account'] as const) {
      it(`${name}: arrives with subject, From, To, text and HTML, and the link in both`, () => {
        const { mail, link, to } = received.get(name)!;
        expect(mail.subject).to.be.a('string').and.not.equal('');
        expect(mail.subject).to.equal(buildMessage(name, dataFor(name, to, link), { issuer: ISSUER }).subject);
        expect(mail.from?.value[0]).to.deep.include({ address: 'no-reply@latchkey.test', name: 'Latchkey Test' });
        expect(mail.to && !Array.isArray(mail.to) && mail.to.value.map((a) => a.address)).to.deep.equal([to]);
        expect(mail.headers.get('auto-submitted')).to.equal('auto-generated');

        expect(mail.text).to.be.a('string');
        expect(mail.text).to.not.match(/<[a-z/!][^>]*>/i, 'no HTML in the text body');
        expect(smtp.linkIn(mail)).to.equal(link);
        expect(new URL(smtp.linkIn(mail)).origin).to.equal(ISSUER);

        const html = mail.html;
        expect(html).to.be.a('string');
        if (typeof html !== 'string') return;
        expect(html).to.match(/^<!DOCTYPE html><html lang="en"/);
        const escapedLink = link.replace(/&/g, '&amp;');
        expect(html).to.contain(`href="${escapedLink}"`);
        // As a button and as copyable text.
        expect(html.split(`href="${escapedLink}"`)).to.have.length(3);
        expect(html).to.contain(`>${escapedLink}</a>`);
        expect(html).to.not.match(/<link|<style|<table|<script/i);
        expect(html).to.contain('Ada Lovelace');

        for (const body of [mail.text ?? '', html]) {
          expect(body).to.not.contain(PASSWORD);
          expect(body).to.not.match(/password\s*(is)?\s*[:=]/i);
        }
      });
    }

    it('invite names the app and the expiry; password_reset says the password stays the same', () => {
      const invite = received.get('invite')!.mail;
      expect(invite.subject).to.equal("You're invited to Acme Notes");
      expect(invite.text).to.contain('expires in 7 days');
      const reset = received.get('password_reset')!.mail;
      expect(reset.text).to.contain("If it wasn't you, ignore this email: your password stays the same.");
      expect(reset.text).to.contain('expires in 1 hour');
    });

    it('password_changed tells when and from where, and links to reset', () => {
      const { mail } = received.get('password_changed')!;
      expect(mail.text).to.contain('Tue, 4 Mar 2025 at 14:05 UTC');
      expect(mail.text).to.contain('203.0.113.7');
      expect(mail.text).to.contain("If this wasn't you, reset your password now");
    });

    it('logs neither the links nor the full addresses', () => {
      const text = logs.all();
      expect(text).to.not.contain('TOKEN-');
      expect(text).to.not.contain('/password/reset');
      for (const name of MESSAGE_NAMES) expect(text).to.not.contain(`${name.replace(/_/g, '-')}@`);
      expect(text).to.contain('***@example.com');
      expect(logs.parsed().filter((l) => l.msg === 'email sent')).to.have.length(MESSAGE_NAMES.length);
    });
  });

  describe('every message in every language', () => {
    // The English catalog's wording: runs of three words or more outside placeholders, tags and plural syntax.
    const englishPhrases = Object.entries(readCatalog(DEFAULT_LOCALE))
      .filter(([key]) => key.startsWith('email.'))
      .flatMap(([, message]) => message.replace(/\{\w+\}/g, '|').split(/[{}<>#|]/))
      .map((fragment) => fragment.trim())
      .filter((fragment) => !/\b(plural|select)\b/.test(fragment) && (fragment.match(/[A-Za-z']+/g) ?? []).length >= 3);
    const WHEN = new Date('2025-03-04T14:05:00Z');

    /** The data of `name` in its variants: everything given, and the optional parts left out. */
    function variants(name: MessageName): MessageData[] {
      const full = dataFor(name, 'ada@example.com', tokenLink(name));
      const bare: MessageData = { ...full, name: undefined, ip: undefined, appName: undefined };
      const more: MessageData[] = [];
      if (name === 'recovery_code_used') for (const remaining of [0, 1, 2, 5, 11]) more.push({ ...full, remaining });
      if (name === 'factor_added' || name === 'factor_removed') {
        more.push({ ...full, factors: ['passkey'], passkeyName: 'Work laptop' });
        more.push({ ...full, factors: ['totp', 'passkey', 'passkey', 'recovery_codes'] });
      }
      return [full, bare, ...more];
    }

    it('has a case in dataFor for every message name', () => {
      for (const name of MESSAGE_NAMES) expect(dataFor(name, 'ada@example.com', tokenLink(name)), name).to.be.an('object');
    });

    for (const locale of LOCALES) {
      it(`${locale}: every message builds, with no raw key, ${locale === 'en' ? '' : 'no English left, '}links under the issuer and the HTML's lang/dir`, () => {
        for (const name of MESSAGE_NAMES) {
          for (const data of variants(name)) {
            const built = buildMessage(name, { ...data, locale }, { issuer: ISSUER });
            const label = `${locale} ${name} ${JSON.stringify({ ip: data.ip, remaining: data.remaining, factors: data.factors })}`;
            expect(built.locale, label).to.equal(locale);
            for (const part of [built.subject, built.text, built.html]) expect(part, label).to.not.match(/\bemail\.[a-z]/);
            expect(built.subject, label).to.not.equal('');
            expect(built.text, label).to.not.match(/<[a-z/!][^>]*>/i);
            expect(built.html, label).to.match(new RegExp(`^<!DOCTYPE html><html lang="${locale}" dir="${directionOf(locale)}">`));
            expect(built.html, label).to.contain(`lang="${locale}" dir="${directionOf(locale)}" style=`);
            // Every link, in both bodies, stays under the issuer.
            const links = [...built.text.matchAll(/https?:\/\/[^\s<>"')\]]+/g), ...built.html.matchAll(/href="([^"]*)"/g)].map((m) => m[1] ?? m[0]);
            expect(links.length, label).to.be.greaterThan(0);
            for (const link of links) expect(link.replace(/&amp;/g, '&').startsWith(`${ISSUER}/`), `${label} ${link}`).to.equal(true);
            if (locale === 'en') continue;
            for (const part of [built.subject, built.text, built.html]) {
              for (const phrase of englishPhrases) expect(part, `${label} still says "${phrase}"`).to.not.contain(phrase);
            }
            // Dates and durations in the recipient's language, never in English.
            expect(built.text, label).to.not.contain(formatWhen(WHEN, 'en'));
            if (data.when) expect(built.text, label).to.contain(formatWhen(WHEN, locale)).and.contain('UTC');
            if (data.expiresInMs) expect(built.text, label).to.contain(describeDuration(data.expiresInMs, locale)).and.not.contain(describeDuration(data.expiresInMs, 'en'));
          }
        }
      });
    }

    it("counts with the language's plural forms and names factors in the language", () => {
      const used = (locale: string, remaining: number) => buildMessage('recovery_code_used', { ...dataFor('recovery_code_used', 'ada@example.com', tokenLink('x')), remaining, locale }, { issuer: ISSUER }).text;
      expect(used('en', 0)).to.contain('No recovery codes are left.');
      expect(used('en', 1)).to.contain('One recovery code is left.');
      expect(used('en', 9)).to.contain('9 recovery codes are left.');
      expect(used('de', 1)).to.contain('Es ist noch ein Wiederherstellungscode übrig.');
      expect(used('de', 3)).to.contain('Es sind noch 3 Wiederherstellungscodes übrig.');
      expect(used('ar', 2)).to.contain('تبقّى رمزا استرداد.');
      expect(used('ar', 5)).to.contain('تبقّت 5 رموز استرداد.');
      expect(used('ja', 4)).to.contain('リカバリーコードは残り 4 個です。');
      const removed = (locale: string) => buildMessage('factor_removed', { ...dataFor('factor_removed', 'ada@example.com', tokenLink('x')), factors: ['totp', 'passkey', 'passkey', 'recovery_codes'], locale }, { issuer: ISSUER }).text;
      expect(removed('en')).to.contain(': an authenticator app, passkeys and recovery codes.');
      expect(removed('de')).to.contain(': eine Authenticator-App, Passkeys und Wiederherstellungscodes.');
      expect(removed('es')).to.contain(': una app de autenticación, llaves de acceso y códigos de recuperación.');
      const invite = (locale: string) => buildMessage('invite', { ...dataFor('invite', 'ada@example.com', tokenLink('x')), locale }, { issuer: ISSUER });
      expect(invite('fr').text).to.contain('Ce lien expire dans 7\u00a0jours');
      expect(invite('ja').subject).to.equal('Acme Notes への招待が届いています');
    });

    it("writes to the account's language first, then the page's, then English", () => {
      expect(recipientLocale('de', 'ja')).to.equal('de');
      expect(recipientLocale('de-AT', 'ja')).to.equal('de');
      expect(recipientLocale(null, 'ja')).to.equal('ja');
      expect(recipientLocale('', 'pt')).to.equal('pt-BR');
      expect(recipientLocale('zh', 'fr')).to.equal('fr'); // not one of ours: the page's
      expect(recipientLocale('not a tag', undefined)).to.equal('en');
      expect(buildMessage('password_reset', { ...dataFor('password_reset', 'ada@example.com', tokenLink('x')), locale: 'xx-unknown' }, { issuer: ISSUER }).locale).to.equal('en');
      // As callers give it: [the account's locale, the page's language].
      const reset = (locale: MessageData['locale']) => buildMessage('password_reset', { ...dataFor('password_reset', 'ada@example.com', tokenLink('x')), locale }, { issuer: ISSUER }).locale;
      expect(reset([null, 'ja'])).to.equal('ja');
      expect(reset(['de', 'ja'])).to.equal('de');
      expect(reset(['zh-TW', 'es-MX'])).to.equal('es');
      expect(reset([undefined, undefined])).to.equal('en');
    });
  });

  it('send returns at once; the message arrives later', async () => {
    const logs = memoryLogger();
    const m = mailer({ log: logs.log });
    const to = 'later@example.com';
    const returned = m.send('password_reset', dataFor('password_reset', to, tokenLink('later')));
    expect(returned).to.equal(undefined);
    expect(m.stats.sent).to.equal(0);
    expect(smtp.messages.some((x) => x.subject && x.to && !Array.isArray(x.to) && x.to.text === to)).to.equal(false);
    const mail = await smtp.waitFor((x) => !Array.isArray(x.to) && x.to?.text === to);
    expect(mail.subject).to.equal('Reset your Latchkey password');
    await m.idle();
    expect(m.stats.sent).to.equal(1);
  });

  it('idle() resolves at once when nothing is queued', async () => {
    const m = mailer({ log: memoryLogger().log });
    await m.idle();
    expect(m.stats).to.deep.equal({ sent: 0, failed: 0, retried: 0 });
  });

  it('retries after transient 451 refusals and delivers exactly once', async () => {
    const logs = memoryLogger();
    const m = mailer({ log: logs.log, retries: 4, retryDelayMs: 20 });
    const to = 'retry@example.com';
    const link = tokenLink('retry');
    const refusedBefore = smtp.refused;
    smtp.failNext(2);
    m.send('verify_email', dataFor('verify_email', to, link));
    await m.idle();
    expect(smtp.refused - refusedBefore).to.equal(2);
    expect(m.stats).to.deep.equal({ sent: 1, failed: 0, retried: 2 });
    await new Promise((resolve) => setTimeout(resolve, 100)); // nothing else on its way
    const copies = smtp.messages.filter((x) => !Array.isArray(x.to) && x.to?.text === to);
    expect(copies).to.have.length(1);
    expect(smtp.linkIn(copies[0]!)).to.equal(link);
    const warnings = logs.parsed().filter((l) => l.msg === 'email not sent yet: will retry');
    expect(warnings).to.have.length(2);
    expect(warnings[0]).to.deep.include({ to: '***@example.com', mail: 'verify_email' });
    expect(JSON.stringify(warnings[0])).to.contain('451');
    expect(logs.all()).to.not.contain('TOKEN-');
  });

  it('gives up after the retries when no server answers, and logs without the link', async () => {
    const logs = memoryLogger();
    const port = await unusedPort();
    const m = mailer({ log: logs.log, smtpUrl: `smtp://127.0.0.1:${port}`, retries: 2, retryDelayMs: 10 });
    const link = tokenLink('nobody');
    m.send('password_reset', dataFor('password_reset', 'grace.hopper@example.org', link));
    await m.idle();
    expect(m.stats).to.deep.equal({ sent: 0, failed: 1, retried: 2 });
    const errors = logs.parsed().filter((l) => l.level === 50);
    expect(errors).to.have.length(1);
    expect(errors[0]).to.deep.include({ msg: 'email not sent', mail: 'password_reset', to: '***@example.org', attempt: 3 });
    const text = logs.all();
    expect(text).to.not.contain('TOKEN-');
    expect(text).to.not.contain(link);
    expect(text).to.not.contain('grace.hopper');
  });

  it('does not retry a permanent (5xx) refusal', async () => {
    const logs = memoryLogger();
    const m = mailer({ log: logs.log, retries: 3 });
    const to = 'refused@example.com';
    const refusedBefore = smtp.refused;
    smtp.failNext(1, 550);
    m.send('password_reset', dataFor('password_reset', to, tokenLink('refused')));
    await m.idle();
    expect(smtp.refused - refusedBefore).to.equal(1);
    expect(m.stats).to.deep.equal({ sent: 0, failed: 1, retried: 0 });
    expect(smtp.messages.filter((x) => !Array.isArray(x.to) && x.to?.text === to)).to.have.length(0);
    const error = logs.parsed().find((l) => l.msg === 'email not sent');
    expect(error).to.deep.include({ to: '***@example.com', attempt: 1 });
    expect(error?.error).to.deep.include({ code: 'EMESSAGE', responseCode: 550 });
    expect(logs.all()).to.not.contain('TOKEN-');
  });

  it('drops, without sending, a message with a bad recipient or a link outside the issuer', async () => {
    const logs = memoryLogger();
    const m = mailer({ log: logs.log, retries: 3 });
    m.send('password_reset', dataFor('password_reset', 'no such person@example.com', tokenLink('bad')));
    m.send('password_reset', { to: 'ok@example.com', link: 'https://evil.example/steal?token=TOKEN-evil', expiresInMs: 3_600_000 });
    await m.idle();
    expect(m.stats).to.deep.equal({ sent: 0, failed: 2, retried: 0 });
    const text = logs.all();
    expect(text).to.contain('email not sent: the recipient is not a single valid address');
    expect(text).to.contain('email not built');
    expect(text).to.contain('must be an absolute URL under the issuer');
    expect(text).to.not.contain('TOKEN-');
    expect(text).to.not.contain('evil.example');
  });

  it('escapes HTML in the data', async () => {
    const m = mailer({ log: memoryLogger().log });
    const to = 'escape@example.com';
    m.send('invite', { ...dataFor('invite', to, tokenLink('escape')), name: '<script>alert(1)</script>', appName: 'Tom & "Jerry"' });
    const mail = await smtp.waitFor((x) => !Array.isArray(x.to) && x.to?.text === to);
    const html = String(mail.html);
    expect(html).to.not.contain('<script>');
    expect(html).to.contain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).to.contain('Tom &amp; &quot;Jerry&quot;');
    // Plain text is not HTML: it shows the name as typed.
    expect(mail.text).to.contain('Hi <script>alert(1)</script>,');
  });

  it('without SMTP_URL writes .eml files (mode 0600) to the outbox and logs the link', async () => {
    const logs = memoryLogger();
    const outboxDir = join(tmp, 'outbox');
    const m = mailer({ log: logs.log, smtpUrl: undefined, outboxDir });
    expect(logs.parsed().find((l) => l.level === 40), 'quiet until something is sent').to.equal(undefined);

    const link = tokenLink('outbox');
    m.send('invite', dataFor('invite', 'dev@example.com', link));
    const warning = logs.parsed().find((l) => l.level === 40);
    expect(warning?.msg).to.equal(`SMTP_URL is not set: emails are written to ${outboxDir}`);
    await m.idle();
    expect(m.stats).to.deep.equal({ sent: 1, failed: 0, retried: 0 });

    expect(statSync(outboxDir).mode & 0o777).to.equal(0o700);
    const files = readdirSync(outboxDir);
    expect(files).to.have.length(1);
    expect(files[0]).to.match(/^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z-invite-[0-9a-f]+\.eml$/);
    const file = join(outboxDir, files[0]!);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    const mail = await simpleParser(readFileSync(file));
    expect(mail.subject).to.equal("You're invited to Acme Notes");
    expect(mail.text).to.contain(link);
    expect(String(mail.html)).to.contain(link.replace(/&/g, '&amp;'));

    const written = logs.parsed().find((l) => l.msg === 'email written to the outbox');
    expect(written).to.deep.include({ file, link, to: '***@example.com' });
  });

  it('close() waits for messages under way and then refuses new ones', async () => {
    const logs = memoryLogger();
    const m = mailer({ log: logs.log });
    const to = 'closing@example.com';
    m.send('verify_email', dataFor('verify_email', to, tokenLink('closing')));
    await m.close();
    expect(m.stats.sent).to.equal(1);
    expect(smtp.messages.filter((x) => !Array.isArray(x.to) && x.to?.text === to)).to.have.length(1);
    m.send('verify_email', dataFor('verify_email', to, tokenLink('closed')));
    expect(m.stats.failed).to.equal(1);
    expect(logs.all()).to.contain('email not sent: the mailer is closed');
  });

  it('keeps at most `concurrency` messages in flight', async () => {
    const slow = await startSmtp({ delayMs: 100 });
    try {
      const m = mailer({ log: memoryLogger().log, smtpUrl: slow.url, concurrency: 2 });
      const count = 6;
      for (let i = 0; i < count; i++) m.send('verify_email', dataFor('verify_email', `many-${i}@example.com`, tokenLink(`many${i}`)));
      await m.idle();
      expect(m.stats.sent).to.equal(count);
      expect(slow.peakTransactions).to.equal(2);
      for (let i = 0; i < count; i++) {
        expect(slow.messages.filter((x) => !Array.isArray(x.to) && x.to?.text === `many-${i}@example.com`)).to.have.length(1);
      }
      await m.close();
    } finally {
      await slow.close();
    }
  });
});
