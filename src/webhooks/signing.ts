// Signatures as Standard Webhooks defines them (https://www.standardwebhooks.com):
//
//   webhook-id:        the event's id
//   webhook-timestamp: seconds since the epoch, when this attempt was signed
//   webhook-signature: v1,<base64 HMAC-SHA256 over "<id>.<timestamp>.<body>">
//
// with a secret written whsec_<base64 of the key bytes>. HMAC from node:crypto
// (OpenSSL): the `standardwebhooks` package verifies these in our tests, as a
// receiver would, but its own HMAC is a JavaScript implementation we do not ship.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
/** Key length of the secrets we generate (Standard Webhooks asks for 24 to 64 bytes). */
const SECRET_BYTES = 32;
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The key bytes of a whsec_ secret, or null when it is not one (wrong prefix, not base64, too short or long). */
export function secretKey(secret: string): Buffer | null {
  if (typeof secret !== 'string' || !secret.startsWith(SECRET_PREFIX)) return null;
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return null;
  const key = Buffer.from(encoded, 'base64');
  return key.length >= MIN_KEY_BYTES && key.length <= MAX_KEY_BYTES ? key : null;
}

export const isValidSecret = (secret: string): boolean => secretKey(secret) !== null;

/** The three headers for one attempt. */
export function signedHeaders(secret: string, id: string, body: string, now = new Date()): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const key = secretKey(secret);
  if (!key) throw new Error('not a webhook secret');
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}

/**
 * A receiver's check (for the README's example and our tests): one of the
 * space-separated v1 signatures matches, and the timestamp is within `toleranceS`.
 */
export function verifySignature(secret: string, headers: { id: string; timestamp: string; signature: string }, body: string, now = new Date(), toleranceS = 300): boolean {
  const key = secretKey(secret);
  const timestamp = Number(headers.timestamp);
  if (!key || !Number.isInteger(timestamp) || Math.abs(now.getTime() / 1000 - timestamp) > toleranceS) return false;
  const expected = createHmac('sha256', key).update(`${headers.id}.${headers.timestamp}.${body}`).digest();
  return headers.signature.split(' ').some((entry) => {
    const [version, value] = entry.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
