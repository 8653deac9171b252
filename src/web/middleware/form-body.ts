// URL-encoded form bodies for our POST routes only (the provider parses its own).
// Small limits, and a 415 for anything that is not a form.
import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware, Next } from 'koa';
import { HttpError } from '../http-error.ts';

const parse = bodyParser({
  enableTypes: ['form'],
  formLimit: '16kb',
  onError: (error) => {
    const status = (error as { status?: number }).status;
    throw new HttpError(status === 413 ? 413 : 400, 'Request not understood', status === 413 ? 'The form was too large.' : 'The form could not be read.');
  },
});

export const formBody: Middleware = async (ctx: Context, next: Next) => {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    throw new HttpError(415, 'Request not understood', 'This page only accepts form submissions.');
  }
  await parse(ctx, next);
};
