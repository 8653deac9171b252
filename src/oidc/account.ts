// What the provider knows of an account: the claims for each scope.
import type { FindAccount } from 'oidc-provider';
import type { User, UserModel } from '../db/models/user.ts';

/** Claims released per scope; the provider filters by what the client was granted. */
export const SCOPE_CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'locale', 'updated_at'],
  phone: ['phone_number', 'phone_number_verified'],
  address: ['address'],
  groups: ['groups'],
} as const;

/**
 * Scopes clients may ask for: the claim scopes, refresh tokens, our account API
 * (`account`), the admin API (`admin`: only an admin's own token, or a client
 * whose registered `scope` includes it, for client credentials) and SCIM
 * provisioning (`scim`: client credentials of a client registered for it).
 */
export const SCOPES = ['openid', 'offline_access', 'email', 'profile', 'phone', 'address', 'groups', 'account', 'admin', 'scim'] as const;

/** Scopes only a client whose registration names them can get: they act for the operator. */
export const OPERATOR_SCOPES: readonly string[] = ['admin', 'scim'];

const nonEmpty = (value: object) => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined && v !== ''));

function formatted(address: NonNullable<User['address']>): string {
  return [address.street_address, [address.postal_code, address.locality].filter(Boolean).join(' '), address.region, address.country]
    .filter(Boolean).join('\n');
}

/**
 * What the provider reads of an account (every authorization, token and userinfo call): no
 * hashes or history. Beside the claims, the two dates the new-browser notice decides by, so
 * a finished sign-in need not read the account again for them (accountReadIn).
 */
const ACCOUNT_FIELDS = {
  status: 1, email: 1, emailVerified: 1, name: 1, locale: 1, phoneNumber: 1, phoneNumberVerified: 1, address: 1, groups: 1, updatedAt: 1,
  knownBrowsersSince: 1, newBrowserNoticeAt: 1,
} as const;

export type AccountSnapshot = Pick<User, '_id' | 'status' | 'knownBrowsersSince' | 'newBrowserNoticeAt'>;

// The account each request's lookup found, for the rest of that request only (a WeakMap: it
// goes with the request). Never shared between requests, so no other instance can make it wrong.
const readInRequest = new WeakMap<object, AccountSnapshot>();

/** The account `accountId` as the provider read it in this request, if it did. */
export function accountReadIn(ctx: object, accountId: string): AccountSnapshot | undefined {
  const account = readInRequest.get(ctx);
  return account?._id === accountId ? account : undefined;
}

export function findAccountIn(users: UserModel): FindAccount {
  return async (ctx, sub) => {
    const user = await users.findById(sub, ACCOUNT_FIELDS).lean<User>();
    if (user) readInRequest.set(ctx, user);
    if (!user || user.status === 'disabled') return undefined;
    return {
      accountId: user._id,
      claims: async () => ({
        sub: user._id,
        email: user.email,
        email_verified: user.emailVerified,
        name: user.name || undefined,
        locale: user.locale ?? undefined,
        phone_number: user.phoneNumber ?? undefined,
        phone_number_verified: user.phoneNumber ? user.phoneNumberVerified : undefined,
        address: user.address ? { ...nonEmpty(user.address), formatted: formatted(user.address) } : undefined,
        groups: user.groups ?? [],
        updated_at: Math.floor(new Date((user as { updatedAt?: Date }).updatedAt ?? Date.now()).getTime() / 1000),
      }),
    };
  };
}
