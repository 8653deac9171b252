// Named leases: "only one instance does this, for this long" (periodic sweeps).
// One document per name in `leases`; taking it is one conditional upsert:
//
//   findOneAndUpdate({_id: name, until < now}, {$set: {owner, until: now + ms}}, {upsert: true})
//
// - no document yet: the upsert inserts it, and this instance holds the lease;
// - a document whose `until` has passed: it matches, and is taken over;
// - a document still held: it does not match, so the upsert tries to insert a
//   second document with the same _id, and the unique _id refuses it (E11000):
//   someone else holds the lease.
// Two instances racing at expiry: the database applies one update first; the
// other then fails the same way.
import type { Db } from 'mongodb';
import { isDuplicateKey } from '../db/duplicate-key.ts';

export const LEASES = 'leases';

export interface LeaseDoc {
  _id: string;
  owner: string;
  /** Until when the holder may assume nobody else does the work. */
  until: Date;
  /** When it was last taken. */
  takenAt: Date;
  /** How many times it has been taken (observability; tests count sweeps with it). */
  taken: number;
}

/** Takes the lease `name` for `ms` if nobody holds it; true when this caller now holds it. */
export async function takeLease(db: Db, name: string, owner: string, ms: number, now = new Date()): Promise<boolean> {
  try {
    await db.collection<LeaseDoc>(LEASES).findOneAndUpdate(
      { _id: name, until: { $lt: now } },
      { $set: { owner, until: new Date(now.getTime() + ms), takenAt: now }, $inc: { taken: 1 } },
      { upsert: true },
    );
    return true;
  } catch (error) {
    if (isDuplicateKey(error)) return false;
    throw error;
  }
}
