// Who may call SCIM (/scim/v2): a client credentials access token (RFC 6749 §4.4)
// with the `scim` scope, of a client whose registration lists `scim` in its scope
// and allows client_credentials. oidc-provider grants a client without `scope`
// metadata any scope it asks for, so the registration is checked here as well
// (the same checks as the admin API's clientCredentialsAuth, web/api/admin-auth.ts).
// A person's access token never provisions, whatever its scopes; `admin` does not
// imply `scim`. Everything is looked up on each request, so revoking the token or
// changing the registration ends access at once.
import type { Context } from 'koa';
import type { Client } from 'oidc-provider';
import type { AppDeps } from '../../deps.ts';
import type { RequestContext } from '../../accounts/audit.ts';
import { requestContext } from '../forms.ts';
import { ScimError } from '../../scim/errors.ts';

export const SCIM_SCOPE = 'scim';

/** RFC 6750 §2.1 b64token, bounded well above the provider's token length. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]{1,512}=*) *$/i;

/** A 401 or 403 with its RFC 6750 challenge. */
const authError = (status: 401 | 403, detail: string, challenge: string) => new ScimError(status, null, detail, { 'WWW-Authenticate': challenge });

const challenge = (issuer: string, params: Record<string, string> = {}) =>
  [`Bearer realm="${issuer}"`, ...Object.entries(params).map(([key, value]) => `${key}="${value.replace(/["\\]/g, '')}"`)].join(', ');

const invalidToken = (issuer: string, detail: string) => authError(401, detail, challenge(issuer, { error: 'invalid_token', error_description: detail }));
const forbidden = (issuer: string, detail: string) => authError(403, detail, challenge(issuer, { error: 'insufficient_scope', scope: SCIM_SCOPE, error_description: detail }));

const registeredScopes = (client: Client) => new Set((client.scope ?? '').split(' ').filter(Boolean));

export interface ScimClient {
  clientId: string;
  /** Who the audit trail names: client:<client_id>. */
  context: RequestContext;
}

export async function requireScimClient(ctx: Context, deps: AppDeps): Promise<ScimClient> {
  const { issuer } = deps.config;
  const header = ctx.get('authorization');
  if (!header || !/^Bearer(\s|$)/i.test(header)) {
    throw authError(401, 'Send a client credentials access token with the scim scope: Authorization: Bearer <token>.', challenge(issuer));
  }
  const value = BEARER.exec(header)?.[1];
  if (!value) throw invalidToken(issuer, 'The Authorization header is not a well-formed bearer token.');

  const token = await deps.provider.ClientCredentials.find(value);
  if (!token || token.isExpired || !token.clientId) throw invalidToken(issuer, 'The access token is unknown, expired or revoked, or not a client credentials token.');
  if (token.isSenderConstrained()) throw invalidToken(issuer, 'Sender-constrained (DPoP or mTLS) access tokens are not accepted here.');
  if (token.aud !== undefined) throw invalidToken(issuer, 'The access token is meant for another audience.');
  const client = await deps.provider.Client.find(token.clientId);
  if (!client) throw invalidToken(issuer, 'The access token is unknown, expired or revoked.');
  if (!token.scopes.has(SCIM_SCOPE)) throw forbidden(issuer, 'The access token was not granted the scim scope.');
  if (!registeredScopes(client).has(SCIM_SCOPE) || !client.grantTypeAllowed('client_credentials')) {
    throw forbidden(issuer, 'This client is not registered for the scim scope: its metadata must list "scim" in scope and client_credentials in grant_types.');
  }
  return { clientId: token.clientId, context: requestContext(ctx, `client:${token.clientId}`) };
}
