// Choosing a new password, for every path that sets one (reset, invite, sign-up,
// first-login change, portal, API, import): the policy, the no-reuse rule, and the
// stored result, in one place.
import type { PasswordHasher } from './passwords.ts';
import { reuseIssue, type PasswordIssue, type PasswordPolicy } from './password-policy.ts';
import type { User, UserModel } from '../db/models/user.ts';

export interface SetPasswordDeps {
  users: UserModel;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  historyCount: number;
}

/** Everything wrong with `password` as this person's next password; empty when it is acceptable. */
export async function passwordIssues(
  deps: SetPasswordDeps,
  user: Pick<User, 'email' | 'name' | 'passwordHash' | 'passwordHistory'> | null,
  password: unknown,
  options: { previous?: string } = {},
): Promise<PasswordIssue[]> {
  const issues = deps.policy.check(password, { email: user?.email, name: user?.name, previous: options.previous });
  if (issues.length || !user || typeof password !== 'string') return issues;
  // The current password never counts as new; the history setting adds older ones.
  const recent = [user.passwordHash, ...(user.passwordHistory ?? [])].filter((h): h is string => Boolean(h)).slice(0, Math.max(1, deps.historyCount));
  for (const hash of recent) {
    if (await deps.hasher.verify(hash, password)) return [reuseIssue(deps.historyCount)];
  }
  return [];
}

/**
 * Stores a new password (already checked with passwordIssues). The old hash moves
 * into the history; a pending forced change is done; the account becomes active
 * unless an operator disabled it.
 */
export async function storePassword(
  deps: SetPasswordDeps,
  user: Pick<User, '_id' | 'passwordHash' | 'passwordHistory' | 'status'>,
  password: string,
  options: { verifyEmail?: boolean } = {},
): Promise<void> {
  const passwordHash = await deps.hasher.hash(password);
  const history = [user.passwordHash, ...(user.passwordHistory ?? [])].filter((h): h is string => Boolean(h)).slice(0, deps.historyCount);
  await deps.users.updateOne({ _id: user._id }, {
    $set: {
      passwordHash,
      passwordHistory: history,
      passwordChangedAt: new Date(),
      mustChangePassword: false,
      temporaryPasswordExpiresAt: null,
      ...(user.status === 'disabled' ? {} : { status: 'active' }),
      ...(options.verifyEmail ? { emailVerified: true } : {}),
    },
  });
}

/** Sets a temporary password an operator hands out: it must be changed at first sign-in, and expires. */
export async function setTemporaryPassword(
  deps: SetPasswordDeps & { temporaryPasswordMs: number },
  user: Pick<User, '_id' | 'email' | 'name' | 'passwordHash' | 'passwordHistory' | 'status'>,
  password: string,
): Promise<PasswordIssue[]> {
  const issues = deps.policy.check(password, { email: user.email, name: user.name });
  if (issues.length) return issues;
  await deps.users.updateOne({ _id: user._id }, {
    $set: {
      passwordHash: await deps.hasher.hash(password),
      mustChangePassword: true,
      temporaryPasswordExpiresAt: new Date(Date.now() + deps.temporaryPasswordMs),
      passwordChangedAt: new Date(),
      ...(user.status === 'disabled' ? {} : { status: 'active' }),
    },
  });
  return [];
}
