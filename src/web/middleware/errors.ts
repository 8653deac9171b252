// The last line of defence: every error becomes a readable page (or JSON for API
// clients) with its status; never a stack trace. Pages speak the request's language:
// titles and messages are catalog keys (locales/*/errors.json), translated here with
// the error's values; a text that is not a key (from code not converted yet) shows as
// it is. JSON answers stay in English, as every API answer does.
import type { Context, Middleware } from 'koa';
import type { Logger } from '../../log.ts';
import { HttpError } from '../http-error.ts';
import { render } from '../render.ts';
import { localeOf } from '../locale.ts';
import { isMessageKey, translator, type MessageValues } from '../../i18n/messages.ts';
import { DEFAULT_LOCALE } from '../../i18n/locales.ts';
import { isDatabaseUnavailable } from '../../db/connection.ts';
import { DATABASE_UNAVAILABLE as UNAVAILABLE } from './database-gate.ts';

/**
 * The English texts of errors thrown by code that does not throw keys yet (app.ts,
 * csrf.ts, form-body.ts, database-gate.ts; login.ts for the sign-in
 * steps' shared sentences) and the keys that say them in every language. An entry
 * can go once its thrower uses the key.
 */
export const KNOWN_TEXTS: Readonly<Record<string, string>> = {
  'Not allowed': 'errors.methodNotAllowed.title',
  'This page does not accept that request.': 'errors.methodNotAllowed.message',
  'Not supported': 'errors.notImplemented.title',
  'This request is not supported.': 'errors.notImplemented.message',
  'Form expired': 'errors.form.expired.title',
  'This form has expired or was sent from another site. Go back, reload the page and try again.': 'errors.form.expired.message',
  'Request not understood': 'errors.badRequest.title',
  'The form could not be read.': 'errors.form.unreadable',
  'The form was too large.': 'errors.form.tooLarge',
  'This page only accepts form submissions.': 'errors.form.notAForm',
  'Temporarily unavailable': 'errors.unavailable.title',
  'We cannot reach our database right now. Please try again in a minute.': 'errors.unavailable.message',
  'Already signed in': 'errors.step.done.title',
  'This step is already done. Go back to the app and start again.': 'errors.step.done',
  'Sign in again': 'errors.step.signInAgain.title',
  'This step was already used. Go back to the app and sign in again.': 'errors.step.used',
  'Too many attempts': 'errors.interaction.throttled.title',
};

/** A title or message of an error in one language: a key translated with the error's values, a known English text by its key, anything else as it is. */
export function errorText(ctx: Context | null, text: string, values: MessageValues = {}): string {
  const t = translator(ctx ? localeOf(ctx) : DEFAULT_LOCALE);
  const key = isMessageKey(text) ? text : KNOWN_TEXTS[text];
  return key ? t(key, values) : text;
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
