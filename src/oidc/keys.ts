// Token signing keys: generated on first start and kept in MongoDB, so every
// instance signs with the same keys; rotated with `latchkey keys:rotate` while
// the servers run (see live-provider.ts for how each instance follows them).
//
// A key's life, decided by the dates stored on it and the clock, never by which
// instance noticed what first:
//
//   next     published in the JWKS, not signing yet (now < activatesAt)
//   signing  the newest activated key of its algorithm (activatesAt ≤ now < retiredAt)
//   retired  no longer signing, still published so tokens it signed verify (retiredAt ≤ now < deleteAfter)
//   expired  past deleteAfter: no longer published; deleted by the next instance that polls
//
// A rotation adds a key whose activatesAt lies a propagation delay ahead
// (KEY_ROTATION_DELAY_S, at least one JWKS cache lifetime plus one poll), and
// sets the previous key's retiredAt to that same moment: every instance has
// published the new key for a whole JWKS cache lifetime before any signs with it,
// and all of them switch at the same time whatever their poll phase.
import { generateKeyPair, randomUUID, type JsonWebKey } from 'node:crypto';
import { promisify } from 'node:util';
import type { Db } from 'mongodb';

const generate = promisify(generateKeyPair);

export const ALGORITHMS = ['RS256', 'ES256'] as const;
export type SigningAlgorithm = (typeof ALGORITHMS)[number];

export interface StoredKey {
  _id: string; // kid
  alg: SigningAlgorithm;
  /** The private JWK (with kid, alg, use). */
  jwk: JsonWebKey;
  createdAt: Date;
  /** When it starts signing. Absent on keys stored before staged rotation: createdAt. */
  activatesAt?: Date;
  /** When it stops (or stopped) signing: its successor's activatesAt; null while it has none. */
  retiredAt: Date | null;
  /**
   * When it stops being published and may be deleted: retiredAt plus the grace
   * period. Absent on keys retired before staged rotation: they stay published
   * until a rotation removes them.
   */
  deleteAfter?: Date | null;
}

/** A key without its private part: what the poll reads and `keys:list` shows. */
export type KeyRecord = Omit<StoredKey, 'jwk'>;

export type KeyState = 'next' | 'signing' | 'retired' | 'expired';

const collection = (db: Db) => db.collection<StoredKey>('signing_keys');

const activation = (key: KeyRecord): Date => key.activatesAt ?? key.createdAt;

export function keyState(key: KeyRecord, now: Date): KeyState {
  if (key.deleteAfter && key.deleteAfter <= now) return 'expired';
  if (activation(key) > now) return 'next';
  if (key.retiredAt && key.retiredAt <= now) return 'retired';
  return 'signing';
}

const newestFirst = (a: KeyRecord, b: KeyRecord) =>
  activation(b).getTime() - activation(a).getTime() || b.createdAt.getTime() - a.createdAt.getTime();

/**
 * The keys an instance publishes at `now`, in the order oidc-provider needs:
 * it signs with the first key of the wanted algorithm in its keystore
 * (KeyStore.selectForSign keeps configuration order between keys that carry
 * the same members), so the signing key of each algorithm comes first. Should
 * an algorithm have no signing key, its newest retired key (published
 * everywhere) comes before its next keys (perhaps not yet published everywhere).
 * `changesAt` is the first moment after `now` at which this answer changes.
 */
export function publishedKeys<K extends KeyRecord>(keys: K[], now: Date): { keys: K[]; changesAt: Date | null } {
  const rank: Record<KeyState, number> = { signing: 0, retired: 1, next: 2, expired: 3 };
  const keys_ = keys
    .filter((key) => keyState(key, now) !== 'expired')
    .sort((a, b) => rank[keyState(a, now)] - rank[keyState(b, now)] || newestFirst(a, b));
  const moments = keys.flatMap((key) => [activation(key), key.retiredAt, key.deleteAfter])
    .filter((moment): moment is Date => moment instanceof Date && moment > now)
    .map((moment) => moment.getTime());
  return { keys: keys_, changesAt: moments.length ? new Date(Math.min(...moments)) : null };
}

/** A cheap summary of the stored keys' ids and dates: the poll rebuilds only when it changes. */
export function fingerprint(keys: KeyRecord[]): string {
  const time = (date: Date | null | undefined) => date?.getTime() ?? '-';
  return keys
    .map((key) => `${key._id}/${key.alg}/${time(key.activatesAt)}/${time(key.retiredAt)}/${time(key.deleteAfter)}`)
    .sort()
    .join(' ');
}

async function newKey(alg: SigningAlgorithm, activatesAt: Date, now: Date): Promise<StoredKey> {
  const { privateKey } = alg === 'RS256'
    ? await generate('rsa', { modulusLength: 2048 })
    : await generate('ec', { namedCurve: 'P-256' });
  const kid = randomUUID();
  return {
    _id: kid,
    alg,
    jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
    createdAt: now,
    activatesAt,
    retiredAt: null,
    deleteAfter: null,
  };
}

/** Every stored key's dates, without private parts (the poll's read). */
export async function readKeyRecords(db: Db): Promise<KeyRecord[]> {
  return collection(db).find({}, { projection: { jwk: 0 } }).toArray();
}

