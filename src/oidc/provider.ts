// The OpenID provider's configuration: every choice that differs from
// oidc-provider's defaults is here, with why.
import Provider, { errors, interactionPolicy, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Db } from 'mongodb';
import type { JsonWebKey } from 'node:crypto';
import { adapterFactory } from './adapter.ts';
import { ACR, ACR_VALUES_SUPPORTED } from './authentication.ts';
import { LOCALES } from '../i18n/locales.ts';
import { FIRST_PARTY, REQUIRE_MFA } from './clients.ts';
import { OPERATOR_SCOPES, SCOPE_CLAIMS, SCOPES, findAccountIn } from './account.ts';
import type { UserModel } from '../db/models/user.ts';
import type { Policy } from '../config.ts';
import { CookieSigner } from '../cookie-signing.ts';

// Lifetimes in seconds, as oidc-provider takes them.
const MINUTE = 60;
const DAY = 24 * 60 * MINUTE;

export interface ProviderOptions {
  issuer: string;
  db: Db;
  users: UserModel;
  /** Signing keys, the one to sign with first for each algorithm (see keys.ts). */
  jwks: { keys: JsonWebKey[] };
  /**
   * Cache-Control max-age of the JWKS response, in seconds (JWKS_MAX_AGE_S): no
   * longer than a new key's propagation delay, so relying parties that cache the
   * JWKS as told hold the new key before it signs. Without it: no Cache-Control.
   */
  jwksMaxAgeS?: number;
  cookieKeys: string[];
  secure: boolean;
  trustProxy: boolean;
  clients: ClientMetadata[];
  /** From the policy's `lifetimes` (config.ts). */
  lifetimes: Policy['lifetimes'];
  /**
   * Whether an account has a second factor (step-up with acr_values asks for it) and
   * whether it must sign in with one whatever the app asks (accounts/mfa-policy.ts).
   */
  secondFactorOf(accountId: string): Promise<{ has: boolean; required: boolean }>;
  /** Whether the account has still to accept the organisation's terms in force (accounts/terms.ts); absent: no terms. */
  termsPending?(accountId: string): Promise<boolean>;
  /** Renders the provider's own pages (errors, logout) with our templates. */
  pages: {
    error(ctx: KoaContextWithOIDC, out: Record<string, string>, error: Error): Promise<void>;
    logout(ctx: KoaContextWithOIDC, form: string): Promise<void>;
    loggedOut(ctx: KoaContextWithOIDC): Promise<void>;
  };
}

/**
 * oidc-provider's prompts, with one more reason to ask for the sign-in again when the
 * session's sign-in was not two-step: the app's registration requires it (require_mfa),
 * the account must use a second factor anyway (an operator's request, the policy for
 * everyone or for administrators: the sign-in page then leads to setting one up), or the
 * app asks for it (acr_values with our mfa value) and the account has a second factor
 * to ask for (step-up; acr_values is voluntary, so an account without one gets what it has).
 */
function signInPolicy(secondFactorOf: ProviderOptions['secondFactorOf'], termsPending?: ProviderOptions['termsPending']) {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(new interactionPolicy.Check('acr_mfa', 'Multi-factor authentication was requested', async (ctx) => {
    const { params, session, result } = ctx.oidc;
    const accountId = session?.accountId;
    if (!accountId || session.acr === ACR.mfa || result?.login) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    if (requiresMfa(ctx.oidc.client as never)) return interactionPolicy.Check.REQUEST_PROMPT;
    const requested = String(params?.acr_values ?? '').split(' ').includes(ACR.mfa);
    const status = await secondFactorOf(accountId);
    return status.required || (requested && status.has) ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
  }));
  if (termsPending) policy.add(termsPrompt(termsPending), 1);
  return policy;
}

/**
 * After the sign-in and before consent: the organisation's terms, when the account has not
 * accepted the version in force. A prompt of its own, so a browser signed in already (SSO)
 * is asked too; the page is web/interactions/terms.ts. Its check reads the account, so once
 * the acceptance is stored the prompt is satisfied wherever the sign-in resumes.
 */
function termsPrompt(termsPending: NonNullable<ProviderOptions['termsPending']>) {
  return new interactionPolicy.Prompt({ name: 'terms', requestable: false }, new interactionPolicy.Check('terms_not_accepted', 'The terms must be accepted', async (ctx) => {
    const accountId = ctx.oidc.session?.accountId;
    if (!accountId) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    return (await termsPending(accountId)) ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
  }));
}

/** An absolute https URL without credentials, of reasonable length (what a page may load an image from). */
export function isHttpsUrl(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 2000) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && !url.username && !url.password;
  } catch {
    return false;
  }
}

export const requiresMfa = (client: { [REQUIRE_MFA]?: unknown } | undefined) => client?.[REQUIRE_MFA] === true;

export const isFirstParty = (client: { [FIRST_PARTY]?: unknown } | undefined) => client?.[FIRST_PARTY] === true;

