// Signing cookies, ours and the provider's, in keygrip's format: an HMAC-SHA1 of
// "name=value" in base64url; the first key signs, every key verifies (prepend a
// new key to rotate). Cookies signed before stay valid.
//
// Not keygrip itself because it costs three HMACs per cookie read: it turns the
// key string into an HMAC key on every call, and compares digests through two more
// HMACs (tsscmp). Here the keys are made once, and a digest is compared with
// timingSafeEqual. Every request reads two to four signed cookies.
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

export class CookieSigner {
  readonly #keys: KeyObject[];

  constructor(keys: readonly string[]) {
    if (!keys.length) throw new Error('cookie signing needs at least one key');
    this.#keys = keys.map((key) => createSecretKey(Buffer.from(key, 'utf8')));
  }

  sign(data: string): string {
    return this.#digest(data, this.#keys[0]!);
  }

  verify(data: string, digest: string): boolean {
    return this.index(data, digest) > -1;
  }

  /** Which key signed `data` into `digest`: its position, or -1 when none did. */
  index(data: string, digest: string): number {
    if (typeof data !== 'string' || typeof digest !== 'string') return -1;
    const given = Buffer.from(digest, 'utf8');
    for (let i = 0; i < this.#keys.length; i++) {
      const expected = Buffer.from(this.#digest(data, this.#keys[i]!), 'utf8');
      if (given.length === expected.length && timingSafeEqual(given, expected)) return i;
    }
    return -1;
  }

  #digest(data: string, key: KeyObject): string {
    return createHmac('sha1', key).update(data).digest('base64url');
  }
}
