// Every page and route of Latchkey in one place, by area: open this first to
// find where a URL is handled. Each line names the middleware it passes (a
// session, form body, CSRF check) and the handler in its own module.
//
// Not listed here:
// - the JSON API under /api: one declaration per endpoint in web/api (API_ENDPOINTS
//   in web/api/routes.ts), from which its router and OpenAPI document are made;
// - the provider's own endpoints, mounted last in app.ts: /.well-known/openid-configuration,
//   /auth, /token, /me, /jwks, /session/end, /token/revocation, /token/introspection.
import Router from '@koa/router';
import type { AppDeps } from '../deps.ts';
import { formBody } from './middleware/form-body.ts';
import type { Csrf } from './middleware/csrf.ts';
import { PAGES } from './paths.ts';
import { ASSETS, live, metrics, ready, serveAsset } from './site.ts';
import { switchLanguage } from './locale.ts';
import { showStep, withInteraction } from './interactions/interaction.ts';
import { showSignIn, submitLogin } from './interactions/login.ts';
import { submitSecondFactor } from './interactions/second-factor.ts';
import { passkeyOptions, submitPasskey } from './interactions/passkey.ts';
import { enrolPasskeyOptions, submitEnrolPasskey, submitEnrolTotp } from './interactions/enrol.ts';
import { submitForcedChange } from './interactions/change-password.ts';
import { abort, showConsent, submitConsent } from './interactions/consent.ts';
import { showTerms, submitTerms } from './interactions/terms.ts';
import { showForgot, submitForgot } from './password/forgot.ts';
import { resendLink, showLinkPassword, submitLinkPassword } from './password/link-password.ts';
import { showSignup, showVerifyEmail, submitSignup, submitVerifyEmail } from './password/signup.ts';
import { rememberSignInOfForm } from './password/return-to-sign-in.ts';
import { portalAuth, signedOut } from './account/session.ts';
import { showActivity } from './account/activity.ts';
import { downloadData, showData } from './account/data.ts';
import { DELETE_PAGE, showDelete, showDeleted, submitDelete } from './account/delete.ts';
import { submitRestore } from './interactions/restore.ts';
import { showSessions, submitEndOthers, submitEndSession } from './account/sessions.ts';
import { showApps, submitRevoke } from './account/apps.ts';
import { showOverview, signOutEverywhere } from './account/overview.ts';
import { showPassword, submitPassword } from './account/password.ts';
import { showProfile, submitProfile } from './account/profile.ts';
import {
  showConfirmEmailChange, showEmail, showUndoEmailChange, submitCancelEmailChange, submitConfirmEmailChange, submitEmail, submitUndoEmailChange,
} from './account/email.ts';
import {
  confirmSignInMs, passkeyRegistration, recentSignIn, showSecurity, submitConfirmTotp, submitPasskey as submitNewPasskey, submitRecoveryCodes,
  submitForgetBrowsers, submitRemove, submitRenamePasskey, submitStartTotp,
} from './account/security.ts';
import { ENTRY_PATH, adminAuth } from './admin/session.ts';
import {
  showDetail, showList, showNew, submitAdminRole, submitDisabled, submitEdit, submitForceSignIn, submitNew, submitReset,
  submitRequireEnrolment, submitRemoveFactor, submitResetFactors, submitTemporaryPassword, submitUnlock,
} from './admin/accounts.ts';
import { showAudit } from './admin/audit.ts';
import { submitEndSession as submitEndAccountSession } from './admin/sessions.ts';
import { submitDeleteAccount } from './admin/delete.ts';
import { submitAdminEmail } from './admin/email.ts';
import { downloadReport, importUpload, showImports, showJob } from './admin/imports.ts';
import { showWebhook, showWebhooks, submitDeleteWebhook, submitEditWebhook, submitNewWebhook, submitRedeliver, submitRotateSecret } from './admin/webhooks.ts';
import { apiRoutes } from './api/routes.ts';
import { demoRoutes } from './demo.ts';
import { scimRoutes } from './scim/routes.ts';

/** The routers in the order the app tries them; each answers 405 for a method it does not take. */
export function routes(deps: AppDeps, csrf: Csrf): Router[] {
  return [
    site(deps),
    signInSteps(deps, csrf),
    passwordPages(deps, csrf),
    accountPortal(deps, csrf),
    adminConsole(deps, csrf),
    apiRoutes(deps), // every /api path, errors included, is answered as problem+json
    scimRoutes(deps), // every /scim/v2 path, errors included, is answered in SCIM's terms
    ...(deps.config.demoApp ? [demoRoutes(deps)] : []),
  ];
}

