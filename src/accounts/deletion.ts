// Deleting an account for good: the person can no longer sign in, every session,
// grant and token ends, and everything stored about them goes, except the audit
// trail, whose events stay (what happened, when, from where) under a pseudonymous
// id instead of the account's. Every surface (the portal, console, admin API, CLI,
// SCIM) deletes through here.
//
// With a grace period (policy accountDeletion.graceDays) a deletion is scheduled
// instead: the account is disabled at once (every session, grant and token ends),
// marked with the time it goes, and erased then by whichever instance holds the
// `account-deletions` lease (startScheduledDeletions); signing in with the right
// password before that offers to restore it (restoreAccount).
import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import type { Logger } from '../log.ts';
import type { Mailer } from '../mail/mailer.ts';
import { takeLease } from '../jobs/lease.ts';
import type { User, UserModel } from '../db/models/user.ts';
import { GROUP_COLLECTION } from '../db/models/group.ts';
import { TRUSTED_BROWSERS } from '../db/models/trusted-browser.ts';
import { KNOWN_BROWSERS } from './new-browser.ts';
import { SESSION_DEVICES } from '../db/models/session-device.ts';
import type { AuditTrail, RequestContext } from './audit.ts';
import { ADMIN_ROLE, isAdmin } from './admin.ts';
import { AccountError } from './errors.ts';
import { PORTAL_SESSIONS, revokeAccountAccess } from './revocation.ts';
import { PENDING_SECOND_STEPS } from './second-step.ts';
import { accountSubject } from './lockout.ts';
import { EXPORT_LIMIT_PREFIX, THROTTLE_COLLECTION } from './throttle.ts';

/** The audit trail's collection (db/models/audit.ts). */
const AUDIT_COLLECTION = 'audit_events';

export interface DeletionDeps {
  db: Db;
  users: UserModel;
  audit: AuditTrail;
}

/** Telling the person: the confirmation goes to the address the account had, in their language. */
export interface DeletionNotice {
  mailer: Pick<Mailer, 'send'>;
  /** Where signing in starts (the account portal): the way to restore a scheduled deletion. */
  signInLink: string;
  /** Where a new account is made with the address that is free again; null when sign-up is off. */
  signUpLink: string | null;
}

/** The notice of a server or CLI: its mailer, and the account portal under its issuer (where a sign-in starts). */
export function deletionNotice(services: { mailer: Pick<Mailer, 'send'>; config: { issuer: string; policy: { signup: { enabled: boolean } } } }): DeletionNotice {
  const { issuer, policy } = services.config;
  return { mailer: services.mailer, signInLink: `${issuer}/account`, signUpLink: policy.signup.enabled ? `${issuer}/signup` : null };
}

/** A sign-in that found the right password of an account scheduled for deletion, waiting for "Restore it" (web/interactions/restore.ts). */
export const PENDING_RESTORES = 'sign_in_restores';

/**
 * Collections holding records of one account, by the field naming it. A collection
 * that does not exist (a feature not in use) deletes nothing. Lockout counters of
 * the account and of its trusted browsers carry userId; the account's own counter
 * is keyed by its subject (below).
 */
const ACCOUNT_RECORDS: ReadonlyArray<{ collection: string; field: string }> = [
  { collection: 'factors', field: 'userId' },
  { collection: 'factor_enrolments', field: 'userId' },
  { collection: 'passkeys', field: 'userId' },
  { collection: TRUSTED_BROWSERS, field: 'userId' },
  { collection: 'webauthn_challenges', field: 'userId' },
  { collection: 'one_time_links', field: 'userId' },
  { collection: 'lockouts', field: 'userId' },
  { collection: PORTAL_SESSIONS, field: 'accountId' },
  { collection: KNOWN_BROWSERS, field: 'userId' },
  { collection: PENDING_SECOND_STEPS, field: 'accountId' },
  { collection: SESSION_DEVICES, field: 'accountId' },
  { collection: PENDING_RESTORES, field: 'accountId' },
  { collection: 'email_changes', field: 'userId' },
];

