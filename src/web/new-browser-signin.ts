// Where the new-browser notice (accounts/new-browser.ts) hears of sign-ins: around the
// provider's resume, after the provider has done its work, so one place sees every way a
// sign-in finishes (password, second factor, passkey, forced change, setting up a factor).
// The browser is the one named by the device cookie that step set; the work runs after
// the answer has gone, so it never delays or fails the sign-in.
import type { Context } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Services } from '../deps.ts';
import { noteSignInBrowser } from '../accounts/new-browser.ts';
import { accountReadIn } from '../oidc/account.ts';
import { responseSent } from '../background.ts';
import { readDevice } from './device-cookie.ts';
import { requestContext } from './forms.ts';

/** The portal page the email points to: the person's sessions, where one they do not know can be ended. */
export const SESSIONS_PAGE = '/account/sessions';

const PASSWORD_SET_COOKIE = 'lk_password_set';

/**
 * After a password was set from an emailed link (invite, reset) or a sign-up confirmed in this
 * browser: the sign-in that follows here is its owner's, not news to tell them (for the sign-in's length).
 */
export function markPasswordSetHere(ctx: Context, userId: string, options: { secure: boolean; signInMinutes: number }): void {
  ctx.cookies.set(PASSWORD_SET_COOKIE, userId, {
    signed: true, httpOnly: true, sameSite: 'lax', secure: options.secure, maxAge: options.signInMinutes * 60_000, overwrite: true,
  });
}

/** A provider middleware (provider.use). */
export function noticingNewBrowsers(services: Pick<Services, 'config' | 'db' | 'users' | 'audit' | 'mailer' | 'tasks'>) {
  const { config } = services;
  const deps = {
    ...services,
    urls: { sessions: () => new URL(SESSIONS_PAGE, config.issuer).href },
    notices: config.policy.notices,
    cookieDays: config.policy.device.cookieDays,
  };
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    await next();
    const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
    if (oidc?.route !== 'resume' || ctx.status >= 400) return;
    const accountId = (oidc.result as { login?: { accountId?: string } } | undefined)?.login?.accountId;
    if (!accountId) return;
    const koa = ctx as unknown as Context;
    const device = readDevice(koa);
    // Every finished sign-in step sets the cookie for its account; without it there is no browser to name.
    if (device?.userId !== accountId) return;
    const passwordSetHere = koa.cookies.get(PASSWORD_SET_COOKIE, { signed: true }) === accountId;
    if (passwordSetHere) koa.cookies.set(PASSWORD_SET_COOKIE, null, { signed: true });
    const context = requestContext(koa);
    // The provider read the account to finish this sign-in: its dates come with it.
    const account = accountReadIn(ctx, accountId);
    services.tasks.run('new-browser notice', () => noteSignInBrowser(deps, { userId: accountId, deviceId: device.deviceId, passwordSetHere, context, account }), {
      after: responseSent(ctx.res),
    });
  };
}
