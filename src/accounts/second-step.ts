// Sign-ins whose password was right and whose second step is still owed: which
// account passed the password in which sign-in (the provider's interaction uid),
// kept in MongoDB so any instance can take the second step, and used once. The step
// is either a second factor the account has, or setting one up (an account that must
// sign in with one and has none yet).
import type { Db } from 'mongodb';

export const PENDING_SECOND_STEPS = 'sign_in_second_steps';

export type SecondStepKind = 'verify' | 'enrol';

export interface PendingSecondStep {
  _id: string; // the interaction's uid
  accountId: string;
  /** verify: a factor the account has; enrol: set one up first. Absent on records from before enrolment: verify. */
  kind?: SecondStepKind;
  expiresAt: Date;
}

const pending = (db: Db) => db.collection<PendingSecondStep>(PENDING_SECOND_STEPS);

/** Remembers that `accountId` passed the password in sign-in `uid`, until `expiresAt`. */
export async function awaitSecondStep(db: Db, uid: string, accountId: string, expiresAt: Date, kind: SecondStepKind = 'verify'): Promise<void> {
  await pending(db).replaceOne({ _id: uid }, { accountId, kind, expiresAt }, { upsert: true });
}

/** The account owing its second step in sign-in `uid`, if any. */
export function pendingSecondStep(db: Db, uid: string): Promise<PendingSecondStep | null> {
  return pending(db).findOne({ _id: uid, expiresAt: { $gt: new Date() } });
}

/** Ends the wait once the step succeeded: true for exactly one caller. */
export async function completeSecondStep(db: Db, uid: string): Promise<boolean> {
  return Boolean(await pending(db).findOneAndDelete({ _id: uid, expiresAt: { $gt: new Date() } }));
}
