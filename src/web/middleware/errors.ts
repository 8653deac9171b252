// The last line of defence: every error becomes a readable page (or JSON for API
// clients) with its status; never a stack trace.
import type { Middleware } from 'koa';
import type { Logger } from '../../log.ts';
import { HttpError } from '../http-error.ts';
import { render } from '../render.ts';
import { isDatabaseUnavailable } from '../../db/connection.ts';
import { DATABASE_UNAVAILABLE as UNAVAILABLE } from './database-gate.ts';

export function errorPages(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const known = error instanceof HttpError ? error : isDatabaseUnavailable(error) ? UNAVAILABLE : null;
      const status = known?.status ?? ((error as { status?: number; expose?: boolean }).expose ? (error as { status: number }).status : 500);
      if (known === UNAVAILABLE) log.warn({ reqId: ctx.state.requestId, path: ctx.path, err: (error as Error).message }, 'database unavailable');
      else if (status >= 500) log.error({ err: error, reqId: ctx.state.requestId, path: ctx.path }, 'request failed');
      if (known) ctx.set(known.headers);
      const title = known?.title ?? (status >= 500 ? 'Something went wrong' : 'Request not understood');
      const message = known?.message ?? (status >= 500 ? 'We could not complete this request. Please try again in a moment.' : 'The request could not be processed.');
      if (ctx.accepts('html', 'json') === 'json') {
        ctx.status = status;
        ctx.type = 'application/problem+json';
        ctx.body = { type: 'about:blank', title, status, detail: message };
        return;
      }
      render(ctx, 'error', { title, message, requestId: ctx.state.requestId }, status);
    }
  };
}
