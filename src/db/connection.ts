// One mongoose connection per process, to MongoDB (MONGODB_URI) or the embedded
// development database. Indexes are created explicitly at start, so a server that
// lacks a feature (FerretDB 1.x has no TTL indexes) degrades in one known place.
import mongoose, { type Connection } from 'mongoose';
import type { Collection } from 'mongodb';
import type { Logger } from '../log.ts';

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

/** Deletes documents whose expiry has passed: the TTL index's job where there is none. */
export function startExpirySweep(targets: Array<{ collection: Collection<any>; field: string }>, everyMs: number, log: Logger): () => void {
  const sweep = async () => {
    const now = new Date();
    for (const { collection, field } of targets) {
      try {
        await collection.deleteMany({ [field]: { $lt: now } });
      } catch (error) {
        log.warn({ collection: collection.collectionName, err: (error as Error).message }, 'expiry sweep failed');
      }
    }
  };
  const timer = setInterval(sweep, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