/** What the audit trail says instead of the account's id, once it is deleted: random, so it leads nowhere. */
export const pseudonymFor = () => `deleted:${randomUUID()}`;

export interface DeletedAccount {
  /** The id the account's audit events carry from now on. */
  pseudonym: string;
  sessions: number;
  grants: number;
  /** Who to tell, as the account said before it went (nothing is left to look up afterwards). */
  contact: Contact;
}

type Contact = Pick<User, 'email' | 'name' | 'locale'>;

/**
 * Deletes the account `userId`. Refuses (AccountError) an unknown account, and the
 * last active administrator, so an organisation is never left without one. `onlyIf`:
 * further conditions on the account document, checked in the same atomic step that
 * deletes it (the scheduled erasure: still scheduled, not restored meanwhile).
 */
export async function deleteAccount(deps: DeletionDeps, userId: string, context: RequestContext, onlyIf: Record<string, unknown> = {}): Promise<DeletedAccount> {
  const user = await deps.users.findById(userId, { roles: 1, status: 1 }).lean<Pick<User, '_id' | 'roles' | 'status'>>();
  if (!user) throw new AccountError('not_found', 'No such account.');
  if (isAdmin(user)) {
    // Step down first, then count the others: of two concurrent deletions of the last two
    // administrators, at least one finds none left and takes its role back (no transactions needed).
    await deps.users.updateOne({ _id: userId }, { $pull: { roles: ADMIN_ROLE } });
    const others = await deps.users.countDocuments({ roles: ADMIN_ROLE, status: 'active' });
    if (others === 0) {
      await deps.users.updateOne({ _id: userId }, { $addToSet: { roles: ADMIN_ROLE } });
      throw new AccountError('last_admin', 'This is the last active administrator: give another account the admin role first.');
    }
  }

  // The account goes first: from here on no sign-in can find it and nothing can be issued to it.
  // Exactly one of concurrent deletions (two instances, two surfaces) gets the document back.
  // (No projection: FerretDB's findAndModify does not take one.)
  const contact = await deps.users.findOneAndDelete({ _id: userId, ...onlyIf }).lean<Contact>();
  if (!contact) throw new AccountError('not_found', 'No such account.');
  const access = await revokeAccountAccess(deps.db, userId);
  for (const { collection, field } of ACCOUNT_RECORDS) await deps.db.collection(collection).deleteMany({ [field]: userId });
  await deps.db.collection<{ _id: string }>('lockouts').deleteOne({ _id: accountSubject(userId) });
  // Its "Download my data" counter (accounts/export.ts) names it too.
  await deps.db.collection(THROTTLE_COLLECTION).deleteMany({ key: `${EXPORT_LIMIT_PREFIX}:${userId}` });
  // Group membership (SCIM groups): the account's own `groups` array went with it.
  await deps.db.collection(GROUP_COLLECTION).updateMany({ members: userId }, { $pull: { members: userId } as never, $inc: { version: 1 } });

  // The trail keeps its events, about the account and done by it, under the pseudonym.
  const pseudonym = pseudonymFor();
  const events = deps.db.collection<{ userId: string | null; actor: string }>(AUDIT_COLLECTION);
  await events.updateMany({ userId }, { $set: { userId: pseudonym } });
  await events.updateMany({ actor: `admin:${userId}` }, { $set: { actor: `admin:${pseudonym}` } });
  // The real id goes to followers (webhooks tell receivers which account went), never into the trail.
  await deps.audit.record('account.deleted', pseudonym, context, { sessions: access.sessions, grants: access.grants }, { accountId: userId });
  return { pseudonym, ...access, contact: { email: contact.email, name: contact.name, locale: contact.locale } };
}

/** Deletes the account and emails the address it had (in its language) that it is gone. */
export async function deleteAccountAndTell(deps: DeletionDeps, notice: DeletionNotice, userId: string, context: RequestContext, onlyIf: Record<string, unknown> = {}): Promise<DeletedAccount> {
  const deleted = await deleteAccount(deps, userId, context, onlyIf);
  const { email, name, locale } = deleted.contact;
  notice.mailer.send('account_deleted', {
    to: email, name: name || undefined, locale: [locale, context.locale], when: new Date(), ...(notice.signUpLink ? { link: notice.signUpLink } : {}),
  });
  return deleted;
}

