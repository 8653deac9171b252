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
//
// At rest the private keys are sealed with DATA_KEYS (the DataVault of
// src/secrets.ts, as authenticator secrets are): a key is stored as its public JWK
// and its private JWK encrypted, bound to its kid (StoredKey below). Every instance
// must therefore hold the DATA_KEYS the keys were sealed with; one that cannot
// decrypt a key refuses to start rather than sign with anything else.
// `data-keys:reencrypt` re-seals them after a DATA_KEYS rotation.
import { generateKeyPair, randomUUID, type JsonWebKey } from 'node:crypto';
import { promisify } from 'node:util';
import type { Db } from 'mongodb';
import type { DataVault } from '../secrets.ts';

const generate = promisify(generateKeyPair);

export const ALGORITHMS = ['RS256', 'ES256'] as const;
export type SigningAlgorithm = (typeof ALGORITHMS)[number];

export const SIGNING_KEYS = 'signing_keys';

/**
 * What seals the private keys: the services' DataVault (DATA_KEYS, src/secrets.ts),
 * the one that encrypts authenticator secrets.
 */
export type KeyVault = Pick<DataVault, 'encrypt' | 'decrypt'>;

/** The associated data a sealed private key is bound to: a sealed value copied onto another kid does not open. */
export const signingKeyAssociatedData = (kid: string): string => `signing-key:${kid}`;

/**
 * A key as stored. The private key is kept sealed with DATA_KEYS:
 *
 *   publicJwk   { kty, n, e | crv, x, y, kid, alg, use }: what the JWKS publishes
 *   sealedJwk   DataVault value of the private JWK as JSON (with kid, alg, use),
 *               associated data "signing-key:<kid>"
 *
 * Keys stored before sealing hold the private JWK in clear in `jwk` instead; the
 * next start or poll that reads them seals them in place (sealStoredKey).
 */
export interface StoredKey {
  _id: string; // kid
  alg: SigningAlgorithm;
  /** The public JWK (kid, alg, use and the public parameters only). */
  publicJwk?: JsonWebKey;
  /** The private JWK, sealed with the vault (see above). */
  sealedJwk?: string;
  /** Keys stored before sealing only: the private JWK in clear, until sealed in place. */
  jwk?: JsonWebKey;
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
export type KeyRecord = Omit<StoredKey, 'jwk' | 'sealedJwk'>;

/** A key in memory, its private JWK decrypted: what the provider is built with. Never stored or logged as is. */
export interface SigningKey extends KeyRecord {
  /** The private JWK (with kid, alg, use). */
  jwk: JsonWebKey;
}

/**
 * A key whose private part cannot be decrypted with the configured DATA_KEYS. An
 * instance never signs with it, nor generates keys over it: it refuses to start.
 */
export class UnreadableSigningKeyError extends Error {
  override name = 'UnreadableSigningKeyError';
  readonly kid: string;
  constructor(kid: string, alg: string, reason: string) {
    super([
      `signing key ${kid} (${alg}) cannot be decrypted with the configured DATA_KEYS (${reason}).`,
      'Give this server (or command) the DATA_KEYS it was sealed with, the same as every instance has (after a DATA_KEYS rotation: the new key first, the old ones after it).',
      'Should those keys be lost for good, `latchkey keys:rotate --compromised` replaces every signing key (tokens they signed stop verifying).',
    ].join(' '));
    this.kid = kid;
  }
}

const collection = (db: Db) => db.collection<StoredKey>(SIGNING_KEYS);

/** The public members of RSA and EC keys, with kid, alg and use; nothing else leaves the seal. */
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e', 'kid', 'alg', 'use'] as const;

function publicPart(jwk: JsonWebKey): JsonWebKey {
  return Object.fromEntries(PUBLIC_MEMBERS.filter((member) => jwk[member] !== undefined).map((member) => [member, jwk[member]]));
}

function seal(vault: KeyVault, kid: string, jwk: JsonWebKey): { publicJwk: JsonWebKey; sealedJwk: string } {
  return { publicJwk: publicPart(jwk), sealedJwk: vault.encrypt(JSON.stringify(jwk), signingKeyAssociatedData(kid)) };
}

/** The private JWK of a sealed key; UnreadableSigningKeyError (never the value) when it does not open. */
function unseal(vault: KeyVault, key: StoredKey): JsonWebKey {
  if (typeof key.sealedJwk !== 'string') throw new UnreadableSigningKeyError(key._id, key.alg, 'no private key is stored with it');
  let text: string;
  try {
    text = vault.decrypt(key.sealedJwk, signingKeyAssociatedData(key._id));
  } catch (error) {
    throw new UnreadableSigningKeyError(key._id, key.alg, (error as Error).message);
  }
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text: not repeated.
    jwk = undefined;
  }
  if (!jwk || typeof jwk !== 'object' || (jwk as JsonWebKey).kid !== key._id || typeof (jwk as JsonWebKey).d !== 'string') {
    throw new UnreadableSigningKeyError(key._id, key.alg, 'the decrypted value is not its private key');
  }
  return jwk as JsonWebKey;
}