export function createProvider(options: ProviderOptions): Provider {
  const { lifetimes } = options;
  const cookie = { httpOnly: true, sameSite: 'lax' as const, secure: options.secure };
  const configuration: Configuration = {
    adapter: adapterFactory(options.db),
    clients: options.clients,
    jwks: options.jwks as Configuration['jwks'],
    findAccount: findAccountIn(options.users),
    // The scopes' claims; the ID token also says how and when the person signed in (acr, amr, auth_time).
    claims: { ...SCOPE_CLAIMS, openid: [...SCOPE_CLAIMS.openid, 'acr', 'amr', 'auth_time'], sid: null } as unknown as Configuration['claims'],
    // What a sign-in can be (authentication.ts); the ID token carries the acr and amr of the one done.
    acrValues: ACR_VALUES_SUPPORTED,
    // The languages of our pages (i18n/locales.ts); an app's ui_locales chooses among them.
    discovery: { claim_types_supported: ['normal'], ui_locales_supported: [...LOCALES] },
    scopes: [...SCOPES],
    responseTypes: ['code'],
    // A client registered without `scope` may ask for every scope but the operator's
    // (`admin`, `scim`), which only a client whose registration names them can get.
    clientDefaults: {
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: 'RS256',
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPES.filter((scope) => !OPERATOR_SCOPES.includes(scope)).join(' '),
    },
    // Authorization code with PKCE (S256) for every client, confidential ones too.
    pkce: { required: () => true },
    cookies: {
      keys: new CookieSigner(options.cookieKeys),
      names: { session: 'lk_session', interaction: 'lk_interaction', resume: 'lk_resume' },
      long: cookie,
      short: cookie,
    },
    features: {
      devInteractions: { enabled: false },
      // A client may introspect its own tokens; our own confidential apps (APIs) any token.
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) =>
          token.clientId === client.clientId || (client.clientAuthMethod !== 'none' && isFirstParty(client as never)),
      },
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      userinfo: { enabled: true },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: options.pages.logout,
        postLogoutSuccessSource: options.pages.loggedOut,
      },
    },
    extraClientMetadata: {
      // Ours, the app's name per language (RFC 7591 §2.2: client_name#de), and logo_uri
      // listed again so it is checked here: our pages show it, so https only.
      properties: [FIRST_PARTY, REQUIRE_MFA, 'logo_uri', ...LOCALES.map((locale) => `client_name#${locale}`)],
      validator(_ctx, key, value) {
        if ((key === FIRST_PARTY || key === REQUIRE_MFA) && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata(`${key} must be a boolean`);
        }
        if (key === 'logo_uri' && value !== undefined && !isHttpsUrl(value)) {
          throw new errors.InvalidClientMetadata('logo_uri must be an https URL (our pages load the logo from it)');
        }
        if (key.startsWith('client_name#') && value !== undefined && (typeof value !== 'string' || !value.trim() || value.length > 100)) {
          throw new errors.InvalidClientMetadata(`${key} must be a name of 1 to 100 characters`);
        }
      },
    },
    // Each access token remembers how the sign-in behind it was done (token.extra.acr;
    // introspection shows it too): the admin API takes an administrator's token only
    // from a two-step sign-in when policy.mfa.require says so (web/api/admin-auth.ts).
    // From a code, or from the refresh token that carries the code's acr.
    extraTokenClaims: async (ctx, token) => {
      if (token.kind !== 'AccessToken') return undefined;
      const { AuthorizationCode, RefreshToken } = ctx.oidc.entities;
      const acr = (AuthorizationCode ?? RefreshToken)?.acr;
      return typeof acr === 'string' ? { acr } : undefined;
    },
    // Refresh tokens for any client allowed the grant, rotated on every use: a
    // reused refresh token is refused and revokes its grant.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => true,
    // Our own apps get the scopes they ask for without a consent page.
    loadExistingGrant: async (ctx) => {
      const { client, session, provider } = ctx.oidc;
      const grantId = ctx.oidc.result?.consent?.grantId || (client && session?.grantIdFor(client.clientId));
      const existing = grantId ? await provider.Grant.find(grantId) : undefined;
      if (!client || !session?.accountId || !isFirstParty(client as never)) return existing;
      const grant = existing ?? new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
      const claims = [...ctx.oidc.requestParamClaims];
      if (claims.length) grant.addOIDCClaims(claims);
      await grant.save();
      return grant;
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}`, policy: signInPolicy(options.secondFactorOf, options.termsPending) },
    renderError: options.pages.error as unknown as Configuration['renderError'],
    ttl: {
      AccessToken: lifetimes.accessTokenMinutes * MINUTE,
      AuthorizationCode: lifetimes.authorizationCodeSeconds,
      ClientCredentials: lifetimes.clientCredentialsMinutes * MINUTE,
      IdToken: lifetimes.idTokenMinutes * MINUTE,
      Interaction: lifetimes.signInMinutes * MINUTE,
      RefreshToken: lifetimes.refreshTokenDays * DAY,
      Session: lifetimes.sessionDays * DAY,
      Grant: lifetimes.grantDays * DAY,
    },
    clientBasedCORS: (_ctx, origin, client) =>
      [...(client.redirectUris ?? []), ...(client.postLogoutRedirectUris ?? [])].some((uri) => new URL(uri).origin === origin),
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
      introspectionSigningAlgValues: ['RS256', 'ES256'],
    },
  };
  const provider = new Provider(options.issuer, configuration);
  // Behind a TLS terminator the provider must trust X-Forwarded-* to build https URLs.
  provider.proxy = options.trustProxy;
  // oidc-provider sends the JWKS without Cache-Control; clients then guess how long to keep it.
  const { jwksMaxAgeS } = options;
  if (jwksMaxAgeS !== undefined) {
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.oidc?.route === 'jwks' && ctx.status === 200) ctx.set('Cache-Control', `public, max-age=${jwksMaxAgeS}`);
    });
  }
  return provider;
}
