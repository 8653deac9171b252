// The provider's own pages (protocol errors, logout confirmation, signed out),
// rendered with our templates.
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Context } from 'koa';
import { renderHtml } from './render.ts';
import { isDatabaseUnavailable } from '../db/connection.ts';
import { DATABASE_UNAVAILABLE } from './middleware/database-gate.ts';

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
      ctx.body = renderHtml(asKoa(ctx), 'error', { title: DATABASE_UNAVAILABLE.title, message: DATABASE_UNAVAILABLE.message });
      return;
    }
    ctx.body = renderHtml(asKoa(ctx), 'error', {
      title: 'This sign-in could not continue',
      message: out.error_description ?? 'The request was not valid.',
      code: out.error,
      app: clientOf(ctx),
    });
  },

  async logout(ctx: KoaContextWithOIDC, form: string): Promise<void> {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    // `form` is the provider's hidden form (with its xsrf token); the buttons submit it.
    ctx.body = renderHtml(asKoa(ctx), 'logout', { title: 'Sign out', form, app: clientOf(ctx), host: ctx.host });
  },

  async loggedOut(ctx: KoaContextWithOIDC): Promise<void> {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = renderHtml(asKoa(ctx), 'logged-out', { title: 'Signed out', app: clientOf(ctx) });
  },
};