export interface DeletionRequest {
  /** 0: erase now; otherwise disable now and erase this much later. */
  graceMs: number;
}

export type DeletionOutcome = { deleted: true } | { deleted: false; scheduledFor: Date };

/**
 * What every surface calls: erases the account now (no grace period), or disables it now
 * and schedules its erasure. Either way its sessions, grants and tokens end at once and the
 * person is emailed. Refuses the last administrator (AccountError last_admin).
 */
export async function requestAccountDeletion(deps: DeletionDeps, notice: DeletionNotice, userId: string, request: DeletionRequest, context: RequestContext): Promise<DeletionOutcome> {
  if (request.graceMs <= 0) {
    await deleteAccountAndTell(deps, notice, userId, context);
    return { deleted: true };
  }
  return { deleted: false, scheduledFor: await scheduleAccountDeletion(deps, notice, userId, request.graceMs, context) };
}

/**
 * Disables the account now and marks it for erasure `graceMs` from now (an account already
 * scheduled keeps its date). Its sessions, grants, tokens, trusted browsers and pending
 * links end at once; the person is emailed the date and how to restore.
 */
export async function scheduleAccountDeletion(deps: DeletionDeps, notice: DeletionNotice, userId: string, graceMs: number, context: RequestContext): Promise<Date> {
  const user = await deps.users.findById(userId, { email: 1, name: 1, locale: 1, status: 1, roles: 1, deletionScheduledFor: 1 })
    .lean<Pick<User, '_id' | 'email' | 'name' | 'locale' | 'status' | 'roles' | 'deletionScheduledFor'>>();
  if (!user) throw new AccountError('not_found', 'No such account.');
  if (user.deletionScheduledFor) return user.deletionScheduledFor;
  const scheduledFor = new Date(Date.now() + graceMs);
  // Conditional on the status read: a concurrent change (an operator disabling it) is not overwritten.
  const { modifiedCount } = await deps.users.updateOne(
    { _id: userId, status: user.status, deletionScheduledFor: null },
    { $set: { status: 'disabled', statusBeforeDisable: user.status === 'disabled' ? null : user.status, deletionScheduledFor: scheduledFor } },
  );
  if (!modifiedCount) {
    const again = await deps.users.findById(userId, { deletionScheduledFor: 1 }).lean<Pick<User, 'deletionScheduledFor'>>();
    if (again?.deletionScheduledFor) return again.deletionScheduledFor;
    throw new AccountError('not_found', 'No such account.');
  }
  // Disabled, an administrator no longer counts: if none is left active, take it back (as deleteAccount does).
  if (isAdmin(user) && (await deps.users.countDocuments({ roles: ADMIN_ROLE, status: 'active' })) === 0) {
    await deps.users.updateOne({ _id: userId, deletionScheduledFor: scheduledFor }, { $set: { status: user.status, statusBeforeDisable: null, deletionScheduledFor: null } });
    throw new AccountError('last_admin', 'This is the last active administrator: give another account the admin role first.');
  }
  const access = await revokeAccountAccess(deps.db, userId);
  await deps.db.collection('one_time_links').deleteMany({ userId });
  await deps.audit.record('account.deletion_scheduled', userId, context, { on: scheduledFor.toISOString(), sessions: access.sessions, grants: access.grants });
  notice.mailer.send('account_deletion_scheduled', {
    to: user.email, name: user.name || undefined, locale: [user.locale, context.locale], when: scheduledFor, link: notice.signInLink,
  });
  return scheduledFor;
}

/** When the account is to be erased, if it is scheduled for deletion. */
export async function deletionScheduledFor(deps: Pick<DeletionDeps, 'users'>, userId: string): Promise<Date | null> {
  const user = await deps.users.findById(userId, { deletionScheduledFor: 1, status: 1 }).lean<Pick<User, 'deletionScheduledFor' | 'status'>>();
  return user?.status === 'disabled' && user.deletionScheduledFor ? user.deletionScheduledFor : null;
}

