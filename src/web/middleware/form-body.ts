// URL-encoded form bodies for our POST routes only (the provider parses its own).
// Small limits, and a 415 for anything that is not a form. Refusals are catalog keys
// (locales/*/errors.json): the error page says them in the page's language.
import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware, Next } from 'koa';
import { HttpError } from '../http-error.ts';

const parse = bodyParser({
  enableTypes: ['form'],
  formLimit: '16kb',
  onError: (error) => {
    const status = (error as { status?: number }).status;
    throw new HttpError(status === 413 ? 413 : 400, 'errors.badRequest.title', status === 413 ? 'errors.form.tooLarge' : 'errors.form.unreadable');
  },
});

export const formBody: Middleware = async (ctx: Context, next: Next) => {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    throw new HttpError(415, 'errors.badRequest.title', 'errors.form.notAForm');
  }
  await parse(ctx, next);
};
