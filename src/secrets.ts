// Keys from configuration, and encryption at rest with them.
//
// Cookie-signing keys (COOKIE_KEYS) and data keys (DATA_KEYS): from the environment in
// production; generated once and kept in DATA_DIR for development, so sessions and
// stored secrets survive a restart without any setup.
//
// Encryption at rest (DataVault): AES-256-GCM from node:crypto, no cryptography of our
// own. Each configured data key gives a 256-bit key through HKDF-SHA256; a value is
// stored as
//
//   v1.<keyId>.<iv>.<ciphertext>.<tag>     (every part base64url but the keyId)
//
// where keyId (8 hex digits of SHA-256 of the derived key) says which configured key
// encrypted it. The first key encrypts, every key decrypts, so a new key is put first
// and the old one kept until every value has been re-encrypted (needsReencryption).
// The IV is 12 random bytes per value; GCM's tag makes any change to the value, or to
// its associated data, fail decryption rather than yield something else.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Keys from configuration, or generated once into DATA_DIR/<file> (development and tests). */
function configuredOrKept(configured: string[] | undefined, dataDir: string, file: string): string[] {
  if (configured?.length) return configured;
  const path = join(dataDir, file);
  if (existsSync(path)) {
    const keys = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (Array.isArray(keys) && keys.length && keys.every((k) => typeof k === 'string' && k.length >= 32)) return keys;
    throw new Error(`${path} is not a list of keys; delete it to generate new ones`);
  }
  mkdirSync(dataDir, { recursive: true });
  const keys = [randomBytes(32).toString('base64url')];
  // 'wx': should two processes start at once, the second reads the first one's keys.
  try {
    writeFileSync(path, JSON.stringify(keys), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return configuredOrKept(undefined, dataDir, file);
    throw error;
  }
  return keys;
}

export function cookieKeysFor(config: { cookieKeys?: string[]; dataDir: string }): string[] {
  return configuredOrKept(config.cookieKeys, config.dataDir, 'cookie-keys.json');
}

/** DATA_KEYS, or in development keys kept in DATA_DIR/data-keys.json. Losing them loses every encrypted value. */
export function dataKeysFor(config: { dataKeys?: string[]; dataDir: string }): string[] {
  return configuredOrKept(config.dataKeys, config.dataDir, 'data-keys.json');
}

const FORMAT = 'v1';
const HKDF_INFO = 'latchkey data encryption v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

interface DerivedKey {
  id: string;
  key: Buffer;
}

function derive(secret: string): DerivedKey {
  const key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), HKDF_INFO, 32));
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 8), key };
}

/** Why a value could not be decrypted; the message never repeats the value. */
export class DecryptionError extends Error {
  override name = 'DecryptionError';
}

/** Encrypts short secrets (authenticator secrets) for storage, with the configured data keys. */
export class DataVault {
  readonly #keys: DerivedKey[];

  constructor(secrets: readonly string[]) {
    if (!secrets.length) throw new Error('DataVault needs at least one key');
    if (secrets.some((s) => s.length < 32)) throw new Error('each data key must be at least 32 characters');
    this.#keys = secrets.map(derive);
    if (new Set(this.#keys.map((k) => k.id)).size !== this.#keys.length) throw new Error('the data keys must differ from each other');
  }

  /**
   * `associatedData` binds the value to where it belongs (e.g. "totp:<userId>"): the
   * same must be given to decrypt, so a value copied into another account's record
   * does not decrypt there.
   */
  encrypt(plaintext: string, associatedData = ''): string {
    const { id, key } = this.#keys[0]!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [FORMAT, id, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  /** Throws DecryptionError when the value is malformed, its key is not configured, or it was changed. */
  decrypt(value: string, associatedData = ''): string {
    const parts = typeof value === 'string' ? value.split('.') : [];
    if (parts.length !== 5 || parts[0] !== FORMAT) throw new DecryptionError('not an encrypted value of a known format');
    const [, id, iv, ciphertext, tag] = parts as [string, string, string, string, string];
    const entry = this.#keys.find((k) => k.id === id);
    if (!entry) throw new DecryptionError(`encrypted with key ${id}, which is not among the configured DATA_KEYS`);
    const ivBytes = Buffer.from(iv, 'base64url');
    const tagBytes = Buffer.from(tag, 'base64url');
    if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) throw new DecryptionError('not an encrypted value of a known format');
    try {
      const decipher = createDecipheriv('aes-256-gcm', entry.key, ivBytes, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(associatedData, 'utf8'));
      decipher.setAuthTag(tagBytes);
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new DecryptionError('the encrypted value was changed, or belongs elsewhere');
    }
  }

  /** True when the value was encrypted with another key than the first (rotation): decrypt and encrypt it again. */
  needsReencryption(value: string): boolean {
    const parts = value.split('.');
    return parts[0] !== FORMAT || parts[1] !== this.#keys[0]!.id;
  }
}