/** Assets, health checks and metrics. */
function site(deps: AppDeps): Router {
  const router = new Router();
  for (const asset of ASSETS) router.get(`/assets/${asset[0]}`, (ctx) => serveAsset(ctx, asset));
  // The organisation's colours and logo (web/theme.ts, policy theme).
  router.get('/assets/theme.css', (ctx) => serveAsset(ctx, ['theme.css', 'text/css', Buffer.from(deps.theme.css)]));
  if (deps.theme.logo) {
    const logo = deps.theme.logo;
    router.get('/assets/logo', (ctx) => serveAsset(ctx, ['logo', logo.type, logo.body]));
  }
  router.get('/healthz/live', (ctx) => live(ctx));
  router.get('/healthz/ready', (ctx) => ready(ctx, deps));
  router.get('/metrics', (ctx) => metrics(ctx, deps));
  router.get('/', (ctx) => ctx.redirect('/.well-known/openid-configuration'));
  // The footer's language switcher (every page): remembers the pick, goes back.
  router.post('/language', formBody, (ctx) => switchLanguage(ctx, { secure: deps.config.secure }));
  return router;
}

/** The hosted steps of an authorization: GET shows the step the provider asks for; each POST completes one. */
function signInSteps(deps: AppDeps, csrf: Csrf): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  router.use(csrf.issue);
  const post = [formBody, csrf.verify];
  router.get('/', showStep(deps, {
    login: (ctx, interaction) => showSignIn(ctx, deps, interaction),
    consent: (ctx, interaction) => showConsent(ctx, interaction),
    terms: (ctx, interaction) => showTerms(ctx, deps, interaction),
  }));
  router.post('/login', ...post, withInteraction(deps, (ctx, interaction) => submitLogin(ctx, deps, interaction)));
  router.post('/second-factor', ...post, withInteraction(deps, (ctx, interaction) => submitSecondFactor(ctx, deps, interaction)));
  // A passkey, alone from the sign-in page or as the second step: the challenge, then the answer.
  router.post('/passkey/options', ...post, withInteraction(deps, (ctx, interaction) => passkeyOptions(ctx, deps, interaction)));
  router.post('/passkey', ...post, withInteraction(deps, (ctx, interaction) => submitPasskey(ctx, deps, interaction)));
  // Setting up a first factor, for a person who must sign in with one and has none yet.
  router.post('/enrol/totp', ...post, withInteraction(deps, (ctx, interaction) => submitEnrolTotp(ctx, deps, interaction)));
  router.post('/enrol/passkey/options', ...post, withInteraction(deps, (ctx, interaction) => enrolPasskeyOptions(ctx, deps, interaction)));
  router.post('/enrol/passkey', ...post, withInteraction(deps, (ctx, interaction) => submitEnrolPasskey(ctx, deps, interaction)));
  router.post('/change-password', ...post, withInteraction(deps, (ctx, interaction) => submitForcedChange(ctx, deps, interaction)));
  router.post('/confirm', ...post, withInteraction(deps, (ctx, interaction) => submitConsent(ctx, deps, interaction)));
  // The organisation's terms when the account has not accepted the version in force: accept, or decline (access_denied).
  router.post('/terms', ...post, withInteraction(deps, (ctx, interaction) => submitTerms(ctx, deps, interaction)));
  // An account scheduled for deletion, its right password given: "Restore it" (restore.ts).
  router.post('/restore', ...post, withInteraction(deps, (ctx, interaction) => submitRestore(ctx, deps, interaction)));
  router.post('/abort', ...post, withInteraction(deps, (ctx) => abort(ctx, deps)));
  return router;
}

/** The password pages outside a sign-in: forgot, links from emails, sign-up and email confirmation. */
function passwordPages(deps: AppDeps, csrf: Csrf): Router {
  const router = new Router();
  router.use(['/password', '/signup', '/email'], csrf.issue);
  const post = [formBody, csrf.verify];
  // The browser that asks for an email is the one holding the sign-in it came from (return-to-sign-in.ts).
  const remembersSignIn = rememberSignInOfForm(deps);

  router.get(PAGES.forgotPassword, (ctx) => showForgot(ctx, deps));
  router.post(PAGES.forgotPassword, ...post, remembersSignIn, (ctx) => submitForgot(ctx, deps));
  router.get(PAGES.resetPassword, (ctx) => showLinkPassword(ctx, deps, 'reset'));
  router.post(PAGES.resetPassword, ...post, (ctx) => submitLinkPassword(ctx, deps, 'reset'));
  router.get(PAGES.setPassword, (ctx) => showLinkPassword(ctx, deps, 'invite'));
  router.post(PAGES.setPassword, ...post, (ctx) => submitLinkPassword(ctx, deps, 'invite'));
  router.post(PAGES.resendLink, ...post, (ctx) => resendLink(ctx, deps));
  router.get(PAGES.signUp, (ctx) => showSignup(ctx, deps));
  router.post(PAGES.signUp, ...post, remembersSignIn, (ctx) => submitSignup(ctx, deps));
  router.get(PAGES.verifyEmail, (ctx) => showVerifyEmail(ctx, deps));
  router.post(PAGES.verifyEmail, ...post, (ctx) => submitVerifyEmail(ctx, deps));
  // Change of email (account/email.ts): GET shows a button or form and never uses the link; the POST does.
  router.get(PAGES.confirmEmailChange, (ctx) => showConfirmEmailChange(ctx, deps));
  router.post(PAGES.confirmEmailChange, ...post, (ctx) => submitConfirmEmailChange(ctx, deps));
  router.get(PAGES.undoEmailChange, (ctx) => showUndoEmailChange(ctx, deps));
  router.post(PAGES.undoEmailChange, ...post, (ctx) => submitUndoEmailChange(ctx, deps));
  // Where password managers send people to change a password (W3C well-known URL).
  router.get('/.well-known/change-password', (ctx) => {
    ctx.status = 302;
    ctx.redirect(PAGES.accountPassword);
  });
  return router;
}

