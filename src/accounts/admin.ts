// What the people who run an organisation's sign-in do to accounts. The console,
// the admin API and the CLI all call these; an admin never sees a password a
// person chose.
import { z } from 'zod';
import type { Db } from 'mongodb';
import type { User, UserModel } from '../db/models/user.ts';
import type { AuditTrail, RequestContext } from './audit.ts';
import { accountSubject, type Lockout } from './lockout.ts';
import type { OneTimeLinks } from './links.ts';
import type { PasswordHasher } from './passwords.ts';
import type { PasswordPolicy } from './password-policy.ts';
import type { Throttle } from './throttle.ts';
import type { PasswordFlowDeps } from './password-links.ts';
import { factorsOf, removeAllFactors, type FactorDeps, type FactorSummary } from './factors.ts';
import { revokeAccountAccess } from './revocation.ts';
import { setTemporaryPassword } from './set-password.ts';
import { inviteUser, sendPasswordReset, resendInvitation } from './password-links.ts';
import { AccountError } from './errors.ts';
import { createUser, searchTermsFor, unlockUser } from './users.ts';
import { listConnectedApps, type ConnectedApp } from './connected-apps.ts';
import type { PasswordIssue } from './password-policy.ts';

export const ADMIN_ROLE = 'admin';

/** What account administration uses. */
export interface AdminDeps {
  db: Db;
  users: UserModel;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  lockout: Lockout;
  throttle: Throttle;
  links: OneTimeLinks;
  audit: AuditTrail;
  passwords: PasswordFlowDeps;
  /** How long a temporary password works (policy links.temporaryPasswordDays). */
  temporaryPasswordMs: number;
  /** Second factors (factors.ts): shown without secrets, and reset by operators. */
  factors: FactorDeps;
}

export const ACCOUNT_STATUSES = ['active', 'invited', 'unverified', 'must_change', 'locked', 'disabled'] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

