// "Download my data" (issue 14): everything Latchkey holds about one person, as one
// JSON document, described by the published schema docs/schemas/account-export.schema.json
// (the data-export test validates real exports against it).
//
// What it never holds: a password hash or anything derived from one, a factor's secret,
// a passkey's public key or credential id, a token, a cookie, an operator's account id
// (who acted is said as a kind: self, administrator, app, system), or an operator's
// private notes about the person.
import type { Db } from 'mongodb';
import { RateLimiterMongo, RateLimiterRes } from 'rate-limiter-flexible';
import type { User, UserModel } from '../db/models/user.ts';
import type { AuditTrail } from './audit.ts';
import { listConnectedApps } from './connected-apps.ts';
import { emailHistoryOf } from './email-change.ts';
import { factorsOf, type FactorDeps } from './factors.ts';
import { knownBrowsersOf } from './new-browser.ts';
import { listSessions } from './sessions.ts';
import { EXPORT_LIMIT_PREFIX, THROTTLE_COLLECTION } from './throttle.ts';

/** The export's format and version, as its first two fields say (the schema's `const`s). */
export const EXPORT_FORMAT = 'latchkey.account-export';
export const EXPORT_VERSION = 1;
/** How many of the person's own audit events it carries, newest first. */
export const EXPORT_EVENTS = 200;

export interface ExportDeps {
  db: Db;
  users: UserModel;
  audit: AuditTrail;
  factors: Pick<FactorDeps, 'factors' | 'passkeys' | 'trustedBrowsers'>;
  /** An app's name as people know it (the provider's client metadata); its id when unknown. */
  clientName(clientId: string): Promise<string>;
}

type Iso = string;
const iso = (date: Date | null | undefined): Iso | null => (date ? new Date(date).toISOString() : null);

export interface AccountExport {
  format: typeof EXPORT_FORMAT;
  version: typeof EXPORT_VERSION;
  exportedAt: Iso;
  profile: {
    id: string;
    email: string;
    emailVerified: boolean;
    name: string;
    locale: string | null;
    phoneNumber: string | null;
    phoneNumberVerified: boolean;
    address: { street_address?: string; locality?: string; region?: string; postal_code?: string; country?: string } | null;
    status: string;
    roles: string[];
    groups: string[];
    createdAt: Iso | null;
    updatedAt: Iso | null;
    hasPassword: boolean;
    passwordChangedAt: Iso | null;
    deletionScheduledFor: Iso | null;
    /** From a directory (SCIM): its id for the person and the attributes it sent. */
    directory: { externalId: string | null; attributes: Record<string, string> } | null;
  };
  termsAccepted: { version: string | null; at: Iso | null; clientId: string | null } | null;
  /** Every change of the account's address, oldest first. */
  emailHistory: Array<{
    from: string; to: string; status: 'pending' | 'not_confirmed' | 'confirmed' | 'undone'; by: 'self' | 'administrator';
    requestedAt: Iso; confirmedAt: Iso | null; undoneAt: Iso | null;
  }>;
  sessions: Array<{
    signedInAt: Iso | null; lastSeenAt: Iso | null; expiresAt: Iso | null; ip: string | null; userAgent: string | null;
    browser: string | null; os: string | null; apps: string[];
  }>;
  connectedApps: Array<{ clientId: string; name: string; scopes: string[]; grantedAt: Iso | null }>;
  /** Second factors and passkeys: kinds, names and dates, never a secret or a key. */
  factors: Array<{ kind: string; name: string | null; createdAt: Iso; lastUsedAt: Iso | null; remainingCodes: number | null }>;
  trustedBrowsers: Array<{ trustedAt: Iso; expiresAt: Iso }>;
  /** The browsers the account signed in from (for the new-browser notice): when first and last, never the device id or its hash. */
  knownBrowsers: Array<{ firstSeenAt: Iso; lastSeenAt: Iso }>;
  recentActivity: Array<{
    at: Iso; event: string; actor: 'self' | 'administrator' | 'app' | 'system'; ip: string | null; userAgent: string | null;
    details: Record<string, string | number | boolean | null>;
  }>;
}

/** Who acted, as a kind: an operator's account id is theirs, not the person's. */
function actorKind(actor: string): AccountExport['recentActivity'][number]['actor'] {
  if (actor === 'self') return 'self';
  if (actor.startsWith('admin:') || actor === 'cli') return 'administrator';
  if (actor.startsWith('client:') || actor === 'scim') return 'app';
  return 'system';
}