/** The account portal: the person's own profile, password, connected apps and activity, behind a portal session. */
function accountPortal(deps: AppDeps, csrf: Csrf): Router {
  const router = new Router({ prefix: '/account' });
  const auth = portalAuth(deps);
  router.use(csrf.issue);
  const page = [auth.requireSession];
  const post = [formBody, csrf.verify, auth.requireSession];

  router.get('/login', (ctx) => auth.login(ctx));
  router.get('/callback', (ctx) => auth.callback(ctx));
  router.post('/logout', formBody, csrf.verify, (ctx) => auth.logout(ctx));
  router.get('/signed-out', (ctx) => signedOut(ctx));

  router.get('/', ...page, (ctx) => showOverview(ctx, deps));
  router.get('/profile', ...page, (ctx) => showProfile(ctx));
  router.post('/profile', ...post, (ctx) => submitProfile(ctx, deps));
  router.get('/password', ...page, (ctx) => showPassword(ctx, deps));
  router.post('/password', ...post, (ctx) => submitPassword(ctx, deps));
  // Second factors: only with a recent sign-in (an older one confirms the password again first).
  // Changing how one signs in needs the password typed recently (a fresh sign-in at the provider otherwise).
  const recentMs = deps.config.policy.lifetimes.recentSignInMinutes * 60_000;
  const recent = recentSignIn(recentMs);
  router.get('/security', ...page, recent, (ctx) => showSecurity(ctx, deps));
  router.post('/security/totp', ...post, recent, (ctx) => submitStartTotp(ctx, deps));
  router.post('/security/totp/confirm', ...post, recentSignIn(confirmSignInMs(recentMs)), (ctx) => submitConfirmTotp(ctx, deps));
  router.post('/security/recovery-codes', ...post, recent, (ctx) => submitRecoveryCodes(ctx, deps));
  router.post('/security/remove', ...post, recent, (ctx) => submitRemove(ctx, deps));
  router.post('/security/passkeys/options', ...post, recent, (ctx) => passkeyRegistration(ctx, deps));
  // The ceremony can take the person a while: as long as an authenticator app's setup.
  router.post('/security/passkeys', ...post, recentSignIn(confirmSignInMs(recentMs)), (ctx) => submitNewPasskey(ctx, deps));
  router.post('/security/passkeys/rename', ...post, recent, (ctx) => submitRenamePasskey(ctx, deps));
  router.post('/security/trusted-browsers/forget', ...post, recent, (ctx) => submitForgetBrowsers(ctx, deps));
  // Changing the email address: the same recent-sign-in rule (account/email.ts).
  router.get('/email', ...page, recentSignIn(recentMs, '/account/email'), (ctx) => showEmail(ctx, deps));
  router.post('/email', ...post, recentSignIn(recentMs, '/account/email'), (ctx) => submitEmail(ctx, deps));
  // Taking a pending change back only protects the account: no recent sign-in asked.
  router.post('/email/cancel', ...post, (ctx) => submitCancelEmailChange(ctx, deps));
  router.get('/apps', ...page, (ctx) => showApps(ctx, deps));
  router.post('/apps/revoke', ...post, (ctx) => submitRevoke(ctx, deps));
  router.get('/activity', ...page, (ctx) => showActivity(ctx, deps));
  // Sessions and devices: ending one (this browser's signs it out here too), or all but this one.
  router.get('/sessions', ...page, (ctx) => showSessions(ctx, deps));
  router.post('/sessions/end', ...post, (ctx) => submitEndSession(ctx, deps, auth.forget));
  router.post('/sessions/end-others', ...post, (ctx) => submitEndOthers(ctx, deps));
  // Your data: a JSON download of it (rate-limited), and deleting the account (a recent
  // sign-in, then the account's email typed to confirm); the page after it needs no session.
  router.get('/data', ...page, (ctx) => showData(ctx, deps));
  router.post('/data', ...post, (ctx) => downloadData(ctx, deps));
  router.get('/delete', ...page, recentSignIn(recentMs, DELETE_PAGE), (ctx) => showDelete(ctx, deps));
  router.post('/delete', ...post, recentSignIn(recentMs, DELETE_PAGE), (ctx) => submitDelete(ctx, deps, auth.forget));
  router.get('/deleted', (ctx) => showDeleted(ctx));
  router.post('/sign-out-everywhere', ...post, (ctx) => signOutEverywhere(ctx, deps, auth.forget));
  return router;
}

