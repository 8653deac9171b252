// The audit trail: every security event, who did it, from where. Writes never
// fail the action they describe (a lost audit line is logged instead), and
// nothing secret is accepted: details are short scalars, checked here.
import { randomUUID } from 'node:crypto';
import type { AuditModel, AuditRecord } from '../db/models/audit.ts';
import type { Logger } from '../log.ts';

export const AUDIT_EVENTS = [
  'signin.succeeded', 'signin.failed', 'account.locked', 'account.unlocked',
  'password.reset_requested', 'password.reset', 'password.changed', 'password.temporary_set',
  'invite.sent', 'invite.accepted', 'signup.created', 'email.verified',
  'grant.revoked', 'signout.everywhere', 'account.created', 'account.updated', 'account.disabled', 'account.enabled',
  'profile.updated',
  // Second factors (accounts/factors.ts); a wrong code is a 'signin.failed' with during: 'second_factor'.
  'factor.added', 'factor.removed', 'factor.verified', 'recovery_codes.generated',
  // Provisioning (SCIM, accounts/deletion.ts); group events have no account (userId null).
  'account.deleted', 'group.created', 'group.updated', 'group.deleted',
  // An operator required the person to set up a second factor at the next sign-in (factor-admin.ts).
  'factor.enrolment_required',
  // "Don't ask again on this browser" given after a second step, and all of them ended by the person (trusted-browsers.ts).
  'browser.trusted', 'browsers.forgotten',
  // Moved in from the old password store at sign-in (legacy-migration.ts).
  'account.migrated',
  // One session ended (by the person or an operator), or all but the person's own (accounts/sessions.ts).
  'session.ended', 'sessions.ended_others',
  // Deletion with a grace period (accounts/deletion.ts): disabled and scheduled, then restored at a sign-in or erased (account.deleted).
  'account.deletion_scheduled', 'account.restored',
  // The organisation's terms accepted (accounts/terms.ts); a sign-in from a browser the account had not used (accounts/new-browser.ts).
  'terms.accepted', 'signin.new_browser',
  // Change of email (accounts/email-change.ts): a confirmation link sent to the new address, the
  // change done (confirmed, or an operator's override), and undone from the old address.
  'email.change_requested', 'email.change_cancelled', 'email.changed', 'email.change_undone',
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

/** Where a request came from; every surface fills what it knows. */
export interface RequestContext {
  ip?: string | null;
  userAgent?: string | null;
  /** Defaults to "self" (the person acting on their own account). */
  actor?: string;
  /** The language of the request (its page), for emails to an account without a locale of its own; not in the audit trail. */
  locale?: string | null;
}

const SECRET_KEYS = /pass|token|secret|cookie|hash/i;

export type AuditListener = (event: AuditEvent, details: AuditRecord['details']) => void;

/** A record as followers receive it: what was stored, without the request's IP and user agent. */
export interface FollowedRecord {
  id: string;
  at: Date;
  event: AuditEvent;
  userId: string | null;
  /** The account's own id when userId is a pseudonym (a deleted account's): for followers only, never stored. */
  accountId: string | null;
  actor: string;
  details: AuditRecord['details'];
}
/** Awaited after records are written (the webhook outbox, webhooks/outbox.ts). */
export type AuditFollower = (records: FollowedRecord[]) => Promise<void>;

export class AuditTrail {
  readonly #listeners: AuditListener[] = [];

  /** Observers of every recorded event (metrics count sign-ins and lockouts here). */
  onRecord(listener: AuditListener): void {
    this.#listeners.push(listener);
  }

  readonly #followers: AuditFollower[] = [];

  /**
   * Followers run right after each write, before record() returns, so what they
   * keep (webhook events) is stored as soon after the change as the record is.
   * Their failures are logged here and never fail the change.
   */
  follow(follower: AuditFollower): void {
    this.#followers.push(follower);
  }

  async #notify(records: FollowedRecord[]): Promise<void> {
    for (const follower of this.#followers) {
      try {
        await follower(records);
      } catch (error) {
        this.#log.error({ err: error, events: records.map((r) => r.event) }, 'audit follower failed');
      }
    }
  }

  readonly #model: AuditModel;
  readonly #retentionMs: number;
  readonly #log: Logger;

  constructor(model: AuditModel, retentionDays: number, log: Logger) {
    this.#model = model;
    this.#retentionMs = retentionDays * 86_400_000;
    this.#log = log;
  }

  /**
   * `options.accountId`: when `userId` is a pseudonym (accounts/deletion.ts), the account's
   * real id, handed to followers (a webhook names the account its receiver knows) and never stored.
   */
  async record(event: AuditEvent, userId: string | null, context: RequestContext = {}, details: AuditRecord['details'] = {}, options: { accountId?: string } = {}): Promise<void> {
    const safe: AuditRecord['details'] = {};
    for (const [key, value] of Object.entries(details)) {
      if (SECRET_KEYS.test(key)) throw new Error(`audit detail "${key}" looks secret; it must not be recorded`);
      safe[key] = typeof value === 'string' ? value.slice(0, 200) : value;
    }
    for (const listener of this.#listeners) listener(event, safe);
    const at = new Date();
    const id = randomUUID();
    const actor = context.actor ?? 'self';
    try {
      await this.#model.create({
        _id: id, at, event, userId, actor,
        ip: context.ip ?? null, userAgent: context.userAgent?.slice(0, 300) ?? null, details: safe,
        expiresAt: new Date(at.getTime() + this.#retentionMs),
      });
    } catch (error) {
      this.#log.error({ err: error, event, userId }, 'audit record lost');
    }
    if (this.#followers.length) await this.#notify([{ id, at, event, userId, accountId: options.accountId ?? userId, actor, details: safe }]);
  }

  /** Many events at once (bulk imports), one database round trip. */
  async recordMany(entries: Array<{ event: AuditEvent; userId: string | null; context?: RequestContext; details?: AuditRecord['details'] }>): Promise<void> {
    if (!entries.length) return;
    const at = new Date();
    const expiresAt = new Date(at.getTime() + this.#retentionMs);
    const records = entries.map(({ event, userId, context = {}, details = {} }) => ({ id: randomUUID(), at, event, userId, accountId: userId, actor: context.actor ?? 'self', context, details }));
    try {
      await this.#model.collection.insertMany(records.map(({ id, event, userId, actor, context, details }) => ({
        _id: id as never, at, event, userId, actor,
        ip: context.ip ?? null, userAgent: context.userAgent ?? null, details, expiresAt,
      })), { ordered: false });
    } catch (error) {
      this.#log.error({ err: error, count: entries.length }, 'audit records lost');
    }
    if (this.#followers.length) await this.#notify(records.map(({ context: _context, ...record }) => record));
  }

  /** Newest first, optionally for one account, some events, and a time range; paged by `before`. */
  async list(filter: { userId?: string; events?: string[]; since?: Date; until?: Date; limit?: number } = {}): Promise<AuditRecord[]> {
    const query: Record<string, unknown> = {};
    if (filter.userId) query.userId = filter.userId;
    if (filter.events?.length) query.event = { $in: filter.events };
    if (filter.since || filter.until) query.at = { ...(filter.since ? { $gte: filter.since } : {}), ...(filter.until ? { $lt: filter.until } : {}) };
    return this.#model.find(query).sort({ at: -1 }).limit(Math.min(filter.limit ?? 50, 500)).lean<AuditRecord[]>();
  }
}
