// What the provider knows of an account: the claims for each scope.
import type { FindAccount } from 'oidc-provider';
import type { User, UserModel } from '../db/models/user.ts';

/** Claims released per scope; the provider filters by what the client was granted. */
export const SCOPE_CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'updated_at'],
} as const;

export function findAccountIn(users: UserModel): FindAccount {
  return async (_ctx, sub) => {
    const user = await users.findById(sub).lean<User>();
    if (!user || user.status === 'disabled') return undefined;
    return {
      accountId: user._id,
      claims: async () => ({
        sub: user._id,
        email: user.email,
        email_verified: user.emailVerified,
        name: user.name || undefined,
        updated_at: Math.floor(new Date((user as { updatedAt?: Date }).updatedAt ?? Date.now()).getTime() / 1000),
      }),
    };
  };
}
