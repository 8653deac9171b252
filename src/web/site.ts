// What the site serves besides its pages: static assets, health checks for load
// balancers and orchestrators, and Prometheus metrics.
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Context } from 'koa';
import type { AppDeps } from '../deps.ts';
import { VIEWS_DIR } from '../views.ts';
import { HttpError } from './http-error.ts';

// @simplewebauthn/browser's own bundle (global SimpleWebAuthnBrowser), served from our origin: no CDN.
const WEBAUTHN_BUNDLE = join(dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')), '../dist/bundle/index.umd.min.js');

/** Name, content type and bytes of each asset under /assets. */
export const ASSETS = [
  ['app.css', 'text/css', readFileSync(join(VIEWS_DIR, 'assets/app.css'))],
  ['strength.js', 'text/javascript', readFileSync(join(VIEWS_DIR, 'assets/strength.js'))],
  ['webauthn.js', 'text/javascript', readFileSync(WEBAUTHN_BUNDLE)],
  ['passkey.js', 'text/javascript', readFileSync(join(VIEWS_DIR, 'assets/passkey.js'))],
  ['focus.js', 'text/javascript', readFileSync(join(VIEWS_DIR, 'assets/focus.js'))],
] as const;

export function serveAsset(ctx: Context, [, type, body]: readonly [string, string, Buffer]): void {
  ctx.type = type;
  ctx.set('Cache-Control', 'public, max-age=3600');
  ctx.body = body;
}

/** Liveness never asks the database: a restart would not bring it back. */
export function live(ctx: Context): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { status: 'ok' };
}

/** Ready only when every part is wired, the instance is not draining, and the database answers. */
export async function ready(ctx: Context, deps: AppDeps): Promise<void> {
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
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function safeEqual(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

/** For METRICS_TOKEN's bearer, or (without one) for requests from this machine only. */
export async function metrics(ctx: Context, deps: AppDeps): Promise<void> {
  const token = deps.config.metricsToken;
  const allowed = token ? safeEqual(ctx.get('authorization'), `Bearer ${token}`) : LOOPBACK.has(ctx.ip);
  if (!allowed) throw new HttpError(token ? 401 : 403, 'errors.forbidden.title', 'errors.metrics.message');
  ctx.type = deps.metrics.registry.contentType;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = await deps.metrics.registry.metrics();
}
