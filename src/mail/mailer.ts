// Sends the catalogue's messages in the background.
//
// send() only puts the message on a queue and returns: a page's answer never
// waits for mail, so the time it takes cannot tell whether an account exists.
//
// The queue is held in memory on purpose. The links inside the messages carry
// single-use tokens, and those must not sit at rest in the database (only their
// hashes do). A crash loses at most what is queued; the person can ask again.
//
// Retries: a message is retried, with exponential backoff, only when we know the
// SMTP server did not accept it: it answered with a transient (4xx) refusal, or
// the connection failed before a transaction began. When the connection breaks
// after the message went out, the server may have accepted it, so it is not
// sent again: one send() never delivers twice.
//
// Logs carry the message name and the recipient's domain only: never the link
// (it holds a token) nor the full address.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { NodemailerError, SendMailOptions, Transporter } from 'nodemailer';
import type { Logger } from '../log.ts';
import { buildMessage, type BuiltMessage, type MessageData, type MessageName } from './messages.ts';

export interface MailerOptions {
  /** smtp:// or smtps:// URL; without it messages are written to outboxDir (development). */
  smtpUrl?: string;
  /** The From header (config.mailFrom). */
  from: string;
  /** Where messages go when there is no SMTP server. */
  outboxDir: string;
  /** Public base URL (config.issuer): every link in a message must start with it. */
  issuer: string;
  log: Logger;
  /** Further attempts after the first fails transiently (default 4). */
  retries?: number;
  /** Delay before the first retry; doubled for each further one (default 2000 ms). */
  retryDelayMs?: number;
  /** Messages in flight at once (default 4). */
  concurrency?: number;
  /** The product's name in subjects and bodies (default "Latchkey"). */
  productName?: string;
}

export interface MailerStats {
  /** Messages the SMTP server accepted (or, in development, written to the outbox). */
  sent: number;
  /** Messages given up on: not built, refused for good, or out of retries. */
  failed: number;
  /** Retries scheduled. */
  retried: number;
}

interface Job {
  name: MessageName;
  data: MessageData;
  built?: BuiltMessage;
  attempts: number;
  /** Called (and awaited before the mailer is idle) when the message is given up on. */
  onFailed?: () => Promise<void>;
}

const CLOSE_WAIT_MS = 10_000;

