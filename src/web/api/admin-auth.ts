// Who may call the admin API (/api/admin), and as whom the audit trail records
// them. A bearer token that is either
//  - an administrator's own access token: valid as for the account API (token,
//    client, grant), with the `admin` scope, issued to a first-party client (a
//    third-party app never acts as an administrator, even with consent), whose
//    account is an active administrator now; or
//  - a client credentials token (automation): unexpired, with the `admin` scope,
//    of a client whose registration still lists `admin` in its `scope` and allows
//    client_credentials. oidc-provider grants a client without `scope` metadata
//    any scope it asks for, so the registration is checked here as well.
// Everything is looked up on each request: removing the role, disabling the
// account or revoking the token ends access at once.
// When policy.mfa.require is 'admins' or 'everyone', an administrator's own token
// must also come from a two-step sign-in: the provider records the sign-in's acr on
// every access token it issues (token.extra.acr, oidc/provider.ts), from the code or
// the refresh token, so a later step-up of the same browser session does not promote
// a token issued before it. Client credentials tokens have no sign-in and are not affected.
import type { Context } from 'koa';
import type { Client, ClientCredentials } from 'oidc-provider';
import type { AppDeps } from '../../deps.ts';
import type { User } from '../../db/models/user.ts';
import { ADMIN_ROLE, isAdmin } from '../../accounts/admin.ts';
import { isFirstParty } from '../../oidc/provider.ts';
import { ACR } from '../../oidc/authentication.ts';
import { adminsNeedTwoStep } from '../../accounts/factor-admin.ts';
import { ApiProblem } from './problem.ts';
import { bearerValue, checkAccessToken, insufficientScope, invalidToken } from './bearer.ts';

export const ADMIN_SCOPE = 'admin';

export type AdminAuth =
  | { kind: 'admin'; actor: string; userId: string; clientId: string }
  | { kind: 'client'; actor: string; userId: null; clientId: string };

const forbidden = (detail: string) => new ApiProblem('forbidden', detail);

/**
 * 403 for an administrator's token from a password-only sign-in. The challenge is the
 * one RFC 9470 (step-up authentication) defines, so a client can tell what to ask for.
 */
function twoStepRequired(issuer: string): ApiProblem {
  const description = 'The admin API takes an administrator\'s token only from a sign-in with a second factor. Sign in again with acr_values=' + ACR.mfa + ' (set up an authenticator app or a passkey in the account portal first if you have none) and use the new access token.';
  return new ApiProblem('two-step-sign-in-required', description, {
    headers: {
      'WWW-Authenticate': `Bearer realm="${issuer}", error="insufficient_user_authentication", error_description="A sign-in with a second factor is required.", acr_values="${ACR.mfa}"`,
    },
  });
}

/** The acr of the sign-in an access token came from (recorded at issue by the provider), if any. */
const signInAcrOf = (token: { extra?: Record<string, unknown> }): unknown => token.extra?.acr;

const registeredScopes = (client: Client) => new Set((client.scope ?? '').split(' ').filter(Boolean));

async function clientCredentialsAuth(deps: AppDeps, token: ClientCredentials): Promise<AdminAuth> {
  const { issuer } = deps.config;
  if (token.isExpired || !token.clientId) throw invalidToken(issuer, 'The access token is unknown, expired or revoked.');
  if (token.isSenderConstrained()) throw invalidToken(issuer, 'Sender-constrained (DPoP or mTLS) access tokens are not accepted here.');
  if (token.aud !== undefined) throw invalidToken(issuer, 'The access token is meant for another audience.');
  const client = await deps.provider.Client.find(token.clientId);
  if (!client) throw invalidToken(issuer, 'The access token is unknown, expired or revoked.');
  if (!token.scopes.has(ADMIN_SCOPE)) throw insufficientScope(issuer, ADMIN_SCOPE);
  if (!registeredScopes(client).has(ADMIN_SCOPE) || !client.grantTypeAllowed('client_credentials')) {
    throw forbidden('This client is not registered for the admin scope: its metadata must list "admin" in scope and client_credentials in grant_types.');
  }
  return { kind: 'client', actor: `client:${token.clientId}`, userId: null, clientId: token.clientId };
}

/** The administrator (or automation client) behind the request's bearer token, or a 401/403 problem. */
export async function requireAdmin(ctx: Context, deps: AppDeps): Promise<AdminAuth> {
  const { issuer } = deps.config;
  const value = bearerValue(ctx, issuer);
  // Each kind of token lives in its own collection: at most one of these finds it.
  const [accessToken, clientToken] = await Promise.all([
    deps.provider.AccessToken.find(value),
    deps.provider.ClientCredentials.find(value),
  ]);
  if (!accessToken && clientToken) return clientCredentialsAuth(deps, clientToken);

  const { token, client } = await checkAccessToken(deps.provider, issuer, accessToken);
  if (!token.scopes.has(ADMIN_SCOPE)) throw insufficientScope(issuer, ADMIN_SCOPE);
  if (!isFirstParty(client as never)) throw forbidden('Tokens issued to third-party apps cannot use the admin API.');
  const user = await deps.users.findById(token.accountId, { roles: 1, status: 1 }).lean<Pick<User, '_id' | 'roles' | 'status'>>();
  if (!user) throw invalidToken(issuer, 'The account of this access token no longer exists.');
  if (!isAdmin(user)) throw forbidden(`The account of this access token does not have the ${ADMIN_ROLE} role (or is not active).`);
  if (adminsNeedTwoStep(deps.config.policy.mfa) && signInAcrOf(token) !== ACR.mfa) throw twoStepRequired(issuer);
  return { kind: 'admin', actor: `admin:${token.accountId}`, userId: token.accountId, clientId: token.clientId };
}
