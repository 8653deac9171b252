// The provider's own pages (protocol errors, logout confirmation, signed out),
// rendered with our templates in the request's language (locales/*/steps.json,
// errors.json). A protocol error's description is the provider's English, shown as
// a detail for the app's developers beside a sentence the person can read.
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Context } from 'koa';
import { renderHtml } from './render.ts';
import { isDatabaseUnavailable } from '../db/connection.ts';
import { DATABASE_UNAVAILABLE } from './middleware/database-gate.ts';
import { errorText } from './middleware/errors.ts';
import { translator } from '../i18n/messages.ts';
import { localeOf } from './locale.ts';

const asKoa = (ctx: KoaContextWithOIDC) => ctx as unknown as Context;

const clientOf = (ctx: KoaContextWithOIDC) => {
  const client = ctx.oidc?.client;
  return client ? { name: client.clientName ?? client.clientId, uri: client.clientUri } : null;
};

export const providerPages = {
  async error(ctx: KoaContextWithOIDC, out: Record<string, string>, error?: Error): Promise<void> {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    if (isDatabaseUnavailable(error)) {
      // The same answer as our own pages give while the database is away.
      ctx.status = DATABASE_UNAVAILABLE.status;
      ctx.set(DATABASE_UNAVAILABLE.headers);
      ctx.body = renderHtml(asKoa(ctx), 'error', { title: errorText(asKoa(ctx), DATABASE_UNAVAILABLE.title), message: errorText(asKoa(ctx), DATABASE_UNAVAILABLE.message) });
      return;
    }
    const t = translator(localeOf(asKoa(ctx)));
    ctx.body = renderHtml(asKoa(ctx), 'error', {
      title: t('errors.provider.title'),
      message: t('errors.provider.message'),
      code: out.error,
      details: out.error_description,
      app: clientOf(ctx),
    });
  },

  async logout(ctx: KoaContextWithOIDC, form: string): Promise<void> {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    // `form` is the provider's hidden form (with its xsrf token); the buttons submit it.
    ctx.body = renderHtml(asKoa(ctx), 'logout', { title: translator(localeOf(asKoa(ctx)))('steps.logout.title'), form, app: clientOf(ctx), host: ctx.host });
  },

  async loggedOut(ctx: KoaContextWithOIDC): Promise<void> {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = renderHtml(asKoa(ctx), 'logged-out', { title: translator(localeOf(asKoa(ctx)))('steps.loggedOut.title'), app: clientOf(ctx) });
  },
};
