// The catalogue of emails Latchkey sends. Each message has a subject, an HTML
// body (views/emails/<name>.pug, extending views/emails/layout.pug) and a plain
// text body (views/emails/<name>.text.pug, extending views/emails/layout.text.pug).
//
// Rules every message keeps:
// - Links are absolute and come from data.link, which callers build from ISSUER;
//   a link that does not start with the issuer is refused, so a forged Host
//   header can never put someone else's site into an email.
// - Only the fields of MessageData reach a template: whatever else a caller
//   passes (a user record, a password) is dropped, so no message can show a
//   password or a hash.
// - Every text is a message of locales/<language>/email.json (keys "email."), in
//   the recipient's language (data.locale; see recipientLocale): subject, both bodies,
//   dates, durations, counts and the names of second factors.
// - To add a message: add an entry to CATALOGUE, its texts to email.json in every
//   language, and the two templates.
import { describeDuration } from '../background.ts';
import { DEFAULT_LOCALE, directionOf, recipientLocale, type Locale } from '../i18n/locales.ts';
import { translateHtml, translator, type MessageValues } from '../i18n/messages.ts';
import { template } from '../views.ts';

/** The kinds of second factor a notice can name. */
export type FactorKind = 'totp' | 'passkey' | 'recovery_codes';

export interface MessageData {
  /** The single recipient address. */
  to: string;
  /**
   * The recipient's language, as BCP 47 tags best first: the account's locale, then the
   * language of the page that caused the message ([user.locale, context.locale]). The
   * first that is one of ours, or close to one, wins; else English (see recipientLocale).
   */
  locale?: string | null | ReadonlyArray<string | null | undefined>;
  /** The person's name, for the greeting. */
  name?: string;
  /** Absolute URL under the issuer: the one-time link, or the page the message points to. */
  link?: string;
  /** How long the link stays valid, in milliseconds; the message says it in words ("1 hour", "7 Tage"). */
  expiresInMs?: number;
  /** The app the person is being invited to, when not the product itself. */
  appName?: string;
  /** When the event happened (password_changed); the message formats it. Default: when the message is built. */
  when?: Date;
  /** The IP address the event came from (password_changed, the factor notices). */
  ip?: string;
  /** What was added or removed (factor_added, factor_removed, recovery_codes_generated), named in the message's language. */
  factors?: FactorKind[];
  /** The passkey's own name, when `factors` is one passkey. */
  passkeyName?: string;
  /** How many are left (recovery_code_used: unused recovery codes). */
  remaining?: number;
  /** The browser and system of a sign-in ("Firefox 128 on Windows", new_browser_signin), from its user agent. */
  browser?: string;
  /** The address an account changed to (email_changed, email_change_by_admin: told to the old one). */
  newEmail?: string;
  /** Whom to ask (email_change_by_admin): the organisation's support address or page, when configured. */
  contact?: string;
}

export interface BuildOptions {
  /** Public base URL (config.issuer); every link must start with it. */
  issuer: string;
  /** The product's name as people know it; defaults to "Latchkey". */
  productName?: string;
}

export interface BuiltMessage {
  subject: string;
  html: string;
  text: string;
  /** The language it was written in. */
  locale: Locale;
}

type DataField = 'link' | 'expiresIn' | 'factorName' | 'remaining';

interface MessageSpec {
  /** The catalog key of the subject (the values are the message's: product, email, ...). */
  subject: string;
  /** Fields the message cannot do without; building fails when one is missing. */
  required: readonly DataField[];
}

/** What a template gets. `t` and `tHtml` fill in the message's values (product, email, when, ip, factor, count, ...). */
interface Locals {
  subject: string;
  email: string;
  productName: string;
  product: string;
  issuer: string;
  issuerHost: string;
  name?: string;
  link?: string;
  expiresIn?: string;
  appName?: string;
  when?: string;
  ip?: string;
  factorName?: string;
  remaining?: number;
  browser?: string;
  newEmail?: string;
  contact?: string;
  lang: Locale;
  dir: 'ltr' | 'rtl';
  /** Between two sentences of one paragraph: a space, none in Japanese. */
  sentenceGap: string;
  /** A message as plain text (escaped by pug's = and #{}; printed as is by the text bodies' !{}). */
  t: (key: string, values?: MessageValues) => string;
  /** A message with <b>…</b> as HTML (values escaped), for `!=` in the HTML bodies. */
  tHtml: (key: string, values?: MessageValues) => string;
}

