// Deleting an account for good: the person can no longer sign in, every session,
// grant and token ends, and everything stored about them goes, except the audit
// trail, whose events stay (what happened, when, from where) under a pseudonymous
// id instead of the account's. Any surface (SCIM today; console, API, CLI and
// self-service later) deletes through here.
import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import type { User, UserModel } from '../db/models/user.ts';
import { GROUP_COLLECTION } from '../db/models/group.ts';
import { TRUSTED_BROWSERS } from '../db/models/trusted-browser.ts';
import { SESSION_DEVICES } from '../db/models/session-device.ts';
import type { AuditTrail, RequestContext } from './audit.ts';
import { ADMIN_ROLE, isAdmin } from './admin.ts';
import { AccountError } from './errors.ts';
import { PORTAL_SESSIONS, revokeAccountAccess } from './revocation.ts';
import { PENDING_SECOND_STEPS } from './second-step.ts';
import { accountSubject } from './lockout.ts';

/** The audit trail's collection (db/models/audit.ts). */
const AUDIT_COLLECTION = 'audit_events';

export interface DeletionDeps {
  db: Db;
  users: UserModel;
  audit: AuditTrail;
}

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
  { collection: PENDING_SECOND_STEPS, field: 'accountId' },
  { collection: SESSION_DEVICES, field: 'accountId' },
];

/** What the audit trail says instead of the account's id, once it is deleted: random, so it leads nowhere. */
export const pseudonymFor = () => `deleted:${randomUUID()}`;

export interface DeletedAccount {
  /** The id the account's audit events carry from now on. */
  pseudonym: string;
  sessions: number;
  grants: number;
}

/**
 * Deletes the account `userId`. Refuses (AccountError) an unknown account, and the
 * last active administrator, so an organisation is never left without one.
 */
export async function deleteAccount(deps: DeletionDeps, userId: string, context: RequestContext): Promise<DeletedAccount> {
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
  const { deletedCount } = await deps.users.deleteOne({ _id: userId });
  if (!deletedCount) throw new AccountError('not_found', 'No such account.');
  const access = await revokeAccountAccess(deps.db, userId);
  for (const { collection, field } of ACCOUNT_RECORDS) await deps.db.collection(collection).deleteMany({ [field]: userId });
  await deps.db.collection<{ _id: string }>('lockouts').deleteOne({ _id: accountSubject(userId) });
  // Group membership (SCIM groups): the account's own `groups` array went with it.
  await deps.db.collection(GROUP_COLLECTION).updateMany({ members: userId }, { $pull: { members: userId } as never, $inc: { version: 1 } });

  // The trail keeps its events, about the account and done by it, under the pseudonym.
  const pseudonym = pseudonymFor();
  const events = deps.db.collection<{ userId: string | null; actor: string }>(AUDIT_COLLECTION);
  await events.updateMany({ userId }, { $set: { userId: pseudonym } });
  await events.updateMany({ actor: `admin:${userId}` }, { $set: { actor: `admin:${pseudonym}` } });
  // The real id goes to followers (webhooks tell receivers which account went), never into the trail.
  await deps.audit.record('account.deleted', pseudonym, context, { sessions: access.sessions, grants: access.grants }, { accountId: userId });
  return { pseudonym, ...access };
}
