// CSRF for our forms: a random value in a signed, HttpOnly, SameSite cookie; the
// form carries an HMAC of it. A cross-site page can neither read the cookie nor
// compute the token.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, Middleware, Next } from 'koa';
import { HttpError } from '../http-error.ts';

const COOKIE = 'lk_csrf';

export const formExpired = () => new HttpError(403, 'errors.form.expired.title', 'errors.form.expired.message');

export interface Csrf {
  /** Gives the browser a CSRF cookie (pages with forms). */
  issue: Middleware;
  /** Refuses a POST whose _csrf does not match (403 "Form expired"); runs after the body parser. */
  verify: Middleware;
  /** Whether `token` is this browser's CSRF token (for a body read by its handler, as an upload is). */
  accepts(ctx: Context, token: unknown): boolean;
}

export function csrf(options: { secret: string; secure: boolean }): Csrf {
  const tokenFor = (value: string) => createHmac('sha256', options.secret).update(`csrf:${value}`).digest('base64url');

  const issue = async (ctx: Context, next: Next) => {
    let value = ctx.cookies.get(COOKIE, { signed: true });
    if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) {
      value = randomBytes(32).toString('base64url');
      ctx.cookies.set(COOKIE, value, { signed: true, httpOnly: true, sameSite: 'lax', secure: options.secure, overwrite: true });
    }
    ctx.state.csrfCookie = value;
    ctx.state.csrfToken = tokenFor(value);
    await next();
  };

  const accepts = (ctx: Context, sent: unknown): boolean => {
    const value = ctx.cookies.get(COOKIE, { signed: true });
    const expected = value ? Buffer.from(tokenFor(value)) : null;
    const given = typeof sent === 'string' ? Buffer.from(sent) : null;
    return Boolean(expected && given && expected.length === given.length && timingSafeEqual(expected, given));
  };

  // Runs after the body parser: compares the form's _csrf with the cookie's token.
  const verify = async (ctx: Context, next: Next) => {
    if (!accepts(ctx, (ctx.request.body as Record<string, unknown> | undefined)?._csrf)) throw formExpired();
    await next();
  };

  return { issue, verify, accepts };
}