/** Everything held about the account `userId`, or null when there is no such account. */
export async function exportAccount(deps: ExportDeps, userId: string, now = new Date()): Promise<AccountExport | null> {
  const user = await deps.users.findById(userId, { passwordHash: 0, passwordHistory: 0, notes: 0, searchTerms: 0 }).lean<User & { createdAt?: Date; updatedAt?: Date; passwordHash?: never }>();
  if (!user) return null;
  const hasPassword = (await deps.users.countDocuments({ _id: userId, passwordHash: { $type: 'string' } })) > 0;
  const [emails, sessions, apps, factors, trusted, known, events] = await Promise.all([
    emailHistoryOf({ db: deps.db }, userId),
    listSessions({ db: deps.db }, userId),
    listConnectedApps(deps.db, userId),
    factorsOf(deps.factors, userId),
    deps.factors.trustedBrowsers.find({ userId, expiresAt: { $gt: now } }, { createdAt: 1, expiresAt: 1 }).sort({ createdAt: -1 }).lean(),
    knownBrowsersOf(deps.db, userId),
    deps.audit.list({ userId, limit: EXPORT_EVENTS }),
  ]);
  const scim = (user.scim ?? null) as Record<string, unknown> | null;
  const attributes = Object.fromEntries(Object.entries(scim ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  const terms = user.termsAccepted ?? null;
  const address = user.address ? Object.fromEntries(Object.entries(user.address).filter((entry) => typeof entry[1] === 'string')) : null;

  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exportedAt: now.toISOString(),
    profile: {
      id: user._id,
      email: user.email,
      emailVerified: Boolean(user.emailVerified),
      name: user.name ?? '',
      locale: user.locale ?? null,
      phoneNumber: user.phoneNumber ?? null,
      phoneNumberVerified: Boolean(user.phoneNumberVerified),
      address,
      status: user.status,
      roles: user.roles ?? [],
      groups: user.groups ?? [],
      createdAt: iso(user.createdAt),
      updatedAt: iso(user.updatedAt),
      hasPassword,
      passwordChangedAt: iso(user.passwordChangedAt),
      deletionScheduledFor: iso(user.deletionScheduledFor),
      directory: user.externalId || Object.keys(attributes).length ? { externalId: user.externalId ?? null, attributes } : null,
    },
    termsAccepted: terms ? { version: terms.version ?? null, at: iso(terms.at), clientId: terms.clientId ?? null } : null,
    emailHistory: emails.map((change) => ({
      from: change.from, to: change.to, status: change.status, by: change.by,
      requestedAt: iso(change.requestedAt)!, confirmedAt: iso(change.confirmedAt), undoneAt: iso(change.undoneAt),
    })),
    sessions: sessions.map((session) => ({
      signedInAt: iso(session.signedInAt), lastSeenAt: iso(session.lastSeenAt), expiresAt: iso(session.expiresAt),
      ip: session.ip, userAgent: session.userAgent, browser: session.device.browser, os: session.device.os,
      apps: [...new Set(session.apps.map((app) => app.clientId))],
    })),
    connectedApps: await Promise.all(apps.map(async (app) => ({
      clientId: app.clientId, name: await deps.clientName(app.clientId), scopes: app.scopes, grantedAt: iso(app.grantedAt),
    }))),
    factors: factors.map((factor) => ({
      kind: factor.kind, name: factor.name, createdAt: iso(factor.createdAt)!, lastUsedAt: iso(factor.lastUsedAt), remainingCodes: factor.remainingCodes,
    })),
    trustedBrowsers: trusted.map((browser) => ({ trustedAt: iso(browser.createdAt)!, expiresAt: iso(browser.expiresAt)! })),
    knownBrowsers: known.map((browser) => ({ firstSeenAt: iso(browser.firstSeenAt)!, lastSeenAt: iso(browser.lastSeenAt)! })),
    recentActivity: events.map((event) => ({
      at: iso(event.at)!, event: event.event, actor: actorKind(event.actor), ip: event.ip, userAgent: event.userAgent, details: event.details ?? {},
    })),
  };
}

/** Exports per account and hour (policy dataExport.perAccountPerHour), counted in MongoDB so every instance shares them. */
export class ExportLimit {
  readonly #limiter: RateLimiterMongo;

  constructor(db: Db, perHour: number) {
    this.#limiter = new RateLimiterMongo({
      storeClient: db, tableName: THROTTLE_COLLECTION, disableIndexesCreation: true, keyPrefix: EXPORT_LIMIT_PREFIX, points: perHour, duration: 3600,
    });
  }

  /** Counts one export of `userId`; refused with the wait in seconds when the hour's are spent. */
  async consume(userId: string): Promise<{ allowed: true } | { allowed: false; retryAfterSeconds: number }> {
    try {
      await this.#limiter.consume(userId);
      return { allowed: true };
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(error.msBeforeNext / 1000)) };
    }
  }
}
