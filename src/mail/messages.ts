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
// - To add a message: add an entry to CATALOGUE and the two templates.
import { template } from '../views.ts';

export interface MessageData {
  /** The single recipient address. */
  to: string;
  /** The person's name, for the greeting. */
  name?: string;
  /** Absolute URL under the issuer: the one-time link, or the page the message points to. */
  link?: string;
  /** How long the link stays valid, in words ("1 hour", "7 days"); see describeDuration in src/background.ts. */
  expiresIn?: string;
  /** The app the person is being invited to, when not the product itself. */
  appName?: string;
  /** When the event happened (password_changed); the message formats it. Default: when the message is built. */
  when?: Date;
  /** The IP address the event came from (password_changed, the factor notices). */
  ip?: string;
  /** What was added or removed, in words (factor_added, factor_removed): "an authenticator app". */
  factorName?: string;
  /** How many are left (recovery_code_used: unused recovery codes). */
  remaining?: number;
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
}

type DataField = Exclude<keyof MessageData, 'to'>;

interface MessageSpec {
  subject(locals: Locals): string;
  /** Fields the message cannot do without; building fails when one is missing. */
  required: readonly DataField[];
}

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
}

const CATALOGUE = {
  invite: {
    subject: (l) => `You're invited to ${l.product}`,
    required: ['link', 'expiresIn'],
  },
  password_reset: {
    subject: (l) => `Reset your ${l.productName} password`,
    required: ['link', 'expiresIn'],
  },
  verify_email: {
    subject: (l) => `Confirm your email address for ${l.productName}`,
    required: ['link', 'expiresIn'],
  },
  password_changed: {
    subject: (l) => `Your ${l.productName} password was changed`,
    // The link goes to the forgot-password page.
    required: ['link'],
  },
  // Notices of changes to the second factors. The link goes to the forgot-password page:
  // whoever made a change they did not make knows the password.
  factor_added: {
    subject: (l) => `A second factor was added to your ${l.productName} account`,
    required: ['link', 'factorName'],
  },
  factor_removed: {
    subject: (l) => `A second factor was removed from your ${l.productName} account`,
    required: ['link', 'factorName'],
  },
  recovery_codes_generated: {
    subject: (l) => `New recovery codes for your ${l.productName} account`,
    required: ['link'],
  },
  // A recovery code stood in for the second factor: the person may have lost it.
  recovery_code_used: {
    subject: (l) => `A recovery code was used to sign in to your ${l.productName} account`,
    required: ['link', 'remaining'],
  },
  signup_existing_account: {
    subject: (l) => `You already have a ${l.productName} account`,
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

/** Renders one message. Throws on an unknown name, a missing field or a link outside the issuer. */
export function buildMessage(name: MessageName, data: MessageData, options: BuildOptions): BuiltMessage {
  if (!isMessageName(name)) throw new Error(`unknown email message "${String(name)}"`);
  const spec: MessageSpec = CATALOGUE[name];
  const productName = optionalText(options.productName) ?? 'Latchkey';
  const issuer = options.issuer.replace(/\/+$/, '');
  const appName = optionalText(data.appName);
  const locals: Locals = {
    subject: '',
    email: oneLine(data.to),
    productName,
    product: appName ?? productName,
    issuer,
    issuerHost: new URL(issuer).host,
    name: optionalText(data.name),
    link: optionalText(data.link),
    expiresIn: optionalText(data.expiresIn),
    appName,
    when: data.when ? formatWhen(new Date(data.when)) : undefined,
    ip: optionalText(data.ip),
    factorName: optionalText(data.factorName),
    remaining: Number.isSafeInteger(data.remaining) && data.remaining! >= 0 ? data.remaining : undefined,
  };
  for (const field of spec.required) {
    if (locals[field] === undefined) throw new Error(`email message "${name}" needs data.${field}`);
  }
  if (locals.link !== undefined && !isLinkUnderIssuer(locals.link, issuer)) {
    // The link itself is not repeated here: it may carry a token and errors get logged.
    throw new Error(`email message "${name}": data.link must be an absolute URL under the issuer ${issuer}`);
  }
  if (name === 'password_changed' || name === 'factor_added' || name === 'factor_removed' || name === 'recovery_codes_generated' || name === 'recovery_code_used') locals.when ??= formatWhen(new Date());
  locals.subject = oneLine(spec.subject(locals));

  const html = emailTemplate(name)(locals);
  const text = normaliseText(emailTemplate(`${name}.text`)(locals));
  return { subject: locals.subject, html, text };
}

/** Blank lines between paragraphs, no trailing spaces, one final newline. */
function normaliseText(text: string): string {
  return `${text.split('\n').map((line) => line.trimEnd()).join('\n').replace(/\n{3,}/g, '\n\n').trim()}\n`;
}

/** "Tue, 4 Mar 2025 at 14:05 UTC": unambiguous whatever the reader's locale. */
export function formatWhen(date: Date): string {
  const day = date.toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
  const time = date.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'UTC' });
  return `${day} at ${time} UTC`;
}
