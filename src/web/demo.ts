// A tiny relying party at /demo for the quick start: it signs in through this
// very provider with openid-client (code flow + PKCE) and shows what it received.
import Router from '@koa/router';
import * as oidc from 'openid-client';
import type { Context } from 'koa';
import type { AppDeps } from '../deps.ts';
import { demoClient } from '../oidc/clients.ts';
import { render } from './render.ts';

const COOKIE = 'lk_demo';

export function demoRoutes(deps: AppDeps): Router {
  const issuer = deps.config.issuer;
  const client = demoClient(issuer);
  let configuration: Promise<oidc.Configuration> | undefined;
  const discover = () => (configuration ??= oidc.discovery(new URL(issuer), client.client_id, undefined, oidc.None(), {
    execute: issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
  }).catch((error) => {
    configuration = undefined;
    throw error;
  }));
  const cookieOptions = { signed: true, httpOnly: true, sameSite: 'lax' as const, secure: deps.config.secure, overwrite: true };

  const router = new Router({ prefix: '/demo' });

  router.get('/', (ctx) => render(ctx, 'demo', { title: 'Demo app', claims: null }));

  router.get('/login', async (ctx) => {
    const config = await discover();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    ctx.cookies.set(COOKIE, JSON.stringify({ verifier, state }), { ...cookieOptions, maxAge: 10 * 60_000 });
    ctx.redirect(oidc.buildAuthorizationUrl(config, {
      redirect_uri: client.redirect_uris![0]!,
      scope: 'openid email profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    }).href);
  });

  router.get('/callback', async (ctx: Context) => {
    const saved = parse(ctx.cookies.get(COOKIE, { signed: true }));
    ctx.cookies.set(COOKIE, null, cookieOptions);
    if (!saved) return render(ctx, 'demo', { title: 'Demo app', claims: null, error: 'The demo sign-in expired. Start again.' }, 400);
    try {
      const config = await discover();
      const tokens = await oidc.authorizationCodeGrant(config, new URL(ctx.href), {
        pkceCodeVerifier: saved.verifier,
        expectedState: saved.state,
      });
      const claims = tokens.claims();
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims!.sub);
      const logout = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${issuer}/demo` });
      render(ctx, 'demo', { title: 'Demo app', claims, userinfo, logout: logout.href });
    } catch (error) {
      render(ctx, 'demo', { title: 'Demo app', claims: null, error: `The sign-in did not complete: ${(error as Error).message}` }, 400);
    }
  });

  return router;
}

function parse(value: string | undefined): { verifier: string; state: string } | null {
  try {
    const parsed = value ? JSON.parse(value) : null;
    return typeof parsed?.verifier === 'string' && typeof parsed?.state === 'string' ? parsed : null;
  } catch {
    return null;
  }
}