/** "ada@example.com" → "***@example.com": enough to tell providers apart in logs. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '***' : `***@${address.slice(at + 1).toLowerCase()}`;
}

/** Server replies can echo addresses or URLs; keep neither in the logs. */
function scrub(text: string): string {
  return text
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '[url]')
    .replace(/[^\s<>"'(),;:[\]@]+@([a-z0-9.-]+)/gi, '***@$1');
}

function describeError(err: unknown): Record<string, unknown> {
  const e = err as NodemailerError;
  return {
    code: e?.code,
    command: e?.command,
    responseCode: e?.responseCode,
    message: scrub(String(e?.message ?? err)),
  };
}

// Failures of the connection itself, before a transaction could begin.
const CONNECT_ERRNO = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENETDOWN']);
const CONNECT_TIMEOUTS = new Set(['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT']);

/**
 * True only when the server certainly did not accept the message and may accept it later.
 * A transient (4xx) reply or 503 refuses the transaction; a failure to connect, resolve,
 * greet or upgrade to TLS happens before one. A connection lost mid-session is ambiguous
 * (the server may have taken the message) and is not retried.
 */
export function isRetryable(err: unknown): boolean {
  const e = err as NodemailerError;
  if (typeof e?.responseCode === 'number') {
    return (e.responseCode >= 400 && e.responseCode < 500) || e.responseCode === 503;
  }
  switch (e?.code) {
    case 'EDNS':
    case 'EPROXY':
    case 'ETLS':
      return true;
    case 'ETIMEDOUT':
      return CONNECT_TIMEOUTS.has(e.timeoutType ?? '');
    case 'ESOCKET':
    case 'ECONNECTION':
      // 'API': the connection was already gone before the message was handed to it.
      // No command: the pool gave up on a message it never got to send.
      return CONNECT_ERRNO.has(e.originalCode ?? '') || e.command === 'API' || e.command === undefined;
    default:
      return false;
  }
}

const RECIPIENT = /^[^\s@<>,;"'()[\]\\]+@[^\s@<>,;"'()[\]\\]+$/;

export class Mailer {
  readonly stats: MailerStats = { sent: 0, failed: 0, retried: 0 };

  readonly #from: string;
  readonly #outboxDir: string;
  readonly #issuer: string;
  readonly #productName: string | undefined;
  readonly #log: Logger;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #concurrency: number;
  readonly #smtp: boolean;
  readonly #transport: Transporter;

  readonly #queue: Job[] = [];
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  #active = 0;
  #pumpScheduled = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** close() gave up waiting: no more retries. */
  #stopped = false;
  #outboxReady: Promise<void> | undefined;
  #idleWaiters: (() => void)[] = [];

  constructor(options: MailerOptions) {
    this.#from = options.from;
    this.#outboxDir = options.outboxDir;
    this.#issuer = options.issuer;
    this.#productName = options.productName;
    this.#log = options.log.child({ component: 'mail' });
    this.#retries = Math.max(0, Math.floor(options.retries ?? 4));
    this.#retryDelayMs = Math.max(0, options.retryDelayMs ?? 2000);
    this.#concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
    this.#smtp = Boolean(options.smtpUrl);
    if (options.smtpUrl) {
      this.#transport = nodemailer.createTransport({
        url: options.smtpUrl,
        pool: true,
        maxConnections: this.#concurrency,
        connectionTimeout: 15_000,
        greetingTimeout: 15_000,
        socketTimeout: 60_000,
        // Messages are built here from templates: never read files or URLs into them.
        disableFileAccess: true,
        disableUrlAccess: true,
      });
    } else {
      // Development only: each message becomes an .eml file and its link is logged,
      // so the quick start works without a mail server.
      this.#transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
      this.#warnOutbox = true;
    }
  }

  // Said at the first message, not at start, so commands that send nothing stay quiet.
  #warnOutbox = false;

  /** Queues a message and returns at once; building, sending and retrying happen in the background. */
  send(name: MessageName, data: MessageData, options: { onFailed?: () => Promise<void> } = {}): void {
    if (this.#warnOutbox) {
      this.#warnOutbox = false;
      this.#log.warn({ outboxDir: this.#outboxDir }, `SMTP_URL is not set: emails are written to ${this.#outboxDir}`);
    }
    const to = typeof data?.to === 'string' ? data.to.trim() : '';
    if (this.#closed) {
      this.stats.failed++;
      this.#log.error({ mail: name, to: maskAddress(to) }, 'email not sent: the mailer is closed');
      return;
    }
    if (!RECIPIENT.test(to) || to.length > 254) {
      this.stats.failed++;
      this.#log.error({ mail: name, to: maskAddress(to) }, 'email not sent: the recipient is not a single valid address');
      return;
    }
    // Only the known fields are kept: nothing else a caller passes sits in the queue.
    const { locale, name: person, link, expiresInMs, appName, when, ip, factors, passkeyName, remaining, browser, newEmail, contact } = data;
    this.#queue.push({
      name,
      data: { to, locale: Array.isArray(locale) ? locale.slice(0, 5) : locale, name: person, link, expiresInMs, appName, when, ip, factors: Array.isArray(factors) ? [...factors] : undefined, passkeyName, remaining, browser, newEmail, contact },
      attempts: 0, onFailed: options.onFailed,
    });
    this.#schedulePump();
  }

  /** Resolves once nothing is queued, in flight or waiting for a retry. */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops taking messages, waits (at most 10 s) for those under way, then closes the transport. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.idle().then(() => false),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), CLOSE_WAIT_MS); }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      // Messages still in flight finish (or fail) on their own; they are not retried.
      this.#stopped = true;
      const dropped = this.#queue.length + this.#retryTimers.size;
      for (const t of this.#retryTimers) clearTimeout(t);
      this.#retryTimers.clear();
      this.#queue.length = 0;
      this.stats.failed += dropped;
      this.#log.error({ dropped }, 'mailer closed before every email was sent');
    }
    this.#transport.close();
  }

  #isIdle(): boolean {
    return this.#queue.length === 0 && this.#active === 0 && this.#retryTimers.size === 0 && !this.#pumpScheduled;
  }

  #checkIdle(): void {
    if (!this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#active < this.#concurrency && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      this.#active++;
      void this.#attempt(job).finally(() => {
        this.#active--;
        this.#pump();
        this.#checkIdle();
      });
    }
    this.#checkIdle();
  }

  async #givenUp(job: Job): Promise<void> {
    try {
      await job.onFailed?.();
    } catch (error) {
      this.#log.error({ mail: job.name, error: describeError(error) }, 'after a failed email: cleanup failed');
    }
  }

  async #attempt(job: Job): Promise<void> {
    const meta = { mail: job.name, to: maskAddress(job.data.to) };
    try {
      job.built ??= buildMessage(job.name, job.data, { issuer: this.#issuer, productName: this.#productName });
    } catch (error) {
      this.stats.failed++;
      this.#log.error({ ...meta, error: describeError(error) }, 'email not built');
      await this.#givenUp(job);
      return;
    }
    job.attempts++;
    const message: SendMailOptions = {
      from: this.#from,
      to: job.data.to,
      subject: job.built.subject,
      text: job.built.text,
      html: job.built.html,
      headers: {
        // RFC 3834: automatic message; asks auto-responders not to answer it.
        'Auto-Submitted': 'auto-generated',
        'X-Auto-Response-Suppress': 'All',
      },
    };
    try {
      if (this.#smtp) {
        await this.#transport.sendMail(message);
        this.stats.sent++;
        this.#log.info({ ...meta, attempt: job.attempts }, 'email sent');
      } else {
        const file = await this.#writeToOutbox(job, message);
        this.stats.sent++;
        // Development only: the link is logged so the quick start works without a mail server.
        this.#log.info({ ...meta, file, link: job.data.link }, 'email written to the outbox');
      }
      job.built = undefined;
    } catch (error) {
      const retry = this.#smtp && !this.#stopped && isRetryable(error) && job.attempts <= this.#retries;
      if (!retry) {
        this.stats.failed++;
        this.#log.error({ ...meta, attempt: job.attempts, error: describeError(error) }, 'email not sent');
        await this.#givenUp(job);
        return;
      }
      this.stats.retried++;
      const base = this.#retryDelayMs * 2 ** (job.attempts - 1);
      const delayMs = Math.round(base * (0.8 + Math.random() * 0.4));
      this.#log.warn({ ...meta, attempt: job.attempts, retryInMs: delayMs, error: describeError(error) }, 'email not sent yet: will retry');
      const timer = setTimeout(() => {
        this.#retryTimers.delete(timer);
        this.#queue.push(job);
        this.#pump();
      }, delayMs);
      this.#retryTimers.add(timer);
    }
  }

  async #writeToOutbox(job: Job, message: SendMailOptions): Promise<string> {
    this.#outboxReady ??= mkdir(this.#outboxDir, { recursive: true, mode: 0o700 })
      .then(() => chmod(this.#outboxDir, 0o700));
    await this.#outboxReady.catch((error: unknown) => {
      this.#outboxReady = undefined;
      throw error;
    });
    const info = await this.#transport.sendMail(message);
    const raw = (info as { message: Buffer | string }).message;
    const stamp = new Date().toISOString().replace(/:/g, '-');
    const file = join(this.#outboxDir, `${stamp}-${job.name}-${randomBytes(4).toString('hex')}.eml`);
    await writeFile(file, raw, { mode: 0o600, flag: 'wx' });
    return file;
  }
}
