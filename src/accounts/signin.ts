// Signing in with email and password: the one place that decides. Every surface
// (hosted page, API) calls authenticate(); none repeats its rules.
//
// Order matters for enumeration: whatever the failure, exactly one argon2
// verification and one counter update happen, so an unknown email, a locked
// account and a wrong password cost the same and read the same to the caller.
import { randomUUID } from 'node:crypto';
import { emailKey, normalizeEmail } from './email.ts';
import { accountSubject, deviceSubject, unknownEmailSubject, type Lockout } from './lockout.ts';
import type { PasswordHasher } from './passwords.ts';
import type { UserModel, User } from '../db/models/user.ts';
import type { AuditTrail, RequestContext } from './audit.ts';
import { migrateFromLegacy, type LegacyAnswer, type LegacySource } from './legacy-migration.ts';
import { tellOwnerOfLock, type LockNoticeDeps } from './lock-notice.ts';

/** A browser that signed in to this account before (OWASP "device cookie"). */
export interface TrustedDevice {
  userId: string;
  deviceId: string;
}

export type SignInFailure = 'unknown_email' | 'no_password' | 'unverified' | 'disabled' | 'locked' | 'wrong_password' | 'temporary_password_expired';

export type SignInResult =
  /** mustChangePassword: the right temporary password; no token until a new one is chosen. */
  /**
   * secondFactor: the password was right and the account has a second factor, whose step
   * comes next; until it succeeds nothing is cleared or recorded as a sign-in.
   */
  | { ok: true; user: User; device: TrustedDevice; mustChangePassword: boolean; secondFactor: boolean }
  | { ok: false; reason: SignInFailure; userId: string | null };

/** The account a concurrent migration stored, if `input.password` is its password. */
async function verifiedAgain(deps: SignInDeps, input: { email: string; password: string }): Promise<User | null> {
  const again = await deps.users.findOne({ emailNormalized: normalizeEmail(input.email) }).lean<User>();
  return again?.passwordHash && (await deps.hasher.verify(again.passwordHash, input.password)) ? again : null;
}

export interface SignInDeps {
  users: UserModel;
  hasher: PasswordHasher;
  lockout: Lockout;
  audit: AuditTrail;
  deviceMaxFailures: number;
  /** Whether the account has a second factor to ask for after the password (accounts/factors.ts). */
  hasSecondFactor(userId: string): Promise<boolean>;
  /** The old password store to move people in from (accounts/legacy-migration.ts); absent: off. */
  legacy?: LegacySource | null;
  /** Emails the owner when failed sign-ins lock the account (accounts/lock-notice.ts); absent: none. */
  lockNotice?: LockNoticeDeps;
}

