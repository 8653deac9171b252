// Pug rendering. Templates compile once per process; every page gets the CSP
// nonce and CSRF token of its request.
import type { Context } from 'koa';
import { template } from '../views.ts';
import { languageLocals } from './locale.ts';

export function renderHtml(ctx: Context, view: string, locals: Record<string, unknown> = {}): string {
  return template(view)({
    cspNonce: ctx.state.cspNonce,
    csrfToken: ctx.state.csrfToken,
    // t(), lang, dir and the language switcher: every page speaks the request's language.
    ...languageLocals(ctx),
    ...locals,
  });
}

export function render(ctx: Context, view: string, locals: Record<string, unknown> = {}, status = 200): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = renderHtml(ctx, view, locals);
}
