// Who may use the admin console: a person signed in to the account portal (the
// portal's own sign-in through this provider) whose account has the admin role.
//
// The portal's session cookie is scoped to /account, so /admin cannot read it.
// GET /account/admin (under /account, so it can) hands the same portal session
// to /admin: it sets `lk_admin`, a signed cookie scoped to /admin that carries
// the portal session's id. Every /admin request then looks that session up in
// portal_sessions, so the console session ends with the portal's: sign-out,
// expiry, "sign out everywhere", a forced sign-in or a disabled account.
// The admin role is checked on every request, never remembered.
//
// Two-step sign-in: when policy.mfa.require is 'admins' or 'everyone', the console
// takes only a portal session whose sign-in used a second factor (its acr, kept with
// the portal session). An administrator's GET otherwise goes back through the entry,
// which asks the provider for a fresh sign-in with a second factor (prompt=login,
// acr_values) and returns; if that sign-in still comes back without one (no factor
// set up), the entry says so instead of asking again. A POST is refused, unchanged.
import { createHash } from 'node:crypto';
import type { Context, Middleware, Next } from 'koa';
import type { AppDeps } from '../../deps.ts';
import type { User } from '../../db/models/user.ts';
import { isAdmin } from '../../accounts/admin.ts';
import { adminsNeedTwoStep } from '../../accounts/factor-admin.ts';
import { ACR } from '../../oidc/authentication.ts';
import { SESSION_COOKIE, portalSessions, type Portal } from '../account/session.ts';
import { render } from '../render.ts';
import { speakConsoleLanguage, tAdmin } from './page.ts';

export const ADMIN_COOKIE = 'lk_admin';
/** The hand-over from the portal; behind the portal's requireSession. */
export const ENTRY_PATH = '/account/admin';

/** A same-origin path under /admin to go to after signing in; anything else is /admin. */
export function safeAdminReturn(value: unknown): string {
  if (typeof value !== 'string' || value.length > 512 || !/^\/admin(\/|\?|$)/.test(value) || /[\\\u0000-\u001f\u007f]/.test(value)) return '/admin';
  let url: URL;
  try {
    url = new URL(value, 'http://admin.invalid');
  } catch {
    return '/admin';
  }
  if (url.origin !== 'http://admin.invalid' || !/^\/admin(\/|$)/.test(url.pathname)) return '/admin';
  return url.pathname + url.search;
}

const signInAgain = (returnTo = '/admin') => ({ href: `${ENTRY_PATH}?return=${encodeURIComponent(returnTo)}`, text: tAdmin('admin.signInAgain') });

/** The portal's sign-in asking for the password and a second factor again, then back to the entry (marked as asked). */
const twoStepSignInPath = (returnTo: string) =>
  `/account/login?fresh=1&acr=mfa&return=${encodeURIComponent(`${ENTRY_PATH}?return=${encodeURIComponent(returnTo)}&asked=1`)}`;

export function adminAuth(deps: AppDeps) {
  const sessions = portalSessions(deps);
  const cookieOptions = { signed: true, httpOnly: true, sameSite: 'lax' as const, secure: deps.config.secure, overwrite: true, path: '/admin' };
  /** An administrator whose portal sign-in lacks the second factor the policy requires. */
  const lacksTwoStep = ({ session, user }: Portal) => adminsNeedTwoStep(deps.config.policy.mfa) && isAdmin(user) && session.acr !== ACR.mfa;

  /** GET /account/admin?return=/admin/...: the portal session (ctx.state.portal) goes on to /admin. */
  function enter(ctx: Context): void {
    speakConsoleLanguage(ctx);
    const portal = ctx.state.portal as Portal;
    const { session } = portal;
    const returnTo = safeAdminReturn(ctx.query.return);
    if (lacksTwoStep(portal)) {
      ctx.set('Cache-Control', 'no-store');
      // Asked already and still a password alone: the account has no second factor to give.
      if (ctx.query.asked === '1') {
        return render(ctx, 'admin/message', {
          title: tAdmin('admin.refused.noSecondFactor.title'),
          message: tAdmin('admin.refused.noSecondFactor.message'),
          link: { href: '/account/security', text: tAdmin('admin.refused.noSecondFactor.link') },
        }, 403);
      }
      return ctx.redirect(twoStepSignInPath(returnTo));
    }
    const id = ctx.cookies.get(SESSION_COOKIE, { signed: true })!;
    ctx.cookies.set(ADMIN_COOKIE, id, { ...cookieOptions, maxAge: Math.max(0, new Date(session.expiresAt).getTime() - Date.now()) });
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(returnTo);
  }

  async function load(ctx: Context): Promise<Portal | null> {
    const id = ctx.cookies.get(ADMIN_COOKIE, { signed: true });
    if (!id || !/^[\w-]{43}$/.test(id)) return null;
    const session = await sessions.findOne({ _id: createHash('sha256').update(id).digest('hex'), expiresAt: { $gt: new Date() } });
    if (!session) return null;
    const user = await deps.users.findById(session.accountId).lean<User>();
    if (!user || user.status !== 'active') return null;
    return { session, user };
  }

  /**
   * Signed in with the admin role: ctx.state.admin. Not signed in: a GET goes to the
   * sign-in and comes back, a POST gets a 401 page. Signed in without the role: 403.
   * An administrator without the two-step sign-in the policy requires: a GET goes
   * through the entry (which asks for it), a POST gets a 403 page.
   * Runs before any body is read, so a refused request changes nothing.
   */
  const requireAdmin: Middleware = async (ctx: Context, next: Next) => {
    // First: every console answer, refusals and error pages included, is in the console's language.
    speakConsoleLanguage(ctx);
    const portal = await load(ctx);
    if (!portal) {
      if (ctx.cookies.get(ADMIN_COOKIE)) ctx.cookies.set(ADMIN_COOKIE, null, cookieOptions);
      if (ctx.method === 'GET' || ctx.method === 'HEAD') {
        ctx.set('Cache-Control', 'no-store');
        return ctx.redirect(`${ENTRY_PATH}?return=${encodeURIComponent(safeAdminReturn(ctx.originalUrl))}`);
      }
      return render(ctx, 'admin/message', {
        title: tAdmin('admin.refused.signedOut.title'),
        message: tAdmin('admin.refused.signedOut.message'),
        link: signInAgain(),
      }, 401);
    }
    if (!isAdmin(portal.user)) {
      return render(ctx, 'admin/message', {
        title: tAdmin('admin.refused.notAdmin.title'),
        message: tAdmin('admin.refused.notAdmin.message'),
        link: { href: '/account', text: tAdmin('admin.refused.notAdmin.link') },
      }, 403);
    }
    if (lacksTwoStep(portal)) {
      ctx.set('Cache-Control', 'no-store');
      if (ctx.method === 'GET' || ctx.method === 'HEAD') {
        return ctx.redirect(`${ENTRY_PATH}?return=${encodeURIComponent(safeAdminReturn(ctx.originalUrl))}`);
      }
      return render(ctx, 'admin/message', {
        title: tAdmin('admin.refused.twoStep.title'),
        message: tAdmin('admin.refused.twoStep.message'),
        link: signInAgain(),
      }, 403);
    }
    ctx.state.admin = portal;
    await next();
  };

  return { enter, requireAdmin };
}
