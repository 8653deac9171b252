// The portal's front page: who is signed in, the sections, and "sign out everywhere".
import type { Context } from 'koa';
import type { AppDeps } from '../../deps.ts';
import { revokeAccountAccess } from '../../accounts/revocation.ts';
import { requestContext } from '../forms.ts';
import { portalOf, renderPortal } from './page.ts';
import { termsSummary } from './terms-summary.ts';
import { localeOf } from '../locale.ts';

export function showOverview(ctx: Context, deps?: Pick<AppDeps, 'config'>): void {
  const { user } = portalOf(ctx);
  renderPortal(ctx, 'overview', 'overview', {
    title: 'portal.overview.title', name: user.name, email: user.email,
    // The terms accepted, and when (views/account/_terms.pug).
    terms: deps ? termsSummary(user, deps.config.policy.terms, localeOf(ctx)) : null,
  });
}

/** Every session, grant and token of the account, this portal session included. */
export async function signOutEverywhere(ctx: Context, deps: AppDeps, forget: (ctx: Context) => void): Promise<void> {
  const { user } = portalOf(ctx);
  const result = await revokeAccountAccess(deps.db, user._id);
  await deps.audit.record('signout.everywhere', user._id, requestContext(ctx), { sessions: result.sessions, grants: result.grants });
  forget(ctx);
  ctx.status = 303;
  ctx.redirect('/account/signed-out');
}
