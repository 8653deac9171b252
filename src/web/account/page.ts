// What every portal page shares: the signed-in person, the nav, the notice a
// successful POST leaves behind (post/redirect/get), and words for codes.
import type { Context } from 'koa';
import { SCOPE_TEXT } from '../interactions/consent.ts';
import { render } from '../render.ts';
import type { Portal } from './session.ts';

export type Section = 'overview' | 'profile' | 'password' | 'security' | 'apps' | 'activity';

const NOTICES: Record<string, string> = {
  profile_saved: 'Your profile was saved.',
  password_changed: 'Your password was changed.',
  password_changed_signed_out: 'Your password was changed, and your other devices were signed out.',
  app_revoked: 'The app’s access was removed. It will ask you to sign in again.',
  totp_added: 'Your authenticator app is set up. Sign-ins will ask for a code from it.',
  totp_replaced: 'Your new authenticator app is set up and replaces the previous one.',
  totp_removed: 'Your authenticator app was removed. Sign-ins no longer ask for a code.',
  recovery_codes_removed: 'Your recovery codes were removed; none of them works any more.',
  passkey_added: 'Your passkey is ready. You can sign in with it alone, and sign-ins with your password ask for it.',
  passkey_renamed: 'Your passkey was renamed.',
  passkey_removed: 'The passkey was removed. It no longer signs you in.',
  browsers_forgotten: 'Your browsers are no longer trusted: each asks for the second step at its next sign-in.',
};

/** Set by requireSession on every portal route. */
export function portalOf(ctx: Context): Portal {
  return ctx.state.portal as Portal;
}

export function renderPortal(ctx: Context, view: string, section: Section, locals: Record<string, unknown> = {}, status = 200): void {
  const { user } = portalOf(ctx);
  render(ctx, `account/${view}`, {
    section,
    person: { name: user.name || user.email, email: user.email },
    notice: status === 200 ? NOTICES[String(ctx.query.notice)] ?? null : null,
    ...locals,
  }, status);
}

/** A successful POST goes back to a page with a notice: 303, so reloading does not resubmit. */
export function seeOther(ctx: Context, path: string, notice?: keyof typeof NOTICES): void {
  ctx.status = 303;
  ctx.redirect(notice ? `${path}?notice=${notice}` : path);
}

/** The scopes an app holds, in the consent page's words. */

export const scopeText = (scope: string): string => SCOPE_TEXT[scope] ?? scope;

/** Dates as people read them, in UTC like our emails. */
export function formatDate(date: Date): string {
  return date.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
}

export function formatDateTime(date: Date): string {
  const time = date.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'UTC' });
  return `${formatDate(date)}, ${time} UTC`;
}
