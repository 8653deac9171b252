// The account portal at /account: the person's own profile, password, connected
// apps and activity, behind a portal session (see session.ts).
import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AppDeps } from '../../deps.ts';
import { formBody } from '../middleware/form-body.ts';
import { portalAuth, signedOut } from './session.ts';
import { showOverview, signOutEverywhere } from './overview.ts';
import { showProfile, submitProfile } from './profile.ts';
import { showPassword, submitPassword } from './password.ts';
import { showApps, submitRevoke } from './apps.ts';
import { showActivity } from './activity.ts';

export function accountRoutes(deps: AppDeps, csrf: { issue: Middleware; verify: Middleware }): Router {
  const router = new Router({ prefix: '/account' });
  const auth = portalAuth(deps);
  router.use(csrf.issue);
  const page = [auth.requireSession];
  const post = [formBody, csrf.verify, auth.requireSession];

  router.get('/login', (ctx) => auth.login(ctx));
  router.get('/callback', (ctx) => auth.callback(ctx));
  router.post('/logout', formBody, csrf.verify, (ctx) => auth.logout(ctx));
  router.get('/signed-out', (ctx) => signedOut(ctx));

  router.get('/', ...page, (ctx) => showOverview(ctx));
  router.get('/profile', ...page, (ctx) => showProfile(ctx));
  router.post('/profile', ...post, (ctx) => submitProfile(ctx, deps));
  router.get('/password', ...page, (ctx) => showPassword(ctx, deps));
  router.post('/password', ...post, (ctx) => submitPassword(ctx, deps));
  router.get('/apps', ...page, (ctx) => showApps(ctx, deps));
  router.post('/apps/revoke', ...post, (ctx) => submitRevoke(ctx, deps));
  router.get('/activity', ...page, (ctx) => showActivity(ctx, deps));
  router.post('/sign-out-everywhere', ...post, (ctx) => signOutEverywhere(ctx, deps, auth.forget));
  return router;
}
