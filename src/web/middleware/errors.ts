// The last line of defence: every error becomes a readable page (or JSON for API
// clients) with its status; never a stack trace. Pages speak the request's language:
// titles and messages are catalog keys (locales/*/errors.json), translated here with
// the error's values; a text that is not a key (a domain refusal's own words) shows as
// it is. JSON answers stay in English, as every API answer does.
import type { Context, Middleware } from 'koa';
import type { Logger } from '../../log.ts';
import { HttpError, inEnglish } from '../http-error.ts';
import { render } from '../render.ts';
import { localeOf } from '../locale.ts';
import { isMessageKey, translator, type MessageValues } from '../../i18n/messages.ts';
import { isDatabaseUnavailable } from '../../db/connection.ts';
import { DATABASE_UNAVAILABLE as UNAVAILABLE } from './database-gate.ts';

/** A title or message of an error in the request's language (English without a request): a key translated with the error's values, any other text as it is. */
export function errorText(ctx: Context | null, text: string, values: MessageValues = {}): string {
  if (!ctx) return inEnglish(text, values);
  return isMessageKey(text) ? translator(localeOf(ctx))(text, values) : text;
}

const wantsJson = (ctx: Context) => ctx.accepts('html', 'json') === 'json';

export function errorPages(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      // Nothing answered (no route, and the provider had nothing either): a page saying so.
      if (ctx.status === 404 && ctx.body == null && (ctx.method === 'GET' || ctx.method === 'HEAD') && !wantsJson(ctx)) {
        render(ctx, 'error', { title: errorText(ctx, 'errors.notFound.title'), message: errorText(ctx, 'errors.notFound.message'), requestId: ctx.state.requestId }, 404);
      }
    } catch (error) {
      const known = error instanceof HttpError ? error : isDatabaseUnavailable(error) ? UNAVAILABLE : null;
      const status = known?.status ?? ((error as { status?: number; expose?: boolean }).expose ? (error as { status: number }).status : 500);
      if (known === UNAVAILABLE) log.warn({ reqId: ctx.state.requestId, path: ctx.path, err: (error as Error).message }, 'database unavailable');
      else if (status >= 500) log.error({ err: error, reqId: ctx.state.requestId, path: ctx.path }, 'request failed');
      if (known) ctx.set(known.headers);
      const title = known?.title ?? (status >= 500 ? 'errors.generic.title' : 'errors.badRequest.title');
      const message = known?.message ?? (status >= 500 ? 'errors.generic.message' : 'errors.badRequest.message');
      const values = known?.values ?? {};
      if (wantsJson(ctx)) {
        ctx.status = status;
        ctx.type = 'application/problem+json';
        ctx.body = { type: 'about:blank', title: errorText(null, title, values), status, detail: errorText(null, message, values) };
        return;
      }
      render(ctx, 'error', { title: errorText(ctx, title, values), message: errorText(ctx, message, values), requestId: ctx.state.requestId }, status);
    }
  };
}
