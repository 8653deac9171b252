// Moving people in from an old password store whose hashes cannot be exported: when a
// sign-in finds no account for the address (or an account pre-registered with
// passwordHeldByLegacy), the old system is asked once whether the address and password
// are right; if so the account is created (or completed) with an argon2 hash of the
// password just typed, so the old system is never asked about that person again.
//
// The rules that keep this safe live in authenticate() (accounts/signin.ts), which
// calls migrateFromLegacy only after the throttles and the lockout have let the attempt
// through, and answers every failure of the source (no, down, slow, nonsense) as the
// same "wrong password". This module holds what is asked and what is stored.
import type { PasswordHasher } from './passwords.ts';
import type { UserModel, User } from '../db/models/user.ts';
import { normalizeEmail } from './email.ts';
import { searchTermsFor } from './users.ts';
import { isDuplicateKey } from '../db/duplicate-key.ts';

/** What the old system says about an address and password. */
export type LegacyAnswer =
  | { ok: true; profile: { name?: string; emailVerified?: boolean; locale?: string } }
  /** rejected: the old system said no; unavailable: it could not say (down, slow, an answer we cannot read). */
  | { ok: false; reason: 'rejected' | 'unavailable' };

/** The old system (web/legacy-source.ts talks to it over HTTPS). */
export interface LegacySource {
  verify(email: string, password: string): Promise<LegacyAnswer>;
}

export interface LegacyMigrationDeps {
  users: UserModel;
  hasher: PasswordHasher;
}

/** A name or locale from the old system, printable and bounded, or undefined. */
const cleanText = (value: unknown, max: number) =>
  typeof value === 'string' && value.trim() && value.length <= max ? value.replace(/[\u0000-\u001f\u007f]/g, '').trim() : undefined;

/**
 * Creates the account the old system vouched for (or completes a pre-registered one)
 * with a hash of `password`. Of two sign-ins migrating the same person at once, one
 * inserts and the other finds the account: null then, and the caller checks the
 * password against what was stored, as for any account.
 */
export async function migrateFromLegacy(
  deps: LegacyMigrationDeps,
  input: { email: string; password: string; existing: Pick<User, '_id'> | null; profile: Extract<LegacyAnswer, { ok: true }>['profile'] },
): Promise<User | null> {
  const passwordHash = await deps.hasher.hash(input.password);
  const now = new Date();
  if (input.existing) {
    // Only while the old system still holds its password: an account that has one already keeps it.
    return deps.users.findOneAndUpdate(
      { _id: input.existing._id, passwordHeldByLegacy: true, passwordHash: null },
      { $set: { passwordHash, passwordChangedAt: now, passwordHeldByLegacy: false, status: 'active', ...(input.profile.emailVerified ? { emailVerified: true } : {}) } },
      { returnDocument: 'after' },
    ).lean<User>();
  }
  const name = cleanText(input.profile.name, 200) ?? '';
  try {
    const created = await deps.users.create({
      email: input.email.trim(),
      emailNormalized: normalizeEmail(input.email),
      name,
      emailVerified: input.profile.emailVerified === true,
      locale: cleanText(input.profile.locale, 35) ?? null,
      passwordHash,
      passwordChangedAt: now,
      searchTerms: searchTermsFor(input.email.trim(), name),
    });
    return created.toObject() as User;
  } catch (error) {
    if (isDuplicateKey(error)) return null;
    throw error;
  }
}
