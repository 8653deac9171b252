// Token signing keys: generated on first start, kept in MongoDB so every instance
// signs with the same keys, and rotated with `latchkey keys:rotate`. The newest
// active key of each algorithm signs; retired keys stay published in the JWKS for
// a grace period so tokens already issued still verify.
import { generateKeyPair, randomUUID, type JsonWebKey } from 'node:crypto';
import { promisify } from 'node:util';
import type { Db } from 'mongodb';

const generate = promisify(generateKeyPair);

export interface StoredKey {
  _id: string; // kid
  alg: 'RS256' | 'ES256';
  jwk: JsonWebKey;
  createdAt: Date;
  retiredAt: Date | null;
}

const ALGORITHMS = ['RS256', 'ES256'] as const;
const collection = (db: Db) => db.collection<StoredKey>('signing_keys');

async function newKey(alg: StoredKey['alg']): Promise<StoredKey> {
  const { privateKey } = alg === 'RS256'
    ? await generate('rsa', { modulusLength: 2048 })
    : await generate('ec', { namedCurve: 'P-256' });
  const kid = randomUUID();
  return { _id: kid, alg, jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' }, createdAt: new Date(), retiredAt: null };
}

/** The JWKS for the provider: active keys first (newest first), then retired ones still in grace. */
export async function loadSigningKeys(db: Db): Promise<{ keys: JsonWebKey[] }> {
  const keys = collection(db);
  await keys.createIndex({ alg: 1, retiredAt: 1, createdAt: -1 });
  for (const alg of ALGORITHMS) {
    if (!(await keys.findOne({ alg, retiredAt: null }))) {
      const key = await newKey(alg);
      // A concurrent first start may insert too; both keys are valid and the newest signs.
      await keys.insertOne(key);
    }
  }
  const all = await keys.find().sort({ createdAt: -1 }).toArray();
  const ordered = [...all.filter((k) => !k.retiredAt), ...all.filter((k) => k.retiredAt)];
  return { keys: ordered.map((k) => k.jwk) };
}

/**
 * Adds a new key for each algorithm and retires the previous ones; deletes
 * retired keys older than the grace period. Running servers pick the new keys
 * up at their next start (restart them one by one).
 */
export async function rotateSigningKeys(db: Db, options: { graceDays: number }): Promise<{ added: string[]; removed: number }> {
  const keys = collection(db);
  const now = new Date();
  const added: string[] = [];
  for (const alg of ALGORITHMS) {
    const key = await newKey(alg);
    await keys.insertOne(key);
    await keys.updateMany({ alg, retiredAt: null, _id: { $ne: key._id } }, { $set: { retiredAt: now } });
    added.push(`${alg} ${key._id}`);
  }
  const cutoff = new Date(now.getTime() - options.graceDays * 24 * 60 * 60_000);
  const { deletedCount } = await keys.deleteMany({ retiredAt: { $ne: null, $lt: cutoff } });
  return { added, removed: deletedCount };
}
