// Pug rendering. Templates compile once per process; every page gets the CSP
// nonce and CSRF token of its request.
import pug from 'pug';
import { join, resolve } from 'node:path';
import type { Context } from 'koa';

export const VIEWS_DIR = resolve(import.meta.dirname, '../../views');
const compiled = new Map<string, pug.compileTemplate>();

function template(name: string): pug.compileTemplate {
  let fn = compiled.get(name);
  if (!fn) {
    fn = pug.compileFile(join(VIEWS_DIR, `${name}.pug`), { basedir: VIEWS_DIR });
    compiled.set(name, fn);
  }
  return fn;
}

export function renderHtml(ctx: Context, view: string, locals: Record<string, unknown> = {}): string {
  return template(view)({
    cspNonce: ctx.state.cspNonce,
    csrfToken: ctx.state.csrfToken,
    ...locals,
  });
}

export function render(ctx: Context, view: string, locals: Record<string, unknown> = {}, status = 200): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = renderHtml(ctx, view, locals);
}