/**
 * Seals a key stored before sealing, in place: only if the document still holds the
 * private key in clear, so instances doing it at once write it once (the others'
 * updates match nothing, and the key they hold in memory is the same).
 */
async function sealStoredKey(db: Db, vault: KeyVault, kid: string, jwk: JsonWebKey): Promise<void> {
  const { publicJwk, sealedJwk } = seal(vault, kid, jwk);
  await collection(db).updateOne({ _id: kid, jwk: { $exists: true } }, { $set: { publicJwk, sealedJwk }, $unset: { jwk: '' } });
}

/** Whether a record (read without private parts) is of a key still stored in clear. */
export const storedInClear = (key: KeyRecord): boolean => !key.publicJwk;

export type KeyState = 'next' | 'signing' | 'retired' | 'expired';

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

/** A new key, its private part sealed with the vault. */
async function newKey(vault: KeyVault, alg: SigningAlgorithm, activatesAt: Date, now: Date): Promise<StoredKey> {
  const { privateKey } = alg === 'RS256'
    ? await generate('rsa', { modulusLength: 2048 })
    : await generate('ec', { namedCurve: 'P-256' });
  const kid = randomUUID();
  return {
    _id: kid,
    alg,
    ...seal(vault, kid, { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' }),
    createdAt: now,
    activatesAt,
    retiredAt: null,
    deleteAfter: null,
  };
}

/** Every stored key's dates and public JWK, without private parts (the poll's read, `keys:list`). */
export async function readKeyRecords(db: Db): Promise<KeyRecord[]> {
  return collection(db).find({}, { projection: { jwk: 0, sealedJwk: 0 } }).toArray();
}

/**
 * The stored keys with their private parts decrypted, but those expired at `now`
 * (never published again: not decrypted, not returned). Keys stored in clear
 * (before sealing) are sealed in place on the way. Throws
 * UnreadableSigningKeyError when a key does not decrypt with the vault's keys.
 */
async function openKeys(db: Db, vault: KeyVault, stored: StoredKey[], now: Date): Promise<SigningKey[]> {
  const keys: SigningKey[] = [];
  for (const { jwk: inClear, sealedJwk, ...record } of stored) {
    if (inClear) {
      await sealStoredKey(db, vault, record._id, inClear);
      if (keyState(record, now) !== 'expired') keys.push({ ...record, publicJwk: publicPart(inClear), jwk: inClear });
      continue;
    }
    if (keyState(record, now) === 'expired') continue;
    keys.push({ ...record, jwk: unseal(vault, { ...record, sealedJwk }) });
  }
  return keys;
}

/** Every stored key not expired at `now`, private parts decrypted (see openKeys). */
export async function readKeys(db: Db, vault: KeyVault, now = new Date()): Promise<SigningKey[]> {
  return openKeys(db, vault, await collection(db).find().toArray(), now);
}

/**
 * Makes sure each algorithm has a signing key (first start: one is generated,
 * signing at once) and returns every key not expired, decrypted. Instances
 * starting together on an empty database may each add one; the newest signs
 * everywhere from the next poll on. A stored key that does not decrypt stops it
 * before anything is generated (UnreadableSigningKeyError): a key is never
 * generated over one this instance cannot read.
 */
export async function ensureSigningKeys(db: Db, vault: KeyVault, now = new Date()): Promise<SigningKey[]> {
  const keys = collection(db);
  await keys.createIndex({ alg: 1, retiredAt: 1, createdAt: -1 });
  let stored = await readKeys(db, vault, now);
  for (const alg of ALGORITHMS) {
    if (!stored.some((key) => key.alg === alg && keyState(key, now) === 'signing')) {
      await keys.insertOne(await newKey(vault, alg, now, now));
      stored = await readKeys(db, vault, now);
    }
  }
  return stored;
}

/** The JWKS for a provider built now (signing keys first); generates keys on first use. */
export async function loadSigningKeys(db: Db, vault: KeyVault): Promise<{ keys: JsonWebKey[] }> {
  const now = new Date();
  return { keys: publishedKeys(await ensureSigningKeys(db, vault, now), now).keys.map((key) => key.jwk) };
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
 * follow by themselves: no restart. The new keys are sealed with `vault`; unless
 * compromised, the stored ones must first decrypt with it (UnreadableSigningKeyError
 * otherwise): keys sealed with other DATA_KEYS than the servers' would never sign.
 * When compromised nothing stored is read, so the keys can be replaced even after
 * their DATA_KEYS are lost.
 */
export async function rotateSigningKeys(db: Db, vault: KeyVault, options: RotateOptions): Promise<Rotation> {
  const keys = collection(db);
  const now = options.now ?? new Date();
  const rotation: Rotation = { added: [], retiring: [], removed: 0 };
  if (!options.compromised) await readKeys(db, vault, now);
  for (const alg of ALGORITHMS) {
    const first = !(await keys.findOne({ alg }));
    const activatesAt = new Date(now.getTime() + (first || options.compromised ? 0 : options.delayMs));
    const key = await newKey(vault, alg, activatesAt, now);
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
