// Creating and finding accounts. Every surface (CLI, pages, admin) goes through here.
import { emailSchema, normalizeEmail } from './email.ts';
import type { PasswordHasher } from './passwords.ts';
import type { PasswordPolicy } from './password-policy.ts';
import type { Lockout } from './lockout.ts';
import type { Throttle } from './throttle.ts';
import type { User, UserModel } from '../db/models/user.ts';
import type { AuditTrail, RequestContext } from './audit.ts';
import { AccountError } from './errors.ts';
import { isDuplicateKey } from '../db/duplicate-key.ts';


/** The words an admin may search by: the email, its parts, and each word of the name, lower-cased. */
export function searchTermsFor(email: string, name: string | null | undefined): string[] {
  const normalized = normalizeEmail(email);
  const [local = '', domain = ''] = normalized.split('@');
  const words = [normalized, local, domain, ...local.split(/[._+-]+/), ...(name ?? '').toLowerCase().split(/[\s,.'-]+/)];
  return [...new Set(words.map((w) => w.trim()).filter((w) => w.length > 0))].slice(0, 20);
}

export interface NewUser {
  email: string;
  password?: string;
  name?: string;
  roles?: string[];
  groups?: string[];
  /** The password is temporary: changed at the first sign-in, and it expires at this time. */
  temporaryUntil?: Date;
  /** Self sign-up: stored unverified in the one insert, until the emailed link confirms the address. */
  status?: 'unverified';
  /** Self sign-up with terms configured: the version accepted on the form (accounts/terms.ts). */
  termsAccepted?: { version: string; at: Date; clientId: string | null };
}

/**
 * Creates an account in one insert; a given password must pass the policy (`policyChecked`: the
 * caller has just checked it). Without one the account cannot sign in until it sets one. An address
 * that is taken costs what a new one does (the hash, then the insert the unique index refuses).
 */
export async function createUser(
  deps: { users: UserModel; hasher: PasswordHasher; policy: PasswordPolicy },
  input: NewUser,
  options: { policyChecked?: boolean } = {},
): Promise<User> {
  const email = emailSchema.safeParse(input.email);
  if (!email.success) throw new AccountError('invalid_email', `Not a valid email address: ${JSON.stringify(input.email)}`);
  if (input.name !== undefined && input.name.length > 200) throw new AccountError('invalid_name', 'Name must be at most 200 characters.');
  if (input.password !== undefined && !options.policyChecked) {
    const issues = deps.policy.check(input.password, { email: email.data, name: input.name });
    if (issues.length) throw new AccountError('password_policy', issues.map((issue) => issue.message).join(' '), issues);
  }

  const passwordHash = input.password === undefined ? null : await deps.hasher.hash(input.password);
  try {
    const created = await deps.users.create({
      email: email.data,
      emailNormalized: normalizeEmail(email.data),
      name: input.name?.trim() ?? '',
      passwordHash,
      roles: input.roles ?? [],
      groups: input.groups ? [...new Set(input.groups)] : [],
      searchTerms: searchTermsFor(email.data, input.name),
      ...(input.temporaryUntil && passwordHash ? { mustChangePassword: true, temporaryPasswordExpiresAt: input.temporaryUntil } : {}),
      ...(input.status ? { status: input.status } : {}),
      ...(input.termsAccepted ? { termsAccepted: input.termsAccepted } : {}),
    });
    return created!.toObject() as User;
  } catch (error) {
    if (isDuplicateKey(error)) throw new AccountError('email_taken', `An account with email ${email.data} already exists.`);
    throw error;
  }
}

export async function findUserByEmail(users: UserModel, email: string): Promise<User | null> {
  return users.findOne({ emailNormalized: normalizeEmail(email) }).lean<User>();
}

/** Clears the account's lock, its trusted-browser counters and its per-IP throttles. */
export async function unlockUser(
  deps: { users: UserModel; lockout: Lockout; throttle: Throttle; audit: AuditTrail },
  email: string,
  context: RequestContext = {},
): Promise<User> {
  const user = await findUserByEmail(deps.users, email);
  if (!user) throw new AccountError('not_found', `No account with email ${email}.`);
  await deps.lockout.clearUser(user._id);
  await deps.throttle.clearEmail(user.email);
  await deps.audit.record('account.unlocked', user._id, context);
  return user;
}