const CATALOGUE = {
  invite: {
    subject: 'email.invite.subject',
    required: ['link', 'expiresIn'],
  },
  password_reset: {
    subject: 'email.password_reset.subject',
    required: ['link', 'expiresIn'],
  },
  verify_email: {
    subject: 'email.verify_email.subject',
    required: ['link', 'expiresIn'],
  },
  password_changed: {
    subject: 'email.password_changed.subject',
    // The link goes to the forgot-password page.
    required: ['link'],
  },
  // Notices of changes to the second factors. The link goes to the forgot-password page:
  // whoever made a change they did not make knows the password.
  factor_added: {
    subject: 'email.factor_added.subject',
    required: ['link', 'factorName'],
  },
  factor_removed: {
    subject: 'email.factor_removed.subject',
    required: ['link', 'factorName'],
  },
  recovery_codes_generated: {
    subject: 'email.recovery_codes_generated.subject',
    required: ['link'],
  },
  // A recovery code stood in for the second factor: the person may have lost it.
  recovery_code_used: {
    subject: 'email.recovery_code_used.subject',
    required: ['link', 'remaining'],
  },
  // Too many wrong passwords or codes paused sign-ins to the account (once per lock). The page
  // said nothing of it; the owner learns it here, with the way back (a reset link's page).
  account_locked: {
    subject: 'email.account_locked.subject',
    required: ['link'],
  },
  // A sign-in from a browser the account had not used (accounts/new-browser.ts); the link goes
  // to the person's sessions in the portal, where one they do not know can be ended.
  new_browser_signin: {
    subject: 'email.new_browser_signin.subject',
    required: ['link'],
  },
  // The account is deleted (accounts/deletion.ts): to the address it had, after it is gone.
  // data.when: when it went (it has no link: nothing is left to sign in to).
  account_deleted: {
    subject: 'email.account_deleted.subject',
    required: [],
  },
  // A deletion with a grace period: data.when is when the account goes; the link starts a
  // sign-in, where the right password offers to restore it.
  account_deletion_scheduled: {
    subject: 'email.account_deletion_scheduled.subject',
    required: ['link'],
  },
  // Change of email (accounts/email-change.ts). To the new address: the link that confirms it.
  email_change_confirm: {
    subject: 'email.email_change_confirm.subject',
    required: ['link', 'expiresIn'],
  },
  // To the old address once changed (data.newEmail): the link undoes it within expiresIn.
  email_changed: {
    subject: 'email.email_changed.subject',
    required: ['link', 'expiresIn'],
  },
  // To the old address after an operator's override: no undo link, whom to ask instead (data.contact);
  // the link goes to the account pages (signing in there shows the account as it is now).
  email_change_by_admin: {
    subject: 'email.email_change_by_admin.subject',
    required: ['link'],
  },
  // To the owner of an address someone asked to move their account to: nothing changed (link: forgot password).
  email_change_in_use: {
    subject: 'email.email_change_in_use.subject',
    required: ['link'],
  },
  signup_existing_account: {
    subject: 'email.signup_existing_account.subject',
    // The link goes to the forgot-password page.
    required: ['link'],
  },
} satisfies Record<string, MessageSpec>;

export type MessageName = keyof typeof CATALOGUE;

export const MESSAGE_NAMES = Object.keys(CATALOGUE) as MessageName[];

export function isMessageName(value: string): value is MessageName {
  return Object.hasOwn(CATALOGUE, value);
}

const emailTemplate = (file: string) => template(`emails/${file}`);

/** One line, no control characters: for the subject and the values shown in it. */
function oneLine(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
}

function optionalText(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = oneLine(value);
  return text === '' ? undefined : text;
}

/** A link must be an absolute http(s) URL at or under the issuer. */
export function isLinkUnderIssuer(link: string, issuer: string): boolean {
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  const base = issuer.replace(/\/+$/, '');
  return link === base || link.startsWith(`${base}/`) || link.startsWith(`${base}?`);
}

/** The values that are left-to-right text whatever the message's language. */
const ISOLATED = new Set(['product', 'productName', 'appName', 'email', 'name', 'host', 'ip', 'browser', 'newEmail', 'contact']);

const FACTOR_KEYS: Record<FactorKind, string> = {
  totp: 'email.factor.totp',
  passkey: 'email.factor.passkey',
  recovery_codes: 'email.factor.recoveryCodes',
};

/** "an authenticator app, a passkey and recovery codes" (several passkeys: "passkeys"), in `locale`. */
export function describeFactors(locale: Locale, kinds: unknown, passkeyName?: string): string | undefined {
  if (!Array.isArray(kinds)) return undefined;
  const known = kinds.filter((kind): kind is FactorKind => typeof kind === 'string' && Object.hasOwn(FACTOR_KEYS, kind)).slice(0, 100);
  if (!known.length) return undefined;
  const t = translator(locale);
  const passkeys = known.filter((kind) => kind === 'passkey').length;
  const names = [...new Set(known)].map((kind) => {
    if (kind !== 'passkey') return t(FACTOR_KEYS[kind]);
    if (passkeys > 1) return t('email.factor.passkeys');
    // A name of the person's choosing keeps its own direction inside a right-to-left sentence.
    const name = passkeyName && directionOf(locale) === 'rtl' ? `\u2068${passkeyName}\u2069` : passkeyName;
    return name ? t('email.factor.passkeyNamed', { name }) : t(FACTOR_KEYS.passkey);
  });
  // English as written in Britain: no comma before "and".
  return new Intl.ListFormat(locale === 'en' ? 'en-GB' : locale, { type: 'conjunction' }).format(names);
}

