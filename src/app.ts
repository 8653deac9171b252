// Composes the Koa app: cross-cutting middleware, our routes, then the provider
// for everything else (discovery, /auth, /token, /me, /session/end, ...).
import Koa from 'koa';
import Router from '@koa/router';
import mount from 'koa-mount';
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import type { AppDeps } from './deps.ts';
import { requestLog } from './web/middleware/request-log.ts';
import { securityHeaders } from './web/middleware/security-headers.ts';
import { errorPages } from './web/middleware/errors.ts';
import { databaseGate } from './web/middleware/database-gate.ts';
import { csrf } from './web/middleware/csrf.ts';
import { interactionRoutes } from './web/interactions/routes.ts';
import { demoRoutes } from './web/demo.ts';
import { passwordRoutes } from './web/password/routes.ts';
import { accountRoutes } from './web/account/routes.ts';
import { adminRoutes } from './web/admin/routes.ts';
import { apiRoutes } from './web/api/routes.ts';
import { VIEWS_DIR } from './web/render.ts';
import { HttpError } from './web/http-error.ts';

const assets = [
  ['app.css', 'text/css', readFileSync(join(VIEWS_DIR, 'assets/app.css'))],
  ['strength.js', 'text/javascript', readFileSync(join(VIEWS_DIR, 'assets/strength.js'))],
] as const;

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function safeEqual(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

const methodNotAllowed = () => new HttpError(405, 'Not allowed', 'This page does not accept that request.');
const notImplemented = () => new HttpError(501, 'Not supported', 'This request is not supported.');

export function createApp(deps: AppDeps, cookieKeys: string[]): Koa {
  const { config, log } = deps;
  const app = new Koa({ keys: cookieKeys, proxy: config.trustProxy });
  app.silent = true; // errors are logged once, by errorPages

  const forms = csrf({ secret: cookieKeys[0]!, secure: config.secure });

  const site = new Router();
  for (const [name, type, body] of assets) {
    site.get(`/assets/${name}`, (ctx) => {
      ctx.type = type;
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.body = body;
    });
  }
  // Liveness never asks the database: a restart would not bring it back.
  site.get('/healthz/live', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  site.get('/healthz/ready', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (deps.lifecycle.state !== 'ready') {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', reason: deps.lifecycle.state };
      return;
    }
    try {
      await deps.db.command({ ping: 1 }, { timeoutMS: 2000 });
      ctx.body = { status: 'ok' };
    } catch {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', reason: 'database' };
    }
  });
  site.get('/', (ctx) => ctx.redirect('/.well-known/openid-configuration'));
  site.get('/metrics', async (ctx) => {
    const token = config.metricsToken;
    const allowed = token ? safeEqual(ctx.get('authorization'), `Bearer ${token}`) : LOOPBACK.has(ctx.ip);
    if (!allowed) throw new HttpError(token ? 401 : 403, 'Not allowed', 'Metrics are not public.');
    ctx.type = deps.metrics.registry.contentType;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await deps.metrics.registry.metrics();
  });

  const interactions = interactionRoutes(deps, forms);

  app.use(requestLog(log));
  app.use(deps.metrics.requestTimer());
  app.use(securityHeaders({ secure: config.secure }));
  app.use(errorPages(log));
  app.use(databaseGate(deps.connection));
  app.use(site.routes());
  app.use(async (ctx, next) => {
    // Our pages get a CSRF cookie; protocol endpoints do not need one.
    if (ctx.path.startsWith('/interaction/')) return forms.issue(ctx, next);
    return next();
  });
  // Each router answers its own paths, with 405 for a method it does not take.
  const routers = [
    interactions,
    passwordRoutes(deps, forms),
    accountRoutes(deps, forms),
    adminRoutes(deps, forms),
    apiRoutes(deps), // every /api path, errors included, is answered as problem+json
    ...(config.demoApp ? [demoRoutes(deps)] : []),
  ];
  for (const router of routers) {
    app.use(router.routes());
    app.use(router.allowedMethods({ throw: true, methodNotAllowed, notImplemented }));
  }
  // The provider is looked up per request: a new one replaces it when the signing keys change.
  const mounted = new WeakMap<object, Koa.Middleware>();
  app.use((ctx, next) => {
    const { provider } = deps;
    let middleware = mounted.get(provider);
    if (!middleware) mounted.set(provider, (middleware = mount(provider as unknown as Koa)));
    return middleware(ctx, next);
  });
  return app;
}
