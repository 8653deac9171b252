// One mongoose connection per process, to MongoDB (MONGODB_URI) or the embedded
// development database. Indexes are created explicitly at start, so a server that
// lacks a feature (FerretDB 1.x has no TTL indexes) degrades in one known place.
import mongoose, { type Connection } from 'mongoose';
import type { Collection, Db } from 'mongodb';
import type { Logger } from '../log.ts';
import { takeLease } from '../jobs/lease.ts';

export async function connect(uri: string, options: { dbName?: string } = {}): Promise<Connection> {
  const connection = mongoose.createConnection(uri, {
    dbName: options.dbName,
    autoIndex: false,
    autoCreate: true,
    // While the database is away, fail fast (a 503 page) instead of queueing requests.
    bufferCommands: false,
    serverSelectionTimeoutMS: 5_000,
    heartbeatFrequencyMS: 2_000,
    maxPoolSize: 20,
    // Every write is acknowledged by a majority of the replica set. A write only the
    // primary has seen is rolled back if the primary fails over before replicating it;
    // for a lease, a lockout counter or a used one-time link that would mean two
    // instances holding one job, lost failures, or a link that works twice. (MongoDB's
    // default is already majority, except in sets with an arbiter: saying it keeps it.)
    // wtimeoutMS bounds the wait when no majority can answer; the write then reports an
    // error (it may still have been applied on the primary).
    w: 'majority',
    wtimeoutMS: 10_000,
    // A write or read interrupted by a failover or a dropped connection is retried once
    // by the driver, safely (the server recognises a retried write). Both are the
    // driver's defaults; said here because the jobs and leases rely on them. The
    // embedded FerretDB is a standalone server, where the driver does not retry.
    retryWrites: true,
    retryReads: true,
  });
  await connection.asPromise();
  return connection;
}

const UNAVAILABLE = new Set([
  'MongoNetworkError', 'MongoNetworkTimeoutError', 'MongoServerSelectionError', 'MongooseServerSelectionError',
  'MongoNotConnectedError', 'MongoPoolClearedError', 'MongoTopologyClosedError',
]);

/** Whether an error means "the database cannot be reached right now" (rather than a bug). */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e = error as { name?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.name && UNAVAILABLE.has(e.name)) return true;
  }
  return false;
}

/** A TTL index where the server supports it; otherwise a plain index the sweeper uses. */
export async function ensureExpiryIndex(collection: Collection<any>, field: string, log: Logger): Promise<'ttl' | 'sweep'> {
  try {
    await collection.createIndex({ [field]: 1 }, { expireAfterSeconds: 0, name: `${field}_ttl` });
    return 'ttl';
  } catch (error) {
    log.debug({ collection: collection.collectionName, err: (error as Error).message }, 'TTL index not supported; expiry by sweep');
    await collection.createIndex({ [field]: 1 }, { name: `${field}_1` });
    return 'sweep';
  }
}

/**
 * Deletes documents whose expiry has passed: the TTL index's job where there is none.
 * With `lease`, one instance of all those sharing the database sweeps per period: each
 * looks four times a period, and the first to find the lease free (`leases`,
 * jobs/lease.ts) takes it for the period and sweeps; the others skip that period.
 */
export function startExpirySweep(
  targets: Array<{ collection: Collection<any>; field: string }>,
  everyMs: number,
  log: Logger,
  lease?: { db: Db; owner: string; name?: string },
): () => void {
  let sweeping = false;
  const sweep = async () => {
    if (sweeping) return;
    sweeping = true;
    try {
      const now = new Date();
      if (lease && !(await takeLease(lease.db, lease.name ?? 'expiry-sweep', lease.owner, everyMs, now))) return;
      for (const { collection, field } of targets) {
        try {
          await collection.deleteMany({ [field]: { $lt: now } });
        } catch (error) {
          log.warn({ collection: collection.collectionName, err: (error as Error).message }, 'expiry sweep failed');
        }
      }
      log.debug({ owner: lease?.owner, leaseAt: now.getTime() }, 'expiry sweep done');
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'expiry sweep lease not taken');
    } finally {
      sweeping = false;
    }
  };
  const timer = setInterval(sweep, lease ? Math.max(25, Math.floor(everyMs / 4)) : everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
