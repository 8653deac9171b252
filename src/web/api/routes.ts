// The JSON APIs under /api. Every path under /api is answered here, errors
// included (problem+json, never an HTML page): an unknown path is a 404, a known
// path with another method a 405 with Allow.
//
// No CORS: these endpoints are for apps' servers, not for browsers on other
// origins, so no Access-Control-* header is sent and a preflight gets nothing that
// would let a cross-origin page call them. Add CORS here (per client origin, as
// the provider's clientBasedCORS does) if browser apps ever need them.
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { AppDeps } from '../../deps.ts';
import { apiErrors, isProblemCode, PlainProblem, PROBLEM_TYPES, problemTypeUri } from './problem.ts';
import { openApiDocument } from './openapi.ts';
import { changeOwnPassword, confirmReset, requestReset } from './password.ts';
import * as admin from './admin.ts';

export function apiRoutes(deps: AppDeps): Router {
  const { issuer } = deps.config;
  const router = new Router();
  const errors = apiErrors(issuer, deps.log);
  const document = openApiDocument(issuer);

  type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  type Handler = (ctx: Context) => Promise<void> | void;
  /** A path and the methods it takes; any other method gets 405 with Allow (OPTIONS: 204 with Allow). */
  const resource = (path: string, handlers: Partial<Record<Method, Handler>>) => {
    const allow = Object.keys(handlers).flatMap((method) => (method === 'GET' ? ['GET', 'HEAD'] : [method])).join(', ');
    for (const [method, handler] of Object.entries(handlers)) {
      router.register(path, method === 'GET' ? ['GET', 'HEAD'] : [method], [errors, handler as Middleware]);
    }
    // Registered after the handlers, so it only runs for the other methods.
    router.all(path, errors, (ctx) => {
      if (ctx.method === 'OPTIONS') {
        ctx.status = 204;
        ctx.set('Allow', allow);
        return;
      }
      throw new PlainProblem(405, 'Method Not Allowed', `This endpoint accepts ${allow} only.`, { Allow: allow });
    });
  };
  const endpoint = (method: Method, path: string, handler: Handler) => resource(path, { [method]: handler });

  endpoint('POST', '/api/account/password', (ctx) => changeOwnPassword(ctx, deps));
  endpoint('POST', '/api/password-resets', (ctx) => requestReset(ctx, deps));
  endpoint('POST', '/api/password-resets/confirm', (ctx) => confirmReset(ctx, deps));
  endpoint('GET', '/api/openapi.json', (ctx) => {
    ctx.body = document;
  });
  endpoint('GET', '/api/problems/:code', (ctx) => {
    const code = ctx.params.code ?? '';
    if (!isProblemCode(code)) throw new PlainProblem(404, 'Not Found', 'There is no problem type of that name.');
    const { status, title, description } = PROBLEM_TYPES[code];
    ctx.body = { type: problemTypeUri(issuer, code), code, status, title, description };
  });
  // The admin API: an administrator's own token from a first-party app, or a client credentials token (admin-auth.ts).
  resource('/api/admin/accounts', { GET: (ctx) => admin.listAccounts(ctx, deps), POST: (ctx) => admin.createAccount(ctx, deps) });
  resource('/api/admin/accounts/:id', { GET: (ctx) => admin.showAccount(ctx, deps), PATCH: (ctx) => admin.updateAccount(ctx, deps) });
  endpoint('POST', '/api/admin/accounts/:id/reset-email', (ctx) => admin.sendResetEmail(ctx, deps));
  endpoint('POST', '/api/admin/accounts/:id/temporary-password', (ctx) => admin.setTemporary(ctx, deps));
  endpoint('POST', '/api/admin/accounts/:id/revoke', (ctx) => admin.revokeAccess(ctx, deps));
  endpoint('POST', '/api/admin/accounts/:id/unlock', (ctx) => admin.unlockAccount(ctx, deps));
  endpoint('POST', '/api/admin/accounts/:id/disable', (ctx) => admin.setAccountDisabled(ctx, deps, true));
  endpoint('POST', '/api/admin/accounts/:id/enable', (ctx) => admin.setAccountDisabled(ctx, deps, false));
  resource('/api/admin/accounts/:id/roles/admin', {
    PUT: (ctx) => admin.setAdminRole(ctx, deps, true),
    DELETE: (ctx) => admin.setAdminRole(ctx, deps, false),
  });
  endpoint('GET', '/api/admin/audit', (ctx) => admin.listAudit(ctx, deps));
  router.all('/api{/*rest}', errors, () => {
    throw new PlainProblem(404, 'Not Found', 'There is no API endpoint at this path.');
  });
  return router;
}