export async function authenticate(
  deps: SignInDeps,
  input: {
    email: string; password: string; device?: TrustedDevice | null; context?: RequestContext;
    /**
     * Whether this sign-in may skip the account's second step (a browser the person
     * trusts, where nothing requires two-step: accounts/trusted-browsers.ts). Asked only
     * after the right password of an account with a second factor.
     */
    secondStepWaived?: (user: User, device: TrustedDevice | null) => Promise<boolean>;
  },
): Promise<SignInResult> {
  // limit(2), not findOne: should the lookup ever scan (a store without the index), it
  // then reads the whole collection whether or not the address exists, rather than
  // stopping early at a match and telling the two apart by time.
  const [found = null] = await deps.users.find({ emailNormalized: normalizeEmail(input.email) }).limit(2).lean<User[]>();
  // The device cookie only counts for the account it was issued for.
  const device = found && input.device?.userId === found._id ? input.device : null;
  // A trusted browser keeps its own budget: failures from elsewhere cannot lock it out.
  const subject = !found ? unknownEmailSubject(emailKey(input.email)) : device ? deviceSubject(device.deviceId) : accountSubject(found._id);

  const [lock, passwordMatches] = await Promise.all([
    deps.lockout.check(subject),
    found?.passwordHash ? deps.hasher.verify(found.passwordHash, input.password) : deps.hasher.verifyNothing(input.password),
  ]);

  let user = found;
  let reason: SignInFailure | null = !found ? 'unknown_email'
    : !found.passwordHash ? 'no_password'
    : lock.locked ? 'locked'
    : !passwordMatches ? 'wrong_password'
    : found.status === 'disabled' ? 'disabled'
    : found.status !== 'active' ? 'unverified'
    : found.mustChangePassword && found.temporaryPasswordExpiresAt && found.temporaryPasswordExpiresAt <= new Date() ? 'temporary_password_expired'
    : null;

  // No account here, or one whose password the old system still holds: ask the old system,
  // once, and only after the throttles (the caller) and the lockout let the attempt through.
  let legacy: LegacyAnswer | null = null;
  const legacyCandidate = reason === 'unknown_email' || (reason === 'no_password' && found!.passwordHeldByLegacy === true && found!.status !== 'disabled');
  if (deps.legacy && legacyCandidate && !lock.locked) {
    legacy = await deps.legacy.verify(input.email, input.password);
    if (legacy.ok) {
      const migrated = await migrateFromLegacy(deps, { email: input.email, password: input.password, existing: found, profile: legacy.profile })
        // Another sign-in migrated this person at the same moment: check the password against what it stored.
        ?? (await verifiedAgain(deps, input));
      if (migrated) {
        user = migrated;
        reason = null;
        // A new account is created like any other (webhook account.created); a pre-registered one gets its password.
        await deps.audit.record(found ? 'account.migrated' : 'account.created', migrated._id, { ...input.context, actor: 'system' }, { via: 'legacy_migration' });
      }
    }
  }

  if (reason) {
    const counted = await deps.lockout.recordFailure(subject, {
      userId: user?._id ?? null,
      maxFailures: device ? deps.deviceMaxFailures : undefined,
    });
    const userId = user?._id ?? null;
    await deps.audit.record('signin.failed', userId, input.context, {
      reason, trustedDevice: Boolean(device), ...(legacy && !legacy.ok ? { legacy: legacy.reason } : {}),
    });
    // An address with no account is locked too, and recorded alike: a write for one side
    // only would make the attempt that crosses the limit slower for a real account.
    if (counted.justLocked) {
      await deps.audit.record('account.locked', userId, { ...input.context, actor: 'system' }, {
        scope: !user ? 'unknown_email' : device ? 'device' : 'account', until: counted.lockedUntil?.toISOString() ?? null, lockNumber: counted.lockCount,
      });
      // The account itself is locked (not one trusted browser's budget): its owner hears of it, once.
      if (user && !device && deps.lockNotice) tellOwnerOfLock(deps.lockNotice, user, counted.lockedUntil ?? null, input.context);
    }
    return { ok: false, reason, userId };
  }

  // With a second factor the sign-in is not done: the counter stays until that step
  // succeeds, or knowing the password would reset the guesses at the codes.
  const hasFactor = await deps.hasSecondFactor(user!._id);
  const waived = hasFactor && input.secondStepWaived ? await input.secondStepWaived(user!, device) : false;
  const secondFactor = hasFactor && !waived;
  if (!secondFactor) {
    // Most sign-ins have no failures to forget: skip the write then. (A failure counted
    // while this one ran stays counted; the next success clears it.)
    if (lock.counting) await deps.lockout.reset(subject);
    await deps.audit.record('signin.succeeded', user!._id, input.context, {
      trustedDevice: Boolean(device), mustChange: user!.mustChangePassword, ...(waived ? { secondStepSkipped: 'trusted_browser' } : {}),
    });
  }
  if (deps.hasher.needsRehash(user!.passwordHash!)) {
    // Parameters changed since this hash was made: upgrade it while we hold the password.
    const passwordHash = await deps.hasher.hash(input.password);
    await deps.users.updateOne({ _id: user!._id, passwordHash: user!.passwordHash }, { $set: { passwordHash } });
  }
  return { ok: true, user: user!, device: device ?? { userId: user!._id, deviceId: randomUUID() }, mustChangePassword: user!.mustChangePassword, secondFactor };
}