/** Every stored key, private parts included. */
export async function readKeys(db: Db): Promise<StoredKey[]> {
  return collection(db).find().toArray();
}

/**
 * Makes sure each algorithm has a signing key (first start: one is generated,
 * signing at once) and returns every stored key. Instances starting together on
 * an empty database may each add one; the newest signs everywhere from the next
 * poll on.
 */
export async function ensureSigningKeys(db: Db, now = new Date()): Promise<StoredKey[]> {
  const keys = collection(db);
  await keys.createIndex({ alg: 1, retiredAt: 1, createdAt: -1 });
  let stored = await keys.find().toArray();
  for (const alg of ALGORITHMS) {
    if (!stored.some((key) => key.alg === alg && keyState(key, now) === 'signing')) {
      await keys.insertOne(await newKey(alg, now, now));
      stored = await keys.find().toArray();
    }
  }
  return stored;
}

/** The JWKS for a provider built now (signing keys first); generates keys on first use. */
export async function loadSigningKeys(db: Db): Promise<{ keys: JsonWebKey[] }> {
  const now = new Date();
  return { keys: publishedKeys(await ensureSigningKeys(db, now), now).keys.map((key) => key.jwk) };
}

export interface RotateOptions {
  /** How long the new keys are published before they sign (the propagation delay). */
  delayMs: number;
  /** How long the keys they replace stay published after they stop signing. */
  graceMs: number;
  /**
   * The current keys are compromised: the new keys sign at once, and every other
   * key of the algorithm is deleted at once (tokens it signed stop verifying).
   */
  compromised?: boolean;
  now?: Date;
}

export interface Rotation {
  added: Array<{ alg: SigningAlgorithm; kid: string; activatesAt: Date }>;
  /** The keys this rotation retires, with the moment they stop being published. */
  retiring: Array<{ alg: SigningAlgorithm; kid: string; retiredAt: Date; deleteAfter: Date }>;
  /** Keys deleted: past their grace period, or all previous ones when compromised. */
  removed: number;
}

/**
 * Adds a new key for each algorithm, signing `delayMs` from now (at once when
 * there is no key of that algorithm yet, or when compromised); the keys without
 * a successor until now stop signing at that moment and stay published for
 * `graceMs` after it. Deletes keys past their grace period. Running servers
 * follow by themselves: no restart.
 */
export async function rotateSigningKeys(db: Db, options: RotateOptions): Promise<Rotation> {
  const keys = collection(db);
  const now = options.now ?? new Date();
  const rotation: Rotation = { added: [], retiring: [], removed: 0 };
  for (const alg of ALGORITHMS) {
    const first = !(await keys.findOne({ alg }));
    const activatesAt = new Date(now.getTime() + (first || options.compromised ? 0 : options.delayMs));
    const key = await newKey(alg, activatesAt, now);
    await keys.insertOne(key);
    rotation.added.push({ alg, kid: key._id, activatesAt });
    if (options.compromised) {
      rotation.removed += (await keys.deleteMany({ alg, _id: { $ne: key._id } })).deletedCount;
      continue;
    }
    // The key(s) signing or waiting to sign until now hand over at activatesAt.
    const replaced = await keys.find({ alg, _id: { $ne: key._id }, retiredAt: null }, { projection: { _id: 1 } }).toArray();
    const deleteAfter = new Date(activatesAt.getTime() + options.graceMs);
    if (replaced.length) {
      await keys.updateMany(
        { _id: { $in: replaced.map((k) => k._id) }, retiredAt: null },
        { $set: { retiredAt: activatesAt, deleteAfter } },
      );
    }
    for (const { _id } of replaced) rotation.retiring.push({ alg, kid: _id, retiredAt: activatesAt, deleteAfter });
  }
  rotation.removed += await deleteExpiredKeys(db, now, options.graceMs);
  return rotation;
}

/**
 * Deletes keys past deleteAfter, and keys retired before staged rotation (no
 * deleteAfter) longer than `legacyGraceMs` ago.
 */
export async function deleteExpiredKeys(db: Db, now: Date, legacyGraceMs?: number): Promise<number> {
  const legacy = legacyGraceMs === undefined
    ? []
    : [{ deleteAfter: null, retiredAt: { $ne: null, $lt: new Date(now.getTime() - legacyGraceMs) } }];
  const { deletedCount } = await collection(db).deleteMany({ $or: [{ deleteAfter: { $ne: null, $lte: now } }, ...legacy] });
  return deletedCount;
}

export interface KeyListing {
  kid: string;
  alg: SigningAlgorithm;
  state: KeyState;
  createdAt: Date;
  activatesAt: Date;
  retiredAt: Date | null;
  deleteAfter: Date | null;
}

/** Every stored key with its state at `now`, newest first. */
export async function listSigningKeys(db: Db, now = new Date()): Promise<KeyListing[]> {
  const records = await readKeyRecords(db);
  return records.sort((a, b) => a.alg.localeCompare(b.alg) || newestFirst(a, b)).map((key) => ({
    kid: key._id,
    alg: key.alg,
    state: keyState(key, now),
    createdAt: key.createdAt,
    activatesAt: activation(key),
    retiredAt: key.retiredAt ?? null,
    deleteAfter: key.deleteAfter ?? null,
  }));
}