export interface AccountSummary {
  id: string;
  email: string;
  name: string;
  status: User['status'];
  mustChangePassword: boolean;
  locked: boolean;
  roles: string[];
  groups: string[];
  createdAt: Date | null;
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export const searchSchema = z.object({
  q: z.string().trim().max(100).optional().catch(undefined),
  status: z.enum(ACCOUNT_STATUSES).optional().catch(undefined),
  page: z.coerce.number().int().min(1).max(10_000).catch(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(200).catch(25).default(25),
});
export type AccountSearch = z.input<typeof searchSchema>;

/**
 * Search by words of the email or name (prefix match on an indexed array of
 * terms, so it stays fast at 100,000 accounts) and filter by status; paged.
 */
export async function findAccounts(services: AdminDeps, search: AccountSearch): Promise<{ items: AccountSummary[]; total: number; page: number; pageSize: number }> {
  const { q, status, page, pageSize } = searchSchema.parse(search);
  const filter: Record<string, unknown> = {};
  const words = (q ?? '').toLowerCase().split(/\s+/).filter(Boolean).slice(0, 5);
  if (words.length) filter.$and = words.map((word) => ({ searchTerms: { $regex: `^${escapeRegex(word)}` } }));
  if (status === 'must_change') filter.mustChangePassword = true;
  else if (status === 'locked') filter._id = { $in: [...(await services.lockout.lockedAccounts())] };
  else if (status) filter.status = status;

  const [docs, total] = await Promise.all([
    services.users.find(filter, { passwordHash: 0, passwordHistory: 0, searchTerms: 0 })
      .sort({ emailNormalized: 1 }).skip((page - 1) * pageSize).limit(pageSize).lean<User[]>(),
    services.users.countDocuments(filter),
  ]);
  const locked = await services.lockout.lockedAccounts(docs.map((d) => d._id));
  return { items: docs.map((u) => summarize(u, locked.has(u._id))), total, page, pageSize };
}

function summarize(user: User, locked: boolean): AccountSummary {
  return {
    id: user._id, email: user.email, name: user.name, status: user.status,
    mustChangePassword: user.mustChangePassword, locked, roles: user.roles ?? [], groups: user.groups ?? [],
    createdAt: (user as { createdAt?: Date }).createdAt ?? null,
  };
}

export interface AccountDetail extends AccountSummary {
  locale: string | null;
  phoneNumber: string | null;
  notes: string;
  emailVerified: boolean;
  hasPassword: boolean;
  passwordChangedAt: Date | null;
  lockout: { failures: number; totalFailures: number; lockedUntil: Date | null; lockCount: number } | null;
  apps: ConnectedApp[];
  /** Second factors: kinds and dates, never a secret. */
  factors: FactorSummary[];
  /** An operator required a second factor to be set up at the next sign-in (factor-admin.ts). */
  mustEnrolSecondFactor: boolean;
  /** The organisation's terms the person accepted last (accounts/terms.ts); null: none yet. */
  termsAccepted: { version: string; at: Date; clientId: string | null } | null;
}

export async function getAccount(services: AdminDeps, userId: string): Promise<AccountDetail | null> {
  const user = await services.users.findById(userId).lean<User>();
  if (!user) return null;
  const lock = await services.lockout.state(accountSubject(user._id));
  const locked = Boolean(lock?.lockedUntil && lock.lockedUntil > new Date());
  return {
    ...summarize(user, locked),
    locale: user.locale ?? null,
    phoneNumber: user.phoneNumber ?? null,
    notes: user.notes ?? '',
    emailVerified: user.emailVerified,
    hasPassword: Boolean(user.passwordHash),
    passwordChangedAt: user.passwordChangedAt ?? null,
    lockout: lock ? { failures: lock.failures, totalFailures: lock.totalFailures, lockedUntil: lock.lockedUntil, lockCount: lock.lockCount } : null,
    apps: await listConnectedApps(services.db, user._id),
    factors: await factorsOf(services.factors, user._id),
    mustEnrolSecondFactor: user.mustEnrolSecondFactor === true,
    termsAccepted: user.termsAccepted?.version && user.termsAccepted.at
      ? { version: user.termsAccepted.version, at: user.termsAccepted.at, clientId: user.termsAccepted.clientId ?? null } : null,
  };
}

/**
 * Removes every second factor of the account (a person who lost their phone and
 * their recovery codes): the person is told by email, each removal is audited, and
 * the next sign-in asks for the password only. Returns how many were removed.
 */
export async function adminResetFactors(services: AdminDeps, userId: string, context: RequestContext): Promise<number> {
  await mustFind(services, userId);
  return removeAllFactors(services.factors, userId, context);
}

async function mustFind(services: AdminDeps, userId: string): Promise<User> {
  const user = await services.users.findById(userId).lean<User>();
  if (!user) throw new AccountError('not_found', 'No such account.');
  return user;
}

const groupName = z.string().trim().min(1).max(64).regex(/^[\w .:@/-]+$/, 'Group names use letters, digits, spaces and . _ : @ / - only.');

export const accountEditSchema = z.strictObject({
  name: z.string().trim().max(200).optional(),
  notes: z.string().max(2000).optional(),
  groups: z.array(groupName).max(50).optional(),
});

export async function editAccount(services: AdminDeps, userId: string, input: unknown, context: RequestContext): Promise<{ ok: true } | { ok: false; errors: Record<string, string> }> {
  const parsed = accountEditSchema.safeParse(input);
  if (!parsed.success) {
    const errors: Record<string, string> = {};
    for (const issue of parsed.error.issues) errors[String(issue.path[0] ?? 'form')] ??= issue.message;
    return { ok: false, errors };
  }
  const user = await mustFind(services, userId);
  const set: Record<string, unknown> = {};
  if (!Object.keys(parsed.data).length) return { ok: true };
  if (parsed.data.name !== undefined) {
    set.name = parsed.data.name;
    set.searchTerms = searchTermsFor(user.email, parsed.data.name);
  }
  if (parsed.data.notes !== undefined) set.notes = parsed.data.notes;
  if (parsed.data.groups !== undefined) set.groups = [...new Set(parsed.data.groups)];
  await services.users.updateOne({ _id: userId }, { $set: set });
  await services.audit.record('account.updated', userId, context, { fields: Object.keys(set).filter((k) => k !== 'searchTerms').join(',') });
  return { ok: true };
}

/** Creates an account with a temporary password (changed at first sign-in) or as an invitation. */
export async function adminCreateAccount(
  services: AdminDeps,
  input: { email: string; name?: string; groups?: string[]; temporaryPassword?: string; invite?: boolean; clientId?: string | null },
  context: RequestContext,
): Promise<User> {
  if (Boolean(input.invite) === Boolean(input.temporaryPassword)) throw new AccountError('invalid_request', 'Give either a temporary password or an invitation.');
  const groups = input.groups === undefined ? undefined : z.array(groupName).max(50).parse(input.groups);
  let user: User;
  if (input.invite) {
    user = await inviteUser(services.passwords, { email: input.email, name: input.name, clientId: input.clientId ?? null }, context);
    if (groups?.length) await services.users.updateOne({ _id: user._id }, { $set: { groups: [...new Set(groups)] } });
  } else {
    // Stored already marked temporary: never, even briefly, an ordinary password.
    user = await createUser(services, {
      email: input.email, name: input.name, password: input.temporaryPassword, groups,
      temporaryUntil: new Date(Date.now() + services.temporaryPasswordMs),
    });
  }
  await services.audit.record('account.created', user._id, context, { invite: Boolean(input.invite) });
  return user;
}

export async function adminSetTemporaryPassword(services: AdminDeps, userId: string, password: string, context: RequestContext): Promise<PasswordIssue[]> {
  const user = await mustFind(services, userId);
  const issues = await setTemporaryPassword({ ...services.passwords, temporaryPasswordMs: services.temporaryPasswordMs }, user, password);
  if (!issues.length) {
    // The old password, and every session it opened, are over.
    await revokeAccountAccess(services.db, userId);
    await services.lockout.clearUser(userId);
    await services.audit.record('password.temporary_set', userId, context);
  }
  return issues;
}

/** A reset email (or, for an account that never chose a password, its invitation again). */
export async function adminSendReset(services: AdminDeps, userId: string, context: RequestContext): Promise<'reset' | 'invite'> {
  const user = await mustFind(services, userId);
  if (user.status === 'disabled') throw new AccountError('disabled', 'Enable the account first.');
  if (user.status === 'invited') {
    await resendInvitation(services.passwords, user, {}, context);
    return 'invite';
  }
  await sendPasswordReset(services.passwords, user, context);
  return 'reset';
}

/** Force sign-in: every grant, session, refresh and access token of the account ends now. */
export async function forceSignIn(services: AdminDeps, userId: string, context: RequestContext): Promise<{ sessions: number; grants: number }> {
  await mustFind(services, userId);
  const result = await revokeAccountAccess(services.db, userId);
  await services.audit.record('signout.everywhere', userId, context, { sessions: result.sessions, grants: result.grants });
  return result;
}

export async function setDisabled(services: AdminDeps, userId: string, disabled: boolean, context: RequestContext): Promise<void> {
  const user = await mustFind(services, userId);
  if (disabled) {
    if (user.status === 'disabled') return;
    // Remember what it was, so enabling restores an invited or unconfirmed account as such.
    await services.users.updateOne({ _id: userId }, { $set: { status: 'disabled', statusBeforeDisable: user.status } });
    await revokeAccountAccess(services.db, userId);
    await services.links.revokeAll(userId);
    await services.audit.record('account.disabled', userId, context);
  } else if (user.status === 'disabled') {
    const previous = (user as { statusBeforeDisable?: User['status'] | null }).statusBeforeDisable;
    const status = previous && previous !== 'disabled' ? previous : user.passwordHash ? 'active' : 'invited';
    // An operator enabling an account scheduled for deletion takes the deletion back too (accounts/deletion.ts).
    await services.users.updateOne({ _id: userId }, { $set: { status, statusBeforeDisable: null, deletionScheduledFor: null } });
    await services.audit.record('account.enabled', userId, context);
  }
}

export async function adminUnlock(services: AdminDeps, userId: string, context: RequestContext): Promise<void> {
  const user = await mustFind(services, userId);
  await unlockUser(services, user.email, context);
}

export async function setRole(services: AdminDeps, userId: string, role: string, present: boolean, context: RequestContext): Promise<void> {
  await mustFind(services, userId);
  await services.users.updateOne({ _id: userId }, present ? { $addToSet: { roles: role } } : { $pull: { roles: role } });
  await services.audit.record('account.updated', userId, context, { role, granted: present });
}

export const isAdmin = (user: Pick<User, 'roles' | 'status'> | null | undefined) => Boolean(user && user.status === 'active' && user.roles?.includes(ADMIN_ROLE));
