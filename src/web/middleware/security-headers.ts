// Headers for every response. The CSP is set before the provider runs, so its own
// inline scripts (form_post) add their hashes to it; our pages use a nonce.
import { randomBytes } from 'node:crypto';
import type { Context, Middleware } from 'koa';

const IMAGES = "img-src 'self' data:";

/** Lets this response's page show images from `origin` too (an app's logo on its sign-in pages), and nothing else. */
export function allowImagesFrom(ctx: Context, origin: string): void {
  const policy = ctx.response.get('Content-Security-Policy');
  if (policy.includes(IMAGES) && /^https:\/\/[^\s;'",]+$/.test(origin)) ctx.set('Content-Security-Policy', policy.replace(IMAGES, `${IMAGES} ${origin}`));
}

export function securityHeaders(options: { secure: boolean }): Middleware {
  return async (ctx, next) => {
    const nonce = randomBytes(16).toString('base64');
    ctx.state.cspNonce = nonce;
    ctx.set({
      'Content-Security-Policy': [
        "default-src 'self'",
        `script-src 'self' 'nonce-${nonce}'`,
        "style-src 'self'",
        IMAGES,
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
      ].join('; '),
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
      ...(options.secure ? { 'Strict-Transport-Security': 'max-age=63072000; includeSubDomains' } : {}),
    });
    await next();
  };
}
