// The admin console at /admin: accounts, the audit trail and CSV imports, for
// people with the admin role (see session.ts for how they sign in). Every POST is
// checked for the admin first, then read (forms: 16 kB, CSRF; the upload reads
// its own multipart body), then handed to the domain with this admin as actor.
import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AppDeps } from '../../deps.ts';
import { formBody } from '../middleware/form-body.ts';
import { portalAuth } from '../account/session.ts';
import { ENTRY_PATH, adminAuth } from './session.ts';
import {
  showDetail, showList, showNew, submitAdminRole, submitDisabled, submitEdit, submitForceSignIn, submitNew, submitReset,
  submitTemporaryPassword, submitUnlock,
} from './accounts.ts';
import { showAudit } from './audit.ts';
import { downloadReport, importUpload, showImports, showJob } from './imports.ts';

export function adminRoutes(deps: AppDeps, csrf: { issue: Middleware; verify: Middleware }): Router {
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
  router.post('/admin/accounts/:id/unlock', ...post, (ctx) => submitUnlock(ctx, deps));
  router.post('/admin/accounts/:id/disable', ...post, (ctx) => submitDisabled(ctx, deps, true));
  router.post('/admin/accounts/:id/enable', ...post, (ctx) => submitDisabled(ctx, deps, false));
  router.post('/admin/accounts/:id/admin-role', ...post, (ctx) => submitAdminRole(ctx, deps));

  router.get('/admin/audit', ...page, (ctx) => showAudit(ctx, deps));

  router.get('/admin/imports', ...page, (ctx) => showImports(ctx, deps));
  router.post('/admin/imports', auth.requireAdmin, importUpload(deps, csrf));
  router.get('/admin/imports/:id', ...page, (ctx) => showJob(ctx, deps));
  router.get('/admin/imports/:id/report.csv', ...page, (ctx) => downloadReport(ctx, deps));
  return router;
}
