import { createHash } from 'node:crypto';
import { z } from 'zod';

/** RFC 5321 caps an address at 254 characters. */
export const EMAIL_MAX = 254;

export const emailSchema = z.string().trim().min(3).max(EMAIL_MAX).pipe(z.email());

/**
 * The lookup key for an address. The whole address is lower-cased: providers
 * almost never treat the local part case-sensitively, and two accounts that
 * differ only by case invite takeover by confusion.
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** A stable, non-reversible key for an address, for counters and throttles that must not store it. */
export function emailKey(email: string): string {
  return createHash('sha256').update(normalizeEmail(email)).digest('base64url').slice(0, 32);
}
