// Bearer access tokens (RFC 6750) for the account APIs, checked with the
// provider that issued them: the same lookups its userinfo endpoint makes
// (token, client, grant), plus the `account` scope. Tokens are opaque and looked
// up on every request, so a revoked token stops working at once.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { AccessToken, Client } from 'oidc-provider';
import { ApiProblem } from './problem.ts';

export const ACCOUNT_SCOPE = 'account';

/** RFC 6750 §2.1 b64token, bounded well above the provider's token length. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]{1,512}=*) *$/i;

export interface BearerAuth {
  accountId: string;
  clientId: string;
  grantId: string;
  sessionUid: string | undefined;
}

const challenge = (issuer: string, params: Record<string, string> = {}) =>
  ['Bearer realm="' + issuer + '"', ...Object.entries(params).map(([key, value]) => `${key}="${value}"`)].join(', ');

export function invalidToken(issuer: string, description: string): ApiProblem {
  return new ApiProblem('invalid-token', description, {
    headers: { 'WWW-Authenticate': challenge(issuer, { error: 'invalid_token', error_description: description.replace(/["\\]/g, '') }) },
  });
}

/** 403 for a valid token that was not granted `scope` (RFC 6750 §3.1 insufficient_scope). */
export function insufficientScope(issuer: string, scope: string): ApiProblem {
  return new ApiProblem('insufficient-scope', `The access token was not granted the "${scope}" scope.`, {
    headers: { 'WWW-Authenticate': challenge(issuer, { error: 'insufficient_scope', scope, error_description: `The ${scope} scope is required.` }) },
  });
}

/** The token sent as `Authorization: Bearer <token>`, or a 401 problem. */
export function bearerValue(ctx: Context, issuer: string): string {
  const header = ctx.get('authorization');
  if (!header || !/^Bearer(\s|$)/i.test(header)) {
    // No credentials (or another scheme): RFC 6750 §3.1 says no error code in the challenge.
    throw new ApiProblem('invalid-token', 'Send an access token: Authorization: Bearer <access token>.', {
      headers: { 'WWW-Authenticate': challenge(issuer) },
    });
  }
  const value = BEARER.exec(header)?.[1];
  if (!value) throw invalidToken(issuer, 'The Authorization header is not a well-formed bearer token.');
  return value;
}

/**
 * Checks an access token the provider found as its userinfo endpoint would: not
 * expired, issued for an account, a plain bearer token for us, its client and
 * grant still there and matching. Returns the token's client, or throws a 401.
 */
export async function checkAccessToken(provider: Provider, issuer: string, token: AccessToken | undefined): Promise<{ token: AccessToken & { accountId: string; grantId: string; clientId: string }; client: Client }> {
  if (!token || token.isExpired || !token.accountId || !token.grantId || !token.clientId) throw invalidToken(issuer, 'The access token is unknown, expired or revoked.');
  // DPoP- or certificate-bound tokens need a proof we do not check here: refuse them rather than accept them as bearer tokens.
  if (token.isSenderConstrained()) throw invalidToken(issuer, 'Sender-constrained (DPoP or mTLS) access tokens are not accepted here.');
  // A token minted for another resource server (resource indicators) is not for us.
  if (token.aud !== undefined) throw invalidToken(issuer, 'The access token is meant for another audience.');

  const [client, grant] = await Promise.all([provider.Client.find(token.clientId), provider.Grant.find(token.grantId, { ignoreExpiration: true })]);
  if (!client || !grant || grant.isExpired || grant.clientId !== token.clientId || grant.accountId !== token.accountId) {
    throw invalidToken(issuer, 'The access token is unknown, expired or revoked.');
  }
  return { token: token as AccessToken & { accountId: string; grantId: string; clientId: string }, client };
}

/** The account behind the request's bearer token, or a 401/403 problem. */
export async function requireAccountToken(ctx: Context, provider: Provider, issuer: string): Promise<BearerAuth> {
  const value = bearerValue(ctx, issuer);
  const { token } = await checkAccessToken(provider, issuer, await provider.AccessToken.find(value));
  if (!token.scopes.has(ACCOUNT_SCOPE)) throw insufficientScope(issuer, ACCOUNT_SCOPE);
  return { accountId: token.accountId, clientId: token.clientId, grantId: token.grantId, sessionUid: token.sessionUid };
}
