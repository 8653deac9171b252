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

export interface SignInDeps {
  users: UserModel;
  hasher: PasswordHasher;
  lockout: Lockout;
  audit: AuditTrail;
  deviceMaxFailures: number;
  /** Whether the account has a second factor to ask for after the password (accounts/factors.ts). */
  hasSecondFactor(userId: string): Promise<boolean>;
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
  const [user = null] = await deps.users.find({ emailNormalized: normalizeEmail(input.email) }).limit(2).lean<User[]>();
  // The device cookie only counts for the account it was issued for.
  const device = user && input.device?.userId === user._id ? input.device : null;
  // A trusted browser keeps its own budget: failures from elsewhere cannot lock it out.
  const subject = !user ? unknownEmailSubject(emailKey(input.email)) : device ? deviceSubject(device.deviceId) : accountSubject(user._id);

  const [lock, passwordMatches] = await Promise.all([
    deps.lockout.check(subject),
    user?.passwordHash ? deps.hasher.verify(user.passwordHash, input.password) : deps.hasher.verifyNothing(input.password),
  ]);

  const reason: SignInFailure | null = !user ? 'unknown_email'
    : !user.passwordHash ? 'no_password'
    : lock.locked ? 'locked'
    : !passwordMatches ? 'wrong_password'
    : user.status === 'disabled' ? 'disabled'
    : user.status !== 'active' ? 'unverified'
    : user.mustChangePassword && user.temporaryPasswordExpiresAt && user.temporaryPasswordExpiresAt <= new Date() ? 'temporary_password_expired'
    : null;

  if (reason) {
    const counted = await deps.lockout.recordFailure(subject, {
      userId: user?._id ?? null,
      maxFailures: device ? deps.deviceMaxFailures : undefined,
    });
    const userId = user?._id ?? null;
    await deps.audit.record('signin.failed', userId, input.context, { reason, trustedDevice: Boolean(device) });
    // An address with no account is locked too, and recorded alike: a write for one side
    // only would make the attempt that crosses the limit slower for a real account.
    if (counted.justLocked) {
      await deps.audit.record('account.locked', userId, { ...input.context, actor: 'system' }, {
        scope: !user ? 'unknown_email' : device ? 'device' : 'account', until: counted.lockedUntil?.toISOString() ?? null, lockNumber: counted.lockCount,
      });
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
