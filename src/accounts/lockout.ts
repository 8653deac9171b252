// Failure counting and lockout. One counter document per subject (an account, a
// trusted browser, or an email with no account), changed only by single-document
// atomic updates, so it is shared by every instance, survives restarts, and loses
// no count under concurrency.
import type { LockoutModel, LockoutState } from '../db/models/lockout.ts';
import { isDuplicateKey } from '../db/duplicate-key.ts';

export interface LockoutPolicy {
  maxFailures: number;
  windowMs: number;
  lockMs: number;
  maxLockMs: number;
}

const ACCOUNT = 'account:';
export const accountSubject = (userId: string) => `${ACCOUNT}${userId}`;
export const deviceSubject = (deviceId: string) => `device:${deviceId}`;
export const unknownEmailSubject = (emailKey: string) => `email:${emailKey}`;

/** How long the counter remembers past lockouts, so repeat offenders get longer locks. */
const MEMORY_MS = 24 * 60 * 60_000;

export class Lockout {
  readonly #model: LockoutModel;
  readonly #policy: LockoutPolicy;

  constructor(model: LockoutModel, policy: LockoutPolicy) {
    this.#model = model;
    this.#policy = policy;
  }

  async isLocked(subject: string, now = new Date()): Promise<boolean> {
    return (await this.check(subject, now)).locked;
  }

  /** Whether the subject is locked, and whether it has a counter at all (so a success knows if there is anything to reset). */
  async check(subject: string, now = new Date()): Promise<{ locked: boolean; counting: boolean }> {
    const state = await this.#model.findById(subject, { lockedUntil: 1 }).lean<Pick<LockoutState, 'lockedUntil'>>();
    return { locked: Boolean(state?.lockedUntil && state.lockedUntil > now), counting: state !== null };
  }

  /** Which accounts are locked now: of `userIds`, or all of them (operators' searches). */
  async lockedAccounts(userIds?: string[], now = new Date()): Promise<Set<string>> {
    const subjects = userIds ? { $in: userIds.map(accountSubject) } : { $regex: `^${ACCOUNT}` };
    const locks = await this.#model.find({ _id: subjects, lockedUntil: { $gt: now } }, { _id: 1 }).lean<Array<Pick<LockoutState, '_id'>>>();
    return new Set(locks.map((lock) => lock._id.slice(ACCOUNT.length)));
  }

  async state(subject: string): Promise<LockoutState | null> {
    return this.#model.findById(subject).lean<LockoutState>();
  }

  lockLengthMs(priorLocks: number): number {
    return Math.min(this.#policy.lockMs * 2 ** Math.min(priorLocks, 30), this.#policy.maxLockMs);
  }

  /**
   * Counts one failure; locks the subject when the window holds maxFailures.
   * Returns the state after the failure.
   */
  async recordFailure(subject: string, options: { userId?: string | null; maxFailures?: number } = {}, now = new Date()): Promise<LockoutState & { justLocked: boolean }> {
    const max = options.maxFailures ?? this.#policy.maxFailures;
    const windowFloor = new Date(now.getTime() - this.#policy.windowMs);
    const expiresAt = new Date(now.getTime() + this.#policy.windowMs + this.#policy.maxLockMs + MEMORY_MS);
    const counted = { $inc: { totalFailures: 1 }, $set: { expiresAt } };

    let state: LockoutState | null = null;
    for (let attempt = 0; !state && attempt < 10; attempt++) {
      // 1. The usual case: a window is open, count into it.
      state = await this.#model.findOneAndUpdate(
        { _id: subject, windowStartedAt: { $gt: windowFloor } },
        { ...counted, $inc: { ...counted.$inc, failures: 1 } },
        { returnDocument: 'after' },
      ).lean<LockoutState>();
      if (state) break;
      // 2. The window lapsed (or a lock reset it): open a new one with this failure.
      state = await this.#model.findOneAndUpdate(
        { _id: subject, $or: [{ windowStartedAt: null }, { windowStartedAt: { $lte: windowFloor } }] },
        { ...counted, $set: { ...counted.$set, failures: 1, windowStartedAt: now } },
        { returnDocument: 'after' },
      ).lean<LockoutState>();
      if (state) break;
      // 3. No document yet. A concurrent insert may win; then go round again.
      try {
        state = (await this.#model.create({
          _id: subject, failures: 1, windowStartedAt: now, totalFailures: 1, userId: options.userId ?? null, expiresAt,
        })).toObject() as LockoutState;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
    }
    if (!state) throw new Error(`could not record a failure for ${subject}`);

    if (state.failures >= max && !(state.lockedUntil && state.lockedUntil > now)) {
      // Exactly one of the concurrent failures that crossed the threshold starts the lock.
      const lockedUntil = new Date(now.getTime() + this.lockLengthMs(state.lockCount));
      const locked = await this.#model.findOneAndUpdate(
        { _id: subject, failures: { $gte: max }, $or: [{ lockedUntil: null }, { lockedUntil: { $lte: now } }] },
        {
          $set: { lockedUntil, failures: 0, windowStartedAt: null, expiresAt: new Date(lockedUntil.getTime() + MEMORY_MS) },
          $inc: { lockCount: 1 },
        },
        { returnDocument: 'after' },
      ).lean<LockoutState>();
      if (locked) return { ...locked, justLocked: true };
    }
    return { ...state, justLocked: false };
  }

  /** After a success: the counter starts again from nothing. */
  async reset(subject: string): Promise<void> {
    await this.#model.deleteOne({ _id: subject });
  }

  /** Clears the account's lock and every trusted-browser counter of that user. */
  async clearUser(userId: string): Promise<void> {
    await this.#model.deleteMany({ $or: [{ _id: accountSubject(userId) }, { userId }] });
  }
}
