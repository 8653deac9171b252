// Password hashing: argon2id with configured parameters. One hasher per process,
// so every surface hashes and verifies the same way.
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { randomBytes } from 'node:crypto';

export interface HashingParams {
  memoryKiB: number;
  timeCost: number;
  parallelism: number;
}

/** Upper bound on what we hash: long enough for passphrases, short enough to bound the work. */
export const PASSWORD_MAX_BYTES = 1024;

/** Hashes an import may bring as they are: argon2 PHC strings and bcrypt. They are upgraded at the next sign-in. */
// Parameters in any order: node-argon2 writes m,p,t; the PHC reference and most others m,t,p.
const ARGON2_PHC = /^\$argon2(id|i|d)\$v=\d+\$(?=[^$]*\bm=\d+)(?=[^$]*\bt=\d+)(?=[^$]*\bp=\d+)[mtp]=\d+,[mtp]=\d+,[mtp]=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;
const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

export function isImportableHash(hash: string): boolean {
  return ARGON2_PHC.test(hash) || BCRYPT.test(hash);
}

export class PasswordHasher {
  readonly #options: { type: typeof argon2.argon2id; memoryCost: number; timeCost: number; parallelism: number };
  #dummyHash: Promise<string> | undefined;

  constructor(params: HashingParams) {
    this.#options = {
      type: argon2.argon2id,
      memoryCost: params.memoryKiB,
      timeCost: params.timeCost,
      parallelism: params.parallelism,
    };
  }

  /** Passwords are hashed in Unicode NFC, so "é" typed composed or decomposed is the same password. */
  hash(password: string): Promise<string> {
    return argon2.hash(password.normalize('NFC'), this.#options);
  }

  /** False for a malformed stored hash rather than an exception: a bad row must not become a 500. */
  async verify(hash: string, password: string): Promise<boolean> {
    try {
      if (BCRYPT.test(hash)) return await bcrypt.compare(password.normalize('NFC'), hash);
      const normalized = password.normalize('NFC');
      if (await argon2.verify(hash, normalized)) return true;
      // Hashes imported from elsewhere may be of the raw form.
      return normalized !== password && (await argon2.verify(hash, password));
    } catch {
      return false;
    }
  }

  /** Whether a stored hash was made with other parameters and should be replaced at the next sign-in. */
  needsRehash(hash: string): boolean {
    if (!hash.startsWith('$argon2id$')) return true;
    try {
      return argon2.needsRehash(hash, this.#options);
    } catch {
      return true;
    }
  }

  /**
   * Spends the same work as checking a real password, for emails with no
   * account or no password, so timing does not tell them apart.
   */
  async verifyNothing(password: string): Promise<false> {
    this.#dummyHash ??= this.hash(randomBytes(32).toString('base64url'));
    await this.verify(await this.#dummyHash, password);
    return false;
  }
}