/**
 * Takes back a scheduled deletion before it happens: the account is enabled as it was.
 * False when there is nothing to restore (never scheduled, or erased already).
 */
export async function restoreAccount(deps: DeletionDeps, userId: string, context: RequestContext): Promise<boolean> {
  const user = await deps.users.findOne({ _id: userId, status: 'disabled', deletionScheduledFor: { $gt: new Date() } }, { statusBeforeDisable: 1 })
    .lean<Pick<User, '_id' | 'statusBeforeDisable'>>();
  if (!user) return false;
  const previous = user.statusBeforeDisable as User['status'] | null;
  const status = previous && previous !== 'disabled' ? previous : 'active';
  // Conditional: the erasure, claiming the same account at the same moment, and this cannot both win.
  const { modifiedCount } = await deps.users.updateOne(
    { _id: userId, status: 'disabled', deletionScheduledFor: { $gt: new Date() } },
    { $set: { status, statusBeforeDisable: null, deletionScheduledFor: null } },
  );
  if (!modifiedCount) return false;
  await deps.audit.record('account.restored', userId, context);
  return true;
}

/**
 * A sign-in that found the right password of a scheduled account waits here for the
 * person's "Restore it" (keyed by the sign-in's interaction uid, which only that browser holds).
 */
export async function awaitRestore(db: Db, uid: string, accountId: string, expiresAt: Date): Promise<void> {
  await db.collection<{ _id: string; accountId: string; expiresAt: Date }>(PENDING_RESTORES)
    .replaceOne({ _id: uid }, { accountId, expiresAt }, { upsert: true });
}

/** The account a sign-in is waiting to restore, if any. */
export async function pendingRestore(db: Db, uid: string): Promise<string | null> {
  const found = await db.collection<{ _id: string; accountId: string; expiresAt: Date }>(PENDING_RESTORES).findOne({ _id: uid, expiresAt: { $gt: new Date() } });
  return found?.accountId ?? null;
}

/** Takes the waiting restore of this sign-in (once: a second "Restore it" finds nothing). */
export async function claimRestore(db: Db, uid: string): Promise<string | null> {
  const found = await db.collection<{ _id: string; accountId: string; expiresAt: Date }>(PENDING_RESTORES).findOneAndDelete({ _id: uid, expiresAt: { $gt: new Date() } });
  return found?.accountId ?? null;
}

/**
 * Erases every account whose grace period has ended, emailing each the confirmation. Two
 * instances running this at once erase each account once: findOneAndDelete in deleteAccount
 * gives it to one of them, and the other skips it.
 */
export async function eraseDueAccounts(deps: DeletionDeps, notice: DeletionNotice, now = new Date(), batch = 100): Promise<number> {
  const due = await deps.users.find({ status: 'disabled', deletionScheduledFor: { $ne: null, $lte: now } }, { _id: 1 }).limit(batch).lean<Array<Pick<User, '_id'>>>();
  let erased = 0;
  for (const { _id } of due) {
    try {
      await deleteAccountAndTell(deps, notice, _id, { actor: 'system' }, { status: 'disabled', deletionScheduledFor: { $ne: null, $lte: now } });
      erased += 1;
    } catch (error) {
      if (!(error instanceof AccountError && error.code === 'not_found')) throw error;
    }
  }
  return erased;
}

/**
 * The periodic erasure: each instance looks four times a period, and the one that takes the
 * `account-deletions` lease for the period (jobs/lease.ts) erases what is due. Returns its stop.
 */
export function startScheduledDeletions(deps: DeletionDeps, notice: DeletionNotice, options: { everyMs: number; owner: string; log: Logger }): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const now = new Date();
      if (!(await takeLease(deps.db, 'account-deletions', options.owner, options.everyMs, now))) return;
      const erased = await eraseDueAccounts(deps, notice, now);
      if (erased) options.log.info({ erased }, 'scheduled account deletions done');
    } catch (error) {
      options.log.warn({ err: (error as Error).message }, 'scheduled account deletions failed; the next period tries again');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(tick, Math.max(25, Math.floor(options.everyMs / 4)));
  timer.unref();
  return () => clearInterval(timer);
}
