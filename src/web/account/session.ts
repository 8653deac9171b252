// Signing in to the account portal: the portal is a relying party of this very
// provider (the first-party public client `latchkey-account`), built with
// openid-client like the demo app. A completed sign-in becomes a portal session:
// a random id in a signed cookie, of which only the SHA-256 is stored.
import { createHash, randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import type { Context, Middleware, Next } from 'koa';
import type { Collection } from 'mongodb';
import type { AppDeps } from '../../deps.ts';
import type { User } from '../../db/models/user.ts';
import { PORTAL_SESSIONS } from '../../accounts/revocation.ts';
import { PORTAL_CLIENT_ID } from '../../oidc/clients.ts';
import { ACR } from '../../oidc/authentication.ts';
import { render } from '../render.ts';
import { localeOf } from '../locale.ts';
import { translator } from '../../i18n/messages.ts';

/** The portal session cookie: the random id, never stored as is. */
export const SESSION_COOKIE = 'lk_account';
/** A sign-in in progress: PKCE verifier, state and where to go afterwards. */
const LOGIN_COOKIE = 'lk_account_login';
const SCOPE = 'openid email profile phone address';

export interface PortalSession {
  /** SHA-256 (hex) of the cookie's random id. */
  _id: string;
  accountId: string;
  /**
   * The provider session this sign-in belongs to (its `uid`). revokeAccountAccess
   * keeps the provider session and the portal sessions carrying this value when a
   * password change signs out the person's *other* devices.
   */
  sid: string | null;
  /** Kept only as the id_token_hint of the sign-out; never logged. */
  idToken: string;
  /**
   * When the person last entered their password at the provider (the ID token's
   * auth_time), which a silent sign-in through an existing provider session does not
   * renew: pages that need a recent sign-in (account/security.ts) read this, not
   * createdAt. Absent on sessions opened before it was recorded: never recent.
   */
  authTime?: Date;
  /**
   * How that sign-in was done (the ID token's acr and amr): the admin console takes
   * only a two-step sign-in when the policy requires it (admin/session.ts). Absent on
   * sessions opened before they were recorded: a password alone.
   */
  acr?: string;
  amr?: string[];
  createdAt: Date;
  expiresAt: Date;
}

/** What requireSession puts in ctx.state.portal. */
export interface Portal {
  session: PortalSession;
  user: User;
}

/** Where a sign-in goes back to after a form that was sent without a session. */
const RETURN_AFTER_POST: Record<string, string> = {
  '/account/profile': '/account/profile',
  '/account/password': '/account/password',
  '/account/apps/revoke': '/account/apps',
  '/account/security/totp': '/account/security',
  '/account/security/totp/confirm': '/account/security',
  '/account/security/recovery-codes': '/account/security',
  '/account/security/remove': '/account/security',
  '/account/data': '/account/data',
  '/account/delete': '/account/delete',
  '/account/email': '/account/email',
  '/account/email/cancel': '/account/email',
};

/** Not pages to come back to after a sign-in. */
const NO_RETURN = new Set(['/account/login', '/account/callback', '/account/logout', '/account/signed-out']);

/** A same-origin path under /account to return to after signing in; anything else is /account. */
export function safeReturn(value: unknown): string {
  if (typeof value !== 'string' || value.length > 512 || !value.startsWith('/') || /[\\\u0000-\u001f\u007f]/.test(value)) return '/account';
  let url: URL;
  try {
    url = new URL(value, 'http://portal.invalid');
  } catch {
    return '/account';
  }
  if (url.origin !== 'http://portal.invalid' || !/^\/account(\/|$)/.test(url.pathname) || NO_RETURN.has(url.pathname)) return '/account';
  return url.pathname + url.search;
}

const hashOf = (id: string) => createHash('sha256').update(id).digest('hex');

export function portalSessions(deps: AppDeps): Collection<PortalSession> {
  return deps.db.collection<PortalSession>(PORTAL_SESSIONS);
}

export function portalAuth(deps: AppDeps) {
  const sessionMs = deps.config.policy.lifetimes.portalSessionHours * 3_600_000;
  const { issuer, secure } = deps.config;
  const log = deps.log;
  const sessions = portalSessions(deps);
  const cookieOptions = { signed: true, httpOnly: true, sameSite: 'lax' as const, secure, overwrite: true, path: '/account' };
  const redirectUri = `${issuer}/account/callback`;

  let configuration: Promise<oidc.Configuration> | undefined;
  const discover = () => (configuration ??= oidc.discovery(new URL(issuer), PORTAL_CLIENT_ID, undefined, oidc.None(), {
    execute: issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
  }).catch((error) => {
    configuration = undefined;
    throw error;
  }));

  /** The unexpired portal session named by this request's cookie, if any. */
  async function findSession(ctx: Context): Promise<PortalSession | null> {
    const id = ctx.cookies.get(SESSION_COOKIE, { signed: true });
    if (!id || !/^[\w-]{43}$/.test(id)) return null;
    return sessions.findOne({ _id: hashOf(id), expiresAt: { $gt: new Date() } });
  }

  /** The session and its person, who must still exist and be active. */
  async function loadSession(ctx: Context): Promise<Portal | null> {
    const session = await findSession(ctx);
    if (!session) return null;
    const user = await deps.users.findById(session.accountId).lean<User>();
    if (!user || user.status !== 'active') {
      await sessions.deleteOne({ _id: session._id });
      return null;
    }
    return { session, user };
  }

  const clearSessionCookie = (ctx: Context) => ctx.cookies.set(SESSION_COOKIE, null, cookieOptions);

  /** Signed in: ctx.state.portal. Otherwise a GET goes to the sign-in and comes back; a POST gets a 401 page. */
  const requireSession: Middleware = async (ctx: Context, next: Next) => {
    const portal = await loadSession(ctx);
    if (!portal) {
      if (ctx.cookies.get(SESSION_COOKIE)) clearSessionCookie(ctx);
      if (ctx.method === 'GET' || ctx.method === 'HEAD') {
        ctx.set('Cache-Control', 'no-store');
        return ctx.redirect(`/account/login?return=${encodeURIComponent(safeReturn(ctx.originalUrl))}`);
      }
      const back = RETURN_AFTER_POST[ctx.path] ?? '/account';
      const t = translator(localeOf(ctx));
      return render(ctx, 'account/message', {
        title: t('portal.session.signedOutTitle'),
        message: t('portal.session.expiredSession'),
        link: { href: `/account/login?return=${encodeURIComponent(back)}`, text: t('portal.session.signInAgain') },
      }, 401);
    }
    ctx.state.portal = portal;
    // The account's language, after the person's own pick and before the browser's (web/locale.ts).
    ctx.state.accountLocale = portal.user.locale;
    await next();
  };

  /**
   * Starts a portal sign-in. With ?fresh=1 (a page that needs a recent sign-in) it goes
   * to the provider even with a portal session, asking for the password again
   * (prompt=login: the provider shows "Confirm it's you"). With ?acr=mfa (the admin
   * console under an mfa policy) it asks for a sign-in with a second factor
   * (acr_values), also when the portal session's sign-in was a password alone.
   */
  async function login(ctx: Context): Promise<void> {
    const returnTo = safeReturn(ctx.query.return);
    const fresh = ctx.query.fresh === '1';
    const mfa = ctx.query.acr === 'mfa';
    const current = fresh ? null : await loadSession(ctx);
    if (current && (!mfa || current.session.acr === ACR.mfa)) return ctx.redirect(returnTo);
    const config = await discover();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    ctx.cookies.set(LOGIN_COOKIE, JSON.stringify({ verifier, state, returnTo }), { ...cookieOptions, maxAge: deps.config.policy.lifetimes.signInMinutes * 60_000 });
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: SCOPE,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...(fresh ? { prompt: 'login' } : {}),
      ...(mfa ? { acr_values: ACR.mfa } : {}),
    }).href);
  }

  /** Back from the provider: exchange the code, check the person, open a portal session, go where they were going. */
  async function callback(ctx: Context): Promise<void> {
    const saved = parseLogin(ctx.cookies.get(LOGIN_COOKIE, { signed: true }));
    ctx.cookies.set(LOGIN_COOKIE, null, cookieOptions);
    if (!saved) {
      return render(ctx, 'account/message', {
        title: translator(localeOf(ctx))('portal.session.expiredTitle'),
        message: translator(localeOf(ctx))('portal.session.expired'),
        link: signInAgain(ctx),
      }, 400);
    }
    const tokens = await exchangeCode(ctx, saved);
    if (!tokens) return;
    const sub = tokens.claims()!.sub;
    const user = await deps.users.findById(sub).lean<User>();
    if (!user || user.status !== 'active') {
      const t = translator(localeOf(ctx));
      return render(ctx, 'account/message', { title: t('portal.session.unavailableTitle'), message: t('portal.session.unavailable') }, 403);
    }
    await openSession(ctx, sub, tokens);
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(saved.returnTo);
  }

  const signInAgain = (ctx: Context, returnTo = '/account') => ({
    href: `/account/login?return=${encodeURIComponent(returnTo)}`, text: translator(localeOf(ctx))('portal.session.signInAgain'),
  });

  /** The tokens for the code in this callback, or nothing (with a page saying why) when the sign-in did not complete. */
  async function exchangeCode(ctx: Context, saved: SavedLogin): Promise<Tokens | null> {
    try {
      const config = await discover();
      // The redirect_uri as registered, whatever Host the request came with.
      const current = new URL(redirectUri);
      current.search = ctx.querystring;
      const tokens = await oidc.authorizationCodeGrant(config, current, { pkceCodeVerifier: saved.verifier, expectedState: saved.state });
      if (!tokens.id_token) throw new Error('no ID token');
      return tokens;
    } catch (error) {
      const code = (error as { error?: string; code?: string }).error ?? (error as { code?: string }).code;
      log.info({ reqId: ctx.state.requestId, reason: code ?? (error as Error).name }, 'portal sign-in did not complete');
      const cancelled = code === 'access_denied';
      const t = translator(localeOf(ctx));
      render(ctx, 'account/message', {
        title: t(cancelled ? 'portal.session.cancelledTitle' : 'portal.session.failedTitle'),
        message: t(cancelled ? 'portal.session.cancelled' : 'portal.session.failed'),
        link: signInAgain(ctx, saved.returnTo),
      }, 400);
      return null;
    }
  }

  /** A new portal session for `sub`, tied to the provider session the tokens came from; a session this browser had before ends. */
  async function openSession(ctx: Context, sub: string, tokens: Tokens): Promise<void> {
    // The ID token carries no sid claim here (no back-channel logout, no claims
    // parameter), and the provider's sid claim is per client anyway; the access
    // token we were just given knows the provider session itself.
    const accessToken = await deps.provider.AccessToken.find(tokens.access_token);
    const sid = accessToken && accessToken.accountId === sub && accessToken.clientId === PORTAL_CLIENT_ID ? accessToken.sessionUid ?? null : null;
    const previous = await findSession(ctx);
    if (previous) await sessions.deleteOne({ _id: previous._id });
    // A fresh id at every sign-in.
    const id = randomBytes(32).toString('base64url');
    const now = new Date();
    const claims = tokens.claims();
    const authTime = claims?.auth_time;
    const acr = claims?.acr;
    const amr: unknown = claims?.amr;
    await sessions.insertOne({
      _id: hashOf(id), accountId: sub, sid, idToken: tokens.id_token!,
      ...(typeof authTime === 'number' ? { authTime: new Date(authTime * 1000) } : {}),
      ...(typeof acr === 'string' ? { acr } : {}),
      ...(Array.isArray(amr) && amr.every((m) => typeof m === 'string') ? { amr: amr as string[] } : {}),
      createdAt: now, expiresAt: new Date(now.getTime() + sessionMs),
    });
    ctx.cookies.set(SESSION_COOKIE, id, { ...cookieOptions, maxAge: sessionMs });
  }

  /** Ends the portal session, then the provider's (RP-initiated logout), which comes back to /account/signed-out. */
  async function logout(ctx: Context): Promise<void> {
    const session = await findSession(ctx);
    clearSessionCookie(ctx);
    ctx.status = 303;
    if (!session) return ctx.redirect('/account/signed-out');
    await sessions.deleteOne({ _id: session._id });
    const config = await discover();
    ctx.redirect(oidc.buildEndSessionUrl(config, {
      id_token_hint: session.idToken,
      post_logout_redirect_uri: `${issuer}/account/signed-out`,
    }).href);
  }

  /** After "sign out everywhere": the session document is already gone with the rest. */
  function forget(ctx: Context): void {
    clearSessionCookie(ctx);
  }

  return { requireSession, login, callback, logout, forget };
}

/** Where a page that needs a recent sign-in sends the person: the provider asks for the password again, then back to `returnTo`. */
export function freshSignInPath(returnTo: string): string {
  return `/account/login?fresh=1&return=${encodeURIComponent(safeReturn(returnTo))}`;
}

export function signedOut(ctx: Context): void {
  const t = translator(localeOf(ctx));
  render(ctx, 'account/message', {
    title: t('portal.session.signedOutTitle'),
    message: t('portal.session.signedOut'),
    link: { href: '/account/login', text: t('portal.session.signInAgain') },
  });
}

/** A portal sign-in in progress, kept in a signed cookie: PKCE verifier, state, where to go afterwards. */
interface SavedLogin {
  verifier: string;
  state: string;
  returnTo: string;
}

type Tokens = oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;

function parseLogin(value: string | undefined): SavedLogin | null {
  try {
    const parsed = value ? JSON.parse(value) : null;
    if (typeof parsed?.verifier !== 'string' || typeof parsed?.state !== 'string') return null;
    return { verifier: parsed.verifier, state: parsed.state, returnTo: safeReturn(parsed.returnTo) };
  } catch {
    return null;
  }
}
