// Composes the Koa app: cross-cutting middleware, our routes, then the provider
// for everything else (discovery, /auth, /token, /me, /session/end, ...).
import Koa from 'koa';
import mount from 'koa-mount';
import type { AppDeps } from './deps.ts';
import { requestLog } from './web/middleware/request-log.ts';
import { securityHeaders } from './web/middleware/security-headers.ts';
import { errorPages } from './web/middleware/errors.ts';
import { databaseGate } from './web/middleware/database-gate.ts';
import { csrf } from './web/middleware/csrf.ts';
import { routes } from './web/routes.ts';
import { HttpError } from './web/http-error.ts';
import { CookieSigner } from './cookie-signing.ts';

const methodNotAllowed = () => new HttpError(405, 'errors.methodNotAllowed.title', 'errors.methodNotAllowed.message');
const notImplemented = () => new HttpError(501, 'errors.notImplemented.title', 'errors.notImplemented.message');

export function createApp(deps: AppDeps, cookieKeys: string[]): Koa {
  const { config, log } = deps;
  const app = new Koa({ proxy: config.trustProxy });
  // Koa hands app.keys to `cookies`, which takes any keygrip-like signer (koa's types say only string[]).
  app.keys = new CookieSigner(cookieKeys) as unknown as string[];
  app.silent = true; // errors are logged once, by errorPages

  const forms = csrf({ secret: cookieKeys[0]!, secure: config.secure });

  app.use(requestLog(log));
  app.use(deps.metrics.requestTimer());
  app.use(securityHeaders({ secure: config.secure }));
  // Every page shows the organisation's name and logo (web/theme.ts).
  app.use((ctx, next) => {
    ctx.state.theme = deps.theme;
    return next();
  });
  app.use(errorPages(log));
  app.use(databaseGate(deps.connection));
  // Every page and route, by area: web/routes.ts. Each router answers its own paths, with 405 for a method it does not take.
  for (const router of routes(deps, forms)) {
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
