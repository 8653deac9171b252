// The password pages outside a sign-in: forgot, reset and invitation links,
// sign-up and email verification.
import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AppDeps } from '../../deps.ts';
import { formBody } from '../middleware/form-body.ts';
import { showForgot, submitForgot } from './forgot.ts';
import { resendLink, showLinkPassword, submitLinkPassword } from './link-password.ts';
import { optionalId } from '../forms.ts';
import { rememberSignIn } from './return-to-sign-in.ts';
import { showSignup, submitSignup, showVerifyEmail, submitVerifyEmail } from './signup.ts';

export function passwordRoutes(deps: AppDeps, csrf: { issue: Middleware; verify: Middleware }): Router {
  const router = new Router();
  router.use(['/password', '/signup', '/email'], csrf.issue);
  const post = [formBody, csrf.verify];
  const rememberSignInOnSuccess: Middleware = async (ctx, next) => {
    await next();
    if (ctx.status !== 200) return;
    const uid = optionalId.parse((ctx.request.body as Record<string, unknown> | undefined)?.interaction);
    rememberSignIn(ctx, uid, { secure: deps.config.secure });
  };

  router.get('/password/forgot', (ctx) => showForgot(ctx, deps));
  // The browser that asks for the email is the one that holds the sign-in it came from (return-to-sign-in.ts).
  router.post('/password/forgot', ...post, rememberSignInOnSuccess, (ctx) => submitForgot(ctx, deps));
  router.get('/password/reset', (ctx) => showLinkPassword(ctx, deps, 'reset'));
  router.post('/password/reset', ...post, (ctx) => submitLinkPassword(ctx, deps, 'reset'));
  router.get('/password/set', (ctx) => showLinkPassword(ctx, deps, 'invite'));
  router.post('/password/set', ...post, (ctx) => submitLinkPassword(ctx, deps, 'invite'));
  router.post('/password/resend', ...post, (ctx) => resendLink(ctx, deps));
  router.get('/signup', (ctx) => showSignup(ctx, deps));
  router.post('/signup', ...post, rememberSignInOnSuccess, (ctx) => submitSignup(ctx, deps));
  router.get('/email/verify', (ctx) => showVerifyEmail(ctx, deps));
  router.post('/email/verify', ...post, (ctx) => submitVerifyEmail(ctx, deps));
  // Where password managers send people to change a password (W3C well-known URL).
  router.get('/.well-known/change-password', (ctx) => {
    ctx.status = 302;
    ctx.redirect('/account/password');
  });
  return router;
}
