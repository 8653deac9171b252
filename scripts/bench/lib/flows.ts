// The authorization code flow with PKCE, driven over HTTP like a browser and a
// relying party would: against Latchkey's hosted pages, or against the baseline's
// devInteractions (login, then consent). Redirects to the client's redirect_uri
// (127.0.0.1:9, never fetched) end the front channel.
import { Browser, expectStatus, formOn, json, locationOf, pkcePair, request, type Response } from './http.ts';
import type { ClientMetadata } from 'oidc-provider';

export const CALLBACK = 'http://127.0.0.1:9/callback';
export const SCOPE = 'openid email profile';
export const SERVICE_SECRET = 'bench-service-secret-that-is-long-enough-0000';

export type ServerKind = 'latchkey' | 'baseline';

/** The public first-party app the sign-ins go through, and a confidential service for client credentials. */
export function benchClients(kind: ServerKind): ClientMetadata[] {
  return [
    {
      client_id: 'bench-app',
      client_name: 'Bench App',
      token_endpoint_auth_method: 'none',
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...(kind === 'latchkey' ? { first_party: true } : {}),
    },
    {
      client_id: 'bench-service',
      client_secret: SERVICE_SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
  ];
}

export interface Tokens {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
}

/** An authorization in progress, stopped at the sign-in form. */
export interface AtSignIn {
  browser: Browser;
  verifier: string;
  /** Absolute URL the sign-in form posts to, and its hidden fields (CSRF token included). */
  action: string;
  fields: Record<string, string>;
}

function authorizationUrl(issuer: string, challenge: string): string {
  const url = new URL('/auth', issuer);
  url.search = new URLSearchParams({
    client_id: 'bench-app',
    redirect_uri: CALLBACK,
    response_type: 'code',
    scope: SCOPE,
    state: Math.random().toString(36).slice(2),
    nonce: Math.random().toString(36).slice(2),
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  return url.href;
}

/** GET /auth … → the sign-in page, with its cookies (interaction, CSRF) in a fresh browser. */
export async function openSignIn(kind: ServerKind, issuer: string): Promise<AtSignIn> {
  const browser = new Browser();
  const { verifier, challenge } = pkcePair();
  const page = expectStatus(await browser.follow(authorizationUrl(issuer, challenge), {}, CALLBACK), 200);
  const form = kind === 'latchkey' ? formOn(page.body, /\/login$/) : formOn(page.body, /\/interaction\/[^/]+$/);
  return { browser, verifier, action: new URL(form.action, page.url).href, fields: form.fields };
}

/** POSTs the sign-in form; returns the redirect the server answers with (the resumed authorization). */
export async function postSignIn(kind: ServerKind, at: AtSignIn, email: string, password: string): Promise<Response> {
  const form = kind === 'latchkey'
    ? { ...at.fields, email, password }
    : { ...at.fields, prompt: 'login', login: email, password };
  const response = await at.browser.request(at.action, { form });
  if (response.status !== 303 && response.status !== 302) {
    throw new Error(`sign-in POST answered ${response.status}: ${response.body.replace(/\s+/g, ' ').slice(0, 300)}`);
  }
  return response;
}

/** From the sign-in's redirect to the callback (through the baseline's consent page), then the code at /token. */
export async function finishFlow(kind: ServerKind, issuer: string, at: AtSignIn, signedIn: Response): Promise<Tokens> {
  let page = await at.browser.follow(locationOf(signedIn), {}, CALLBACK);
  if (kind === 'baseline' && !page.url.startsWith(CALLBACK)) {
    const form = formOn(expectStatus(page, 200).body, /\/interaction\/[^/]+$/);
    page = await at.browser.follow(new URL(form.action, page.url).href, { form: { ...form.fields, prompt: 'consent' } }, CALLBACK);
  }
  if (!page.url.startsWith(CALLBACK)) throw new Error(`the flow did not reach the callback (status ${page.status}): ${page.body.replace(/\s+/g, ' ').slice(0, 300)}`);
  const code = new URL(page.url).searchParams.get('code');
  if (!code) throw new Error(`no code at the callback: ${page.url}`);
  return json<Tokens>(await request(new URL('/token', issuer), {
    form: { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, client_id: 'bench-app', code_verifier: at.verifier },
  }));
}

/** The whole code flow: authorization request, sign-in, code, token response. */
export async function codeFlow(kind: ServerKind, issuer: string, email: string, password: string): Promise<Tokens> {
  const at = await openSignIn(kind, issuer);
  const signedIn = await postSignIn(kind, at, email, password);
  return finishFlow(kind, issuer, at, signedIn);
}

export async function refresh(issuer: string, refreshToken: string): Promise<Tokens> {
  const tokens = json<Tokens>(await request(new URL('/token', issuer), {
    form: { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'bench-app' },
  }));
  if (!tokens.refresh_token) throw new Error('the refresh grant returned no new refresh token');
  return tokens;
}

const basic = `Basic ${Buffer.from(`${encodeURIComponent('bench-service')}:${encodeURIComponent(SERVICE_SECRET)}`).toString('base64')}`;

export async function clientCredentials(issuer: string): Promise<Tokens> {
  return json<Tokens>(await request(new URL('/token', issuer), {
    form: { grant_type: 'client_credentials' },
    headers: { authorization: basic },
  }));
}

export async function userinfo(issuer: string, accessToken: string): Promise<Record<string, unknown>> {
  return json(await request(new URL('/me', issuer), { headers: { authorization: `Bearer ${accessToken}` } }));
}

export async function discovery(issuer: string): Promise<void> {
  json(await request(new URL('/.well-known/openid-configuration', issuer)));
}

export async function jwks(issuer: string): Promise<void> {
  json(await request(new URL('/jwks', issuer)));
}
