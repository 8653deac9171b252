// "Signed in from a new browser" (policy notices.newBrowser, default on): when an account
// signs in from a browser it has not used before, its owner gets an email saying when,
// which browser and system, and from which IP, with the way to their sessions.
//
// A browser is known by its signed device cookie (web/device-cookie.ts), which every
// finished sign-in sets: the account keeps the hashes of its browsers' device ids
// (known_browsers: never the ids themselves, which are the cookie's secret part). A browser
// without the cookie gets a new id, so it counts as new once per cookie issued.
//
// The rules, in order:
// - A browser seen before: nothing but "last seen".
// - The account's very first browser (knownBrowsersSince unset): recorded silently, there
//   is nothing to compare it with (accounts that existed before this feature too).
// - The browser that just set the account's password from an emailed link (invite, reset)
//   or confirmed its sign-up: recorded silently, the owner is the one using it.
// - Otherwise one email, at most one per account per notices.newBrowserThrottleMinutes
//   (a conditional update of newBrowserNoticeAt: several instances send one between them).
// Every decision is one atomic write (a read first only skips writes that could change
// nothing), so concurrent sign-ins need no lock. The caller runs
// this after the sign-in has answered: it never delays or fails a sign-in.
import { createHash } from 'node:crypto';
import type { Db } from 'mongodb';
import type { User, UserModel } from '../db/models/user.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Policy } from '../config.ts';
import type { AuditTrail, RequestContext } from './audit.ts';
import { translator } from '../i18n/messages.ts';
import { recipientLocale } from '../i18n/locales.ts';
import { describeUserAgent, deviceText } from './user-agent.ts';
import { isDuplicateKey } from '../db/duplicate-key.ts';

export const KNOWN_BROWSERS = 'known_browsers';

interface KnownBrowser {
  _id: string;
  userId: string;
  /** SHA-256 of the device id. */
  deviceHash: string;
  firstSeenAt: Date;
  lastSeenAt: Date;
  /** Forgotten when unseen for the device cookie's lifetime: that browser's cookie is gone anyway. */
  expiresAt: Date;
}

export interface NewBrowserDeps {
  db: Db;
  users: UserModel;
  audit: AuditTrail;
  mailer: Pick<Mailer, 'send'>;
  /** Where the email sends the owner: their sessions (or security) page in the portal. */
  urls: { sessions(): string };
  notices: Policy['notices'];
  /** The device cookie's lifetime (policy device.cookieDays). */
  cookieDays: number;
}

export type BrowserVerdict =
  | 'known' | 'first_browser' | 'password_set_here'
  /** A new browser: the owner was told, or was told of another one too recently (throttled), or notices are off. */
  | 'notified' | 'throttled' | 'notices_off';

export const deviceHash = (deviceId: string) => createHash('sha256').update(deviceId).digest('base64url');

/** The account's known browsers, most recently seen first (the data export): dates only. */
export async function knownBrowsersOf(db: Db, userId: string): Promise<Array<Pick<KnownBrowser, 'firstSeenAt' | 'lastSeenAt'>>> {
  return db.collection<KnownBrowser>(KNOWN_BROWSERS)
    .find({ userId }, { projection: { _id: 0, firstSeenAt: 1, lastSeenAt: 1 } }).sort({ lastSeenAt: -1 }).limit(1000).toArray();
}

/** One sign-in of `userId` from the browser holding device `deviceId`, finished: what it means, and the email if it is due. */
export async function noteSignInBrowser(
  deps: NewBrowserDeps,
  input: {
    userId: string;
    deviceId: string;
    /** This browser set the account's password from an emailed link (or confirmed its sign-up) just before. */
    passwordSetHere?: boolean;
    /** The request's IP, user agent (the email names its browser and system) and language. */
    context?: RequestContext;
    /**
     * The account as the sign-in read it moments ago, if it did: saves reading it again. A
     * snapshot is enough, as the dates only move forward and every write below is conditional.
     */
    account?: Pick<User, 'knownBrowsersSince' | 'newBrowserNoticeAt' | 'status'>;
  },
  now = new Date(),
): Promise<BrowserVerdict> {
  const hash = deviceHash(input.deviceId);
  const browsers = deps.db.collection<KnownBrowser>(KNOWN_BROWSERS);
  const expiresAt = new Date(now.getTime() + deps.cookieDays * 86_400_000);
  let inserted: boolean;
  try {
    const result = await browsers.updateOne(
      { _id: `${input.userId}:${hash}` },
      { $set: { lastSeenAt: now, expiresAt }, $setOnInsert: { userId: input.userId, deviceHash: hash, firstSeenAt: now } },
      { upsert: true },
    );
    inserted = result.upsertedCount > 0;
  } catch (error) {
    // The same browser's sign-in on another instance inserted it at the same moment.
    if (!isDuplicateKey(error)) throw error;
    inserted = false;
  }
  if (!inserted) return 'known';

  // A read first (unless the caller has the account): most new browsers are of an account that
  // has a first browser already, and often one told of very recently; then no write is needed.
  const account = input.account ?? await deps.users.findById(input.userId, { knownBrowsersSince: 1, newBrowserNoticeAt: 1, status: 1 })
    .lean<Pick<User, 'knownBrowsersSince' | 'newBrowserNoticeAt' | 'status'>>();
  if (!account) return 'known'; // erased meanwhile: nobody to tell
  // The first browser of the account: whichever sign-in sets knownBrowsersSince first.
  if (!account.knownBrowsersSince) {
    const first = await deps.users.updateOne({ _id: input.userId, knownBrowsersSince: null }, { $set: { knownBrowsersSince: now } });
    if (first.modifiedCount > 0) return 'first_browser';
  }
  if (input.passwordSetHere) return 'password_set_here';
  if (!deps.notices.newBrowser) return 'notices_off';

  const since = new Date(now.getTime() - deps.notices.newBrowserThrottleMinutes * 60_000);
  const toldRecently = account.status !== 'active' || (account.newBrowserNoticeAt != null && account.newBrowserNoticeAt > since);
  // Else the conditional update decides: of several instances seeing new browsers at once, one sends.
  const claim = toldRecently ? null : await deps.users.findOneAndUpdate(
    { _id: input.userId, status: 'active', $or: [{ newBrowserNoticeAt: null }, { newBrowserNoticeAt: { $lte: since } }] },
    { $set: { newBrowserNoticeAt: now } },
    // No projection: FerretDB 1.x does not take one in findAndModify.
  ).lean<Pick<User, '_id' | 'email' | 'name' | 'locale'>>();
  const context = input.context ?? {};
  await deps.audit.record('signin.new_browser', input.userId, context, { notified: Boolean(claim) });
  if (!claim) return 'throttled';
  // "Firefox on Windows" in the email's own language (an unknown user agent: the email says so).
  const device = describeUserAgent(context.userAgent);
  const browser = device.browser || device.os ? deviceText(translator(recipientLocale(claim.locale, context.locale)), device) : undefined;
  deps.mailer.send('new_browser_signin', {
    to: claim.email, name: claim.name || undefined, locale: [claim.locale, context.locale],
    when: now, browser, ip: context.ip ?? undefined, link: deps.urls.sessions(),
  });
  return 'notified';
}