/** Renders one message. Throws on an unknown name, a missing field or a link outside the issuer. */
export function buildMessage(name: MessageName, data: MessageData, options: BuildOptions): BuiltMessage {
  if (!isMessageName(name)) throw new Error(`unknown email message "${String(name)}"`);
  const spec: MessageSpec = CATALOGUE[name];
  const lang = recipientLocale(...(Array.isArray(data.locale) ? data.locale : [data.locale]));
  const productName = optionalText(options.productName) ?? 'Latchkey';
  const issuer = options.issuer.replace(/\/+$/, '');
  const appName = optionalText(data.appName);
  const expiresInMs = data.expiresInMs;
  const remaining = Number.isSafeInteger(data.remaining) && data.remaining! >= 0 ? data.remaining : undefined;
  const base = {
    email: oneLine(data.to),
    productName,
    product: appName ?? productName,
    issuer,
    issuerHost: new URL(issuer).host,
    name: optionalText(data.name),
    link: optionalText(data.link),
    expiresIn: typeof expiresInMs === 'number' && Number.isFinite(expiresInMs) && expiresInMs > 0 ? describeDuration(expiresInMs, lang) : undefined,
    appName,
    when: data.when && !Number.isNaN(new Date(data.when).getTime()) ? formatWhen(new Date(data.when), lang) : undefined,
    ip: optionalText(data.ip),
    factorName: describeFactors(lang, data.factors, optionalText(data.passkeyName)),
    remaining,
    browser: optionalText(data.browser)?.slice(0, 120),
    newEmail: optionalText(data.newEmail),
    contact: optionalText(data.contact),
  };
  for (const field of spec.required) {
    if (base[field] === undefined) throw new Error(`email message "${name}" needs data.${field === 'expiresIn' ? 'expiresInMs' : field === 'factorName' ? 'factors' : field}`);
  }
  if (base.link !== undefined && !isLinkUnderIssuer(base.link, issuer)) {
    // The link itself is not repeated here: it may carry a token and errors get logged.
    throw new Error(`email message "${name}": data.link must be an absolute URL under the issuer ${issuer}`);
  }
  if (name === 'password_changed' || name === 'factor_added' || name === 'factor_removed' || name === 'recovery_codes_generated' || name === 'recovery_code_used' || name === 'account_locked' || name === 'new_browser_signin') base.when ??= formatWhen(new Date(), lang);

  // The values every message of the catalog may use.
  const raw: MessageValues = {
    product: base.product, productName, appName, email: base.email, name: base.name, host: base.issuerHost,
    when: base.when, ip: base.ip, factor: base.factorName, count: remaining, duration: base.expiresIn,
    browser: base.browser,
    newEmail: base.newEmail, contact: base.contact,
  };
  // Right to left, each left-to-right value (address, IP, names) is isolated (U+2068 … U+2069),
  // so "(ada@example.com)" or an IP keeps its order and its brackets inside Arabic sentences.
  const dir = directionOf(lang);
  const values: MessageValues = dir === 'ltr' ? raw : Object.fromEntries(Object.entries(raw).map(([key, value]) => [
    key, typeof value === 'string' && ISOLATED.has(key) ? `\u2068${value}\u2069` : value,
  ]));
  const translate = translator(lang);
  // In plain text, a message's <b>…</b> is just its words.
  const plain = { b: (chunks: unknown[]) => chunks.join('') } as unknown as MessageValues;
  const t = (key: string, extra: MessageValues = {}) => translate(key, { ...plain, ...values, ...extra });
  const tHtml = (key: string, extra: MessageValues = {}) => translateHtml(lang, key, { ...values, ...extra });
  // The subject line goes without isolates: some mail clients list them as boxes.
  const subject = oneLine(translate(spec.subject, { ...plain, ...raw }));
  const locals: Locals = { ...base, subject, lang, dir, sentenceGap: lang === 'ja' ? '' : ' ', t, tHtml };

  const html = emailTemplate(name)(locals);
  const text = normaliseText(emailTemplate(`${name}.text`)(locals));
  return { subject, html, text, locale: lang };
}

/** Blank lines between paragraphs, no trailing spaces, one final newline. */
function normaliseText(text: string): string {
  return `${text.split('\n').map((line) => line.trimEnd()).join('\n').replace(/\n{3,}/g, '\n\n').trim()}\n`;
}

/**
 * When something happened, unambiguous whatever the reader's time zone: in UTC, and said so.
 * English keeps "Tue, 4 Mar 2025 at 14:05 UTC"; other languages get ICU's date and
 * time in their own order and words ("Di., 4. März 2025 um 14:05 UTC", "2025年3月4日(火) 14:05 UTC").
 */
export function formatWhen(date: Date, locale: Locale = DEFAULT_LOCALE): string {
  if (locale === 'en') {
    const day = date.toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
    const time = date.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'UTC' });
    return `${day} at ${time} UTC`;
  }
  return new Intl.DateTimeFormat(locale, {
    weekday: 'short', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'UTC', timeZoneName: 'short',
  }).format(date);
}
