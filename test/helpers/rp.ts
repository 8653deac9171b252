// A relying party built with openid-client, signing in through the server's
// real pages with an Agent.
import * as oidc from 'openid-client';
import type { ClientMetadata } from 'oidc-provider';
import { Agent, formOn, type Page } from './agent.ts';

export const RP_CALLBACK = 'http://127.0.0.1:9/callback';

export function publicClient(overrides: Partial<ClientMetadata> = {}): ClientMetadata {
  return {
    client_id: 'test-app',
    client_name: 'Test App',
    token_endpoint_auth_method: 'none',
    redirect_uris: [RP_CALLBACK],
    post_logout_redirect_uris: ['http://127.0.0.1:9/signed-out'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    first_party: true,
    ...overrides,
  } as ClientMetadata;
}

export function confidentialClient(overrides: Partial<ClientMetadata> = {}): ClientMetadata {
  return publicClient({
    client_id: 'test-backend',
    client_secret: 'a-test-secret-that-is-long-enough-000',
    token_endpoint_auth_method: 'client_secret_basic',
    ...overrides,
  });
}

export async function discover(issuer: string, client: ClientMetadata): Promise<oidc.Configuration> {
  const auth = client.token_endpoint_auth_method === 'none' ? oidc.None() : oidc.ClientSecretBasic(client.client_secret!);
  return oidc.discovery(new URL(issuer), client.client_id, { client_secret: client.client_secret }, auth, { execute: [oidc.allowInsecureRequests] });
}

export interface Authorization {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

export async function startAuthorization(config: oidc.Configuration, params: Record<string, string> = {}): Promise<Authorization> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: RP_CALLBACK,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, verifier, state, nonce };
}

/** Opens the authorization URL and returns the sign-in page it lands on. */
export async function openSignIn(agent: Agent, authorization: Authorization): Promise<Page> {
  return agent.follow(authorization.url.href, {}, RP_CALLBACK);
}

/** Submits the sign-in form on `page`; returns the page after it (or the callback URL). */
export async function submitSignIn(agent: Agent, page: Page, email: string, password: string): Promise<Page> {
  const form = formOn(page.body, /\/login$/);
  return agent.follow(new URL(form.action, page.url).href, { form: { ...form.fields, email, password } }, RP_CALLBACK);
}

/** The whole front channel: authorization request, sign-in, (consent,) back at the callback with a code. */
export async function signIn(
  config: oidc.Configuration,
  agent: Agent,
  email: string,
  password: string,
  params: Record<string, string> = {},
): Promise<{ tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers; authorization: Authorization }> {
  const authorization = await startAuthorization(config, params);
  let page = await openSignIn(agent, authorization);
  if (!page.url.startsWith(RP_CALLBACK) && /\/login"/.test(page.body)) page = await submitSignIn(agent, page, email, password);
  if (!page.url.startsWith(RP_CALLBACK) && /\/confirm"/.test(page.body)) {
    const form = formOn(page.body, /\/confirm$/);
    page = await agent.follow(new URL(form.action, page.url).href, { form: form.fields }, RP_CALLBACK);
  }
  if (!page.url.startsWith(RP_CALLBACK)) throw new Error(`sign-in did not reach the callback (status ${page.status}):\n${page.body.slice(0, 1500)}`);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url), {
    pkceCodeVerifier: authorization.verifier,
    expectedState: authorization.state,
    expectedNonce: authorization.nonce,
  });
  return { tokens, authorization };
}