/**
 * The admin console, for people with the admin role (admin/session.ts). Every POST is
 * checked for the admin first, then read (forms: 16 kB, CSRF; the upload reads its
 * own multipart body), then handed to the domain with this admin as actor.
 */
function adminConsole(deps: AppDeps, csrf: Csrf): Router {
  const router = new Router();
  const portal = portalAuth(deps);
  const auth = adminAuth(deps);
  router.use(csrf.issue);
  const page = [auth.requireAdmin];
  const post = [auth.requireAdmin, formBody, csrf.verify];

  // The hand-over from a portal session (signing in first when there is none).
  router.get(ENTRY_PATH, portal.requireSession, (ctx) => auth.enter(ctx));

  router.get('/admin', ...page, (ctx) => showList(ctx, deps));
  router.get('/admin/accounts/new', ...page, (ctx) => showNew(ctx, deps));
  router.post('/admin/accounts', ...post, (ctx) => submitNew(ctx, deps));
  router.get('/admin/accounts/:id', ...page, (ctx) => showDetail(ctx, deps));
  router.post('/admin/accounts/:id/edit', ...post, (ctx) => submitEdit(ctx, deps));
  router.post('/admin/accounts/:id/reset', ...post, (ctx) => submitReset(ctx, deps));
  router.post('/admin/accounts/:id/temporary-password', ...post, (ctx) => submitTemporaryPassword(ctx, deps));
  router.post('/admin/accounts/:id/sign-out', ...post, (ctx) => submitForceSignIn(ctx, deps));
  router.post('/admin/accounts/:id/end-session', ...post, (ctx) => submitEndAccountSession(ctx, deps));
  router.post('/admin/accounts/:id/delete', ...post, (ctx) => submitDeleteAccount(ctx, deps));
  router.post('/admin/accounts/:id/email', ...post, (ctx) => submitAdminEmail(ctx, deps));
  router.post('/admin/accounts/:id/unlock', ...post, (ctx) => submitUnlock(ctx, deps));
  router.post('/admin/accounts/:id/reset-factors', ...post, (ctx) => submitResetFactors(ctx, deps));
  router.post('/admin/accounts/:id/remove-factor', ...post, (ctx) => submitRemoveFactor(ctx, deps));
  router.post('/admin/accounts/:id/require-enrolment', ...post, (ctx) => submitRequireEnrolment(ctx, deps));
  router.post('/admin/accounts/:id/disable', ...post, (ctx) => submitDisabled(ctx, deps, true));
  router.post('/admin/accounts/:id/enable', ...post, (ctx) => submitDisabled(ctx, deps, false));
  router.post('/admin/accounts/:id/admin-role', ...post, (ctx) => submitAdminRole(ctx, deps));

  router.get('/admin/audit', ...page, (ctx) => showAudit(ctx, deps));

  router.get('/admin/imports', ...page, (ctx) => showImports(ctx, deps));
  router.post('/admin/imports', auth.requireAdmin, importUpload(deps, csrf));
  router.get('/admin/imports/:id', ...page, (ctx) => showJob(ctx, deps));
  router.get('/admin/imports/:id/report.csv', ...page, (ctx) => downloadReport(ctx, deps));

  router.get('/admin/webhooks', ...page, (ctx) => showWebhooks(ctx, deps));
  router.post('/admin/webhooks', ...post, (ctx) => submitNewWebhook(ctx, deps));
  router.get('/admin/webhooks/:id', ...page, (ctx) => showWebhook(ctx, deps));
  router.post('/admin/webhooks/:id/edit', ...post, (ctx) => submitEditWebhook(ctx, deps));
  router.post('/admin/webhooks/:id/secret', ...post, (ctx) => submitRotateSecret(ctx, deps));
  router.post('/admin/webhooks/:id/delete', ...post, (ctx) => submitDeleteWebhook(ctx, deps));
  router.post('/admin/webhooks/:id/deliveries/:deliveryId/redeliver', ...post, (ctx) => submitRedeliver(ctx, deps));
  return router;
}
