// What every portal page shares: the signed-in person, the nav, the notice a
// successful POST leaves behind (post/redirect/get), words for codes, and dates in
// the page's language. Every text is a key of locales/<lang>/portal.json.
import type { Context } from 'koa';
import { SCOPE_TEXT } from '../interactions/consent.ts';
import { render } from '../render.ts';
import { localeOf } from '../locale.ts';
import { isMessageKey, translator, type Translate } from '../../i18n/messages.ts';
import type { Locale } from '../../i18n/locales.ts';
import type { Portal } from './session.ts';

export type Section = 'data' | 'overview' | 'profile' | 'password' | 'security' | 'apps' | 'activity' | 'sessions';

const NOTICES: Record<string, string> = {
  profile_saved: 'portal.notice.profileSaved',
  password_changed: 'portal.notice.passwordChanged',
  password_changed_signed_out: 'portal.notice.passwordChangedSignedOut',
  app_revoked: 'portal.notice.appRevoked',
  totp_added: 'portal.notice.totpAdded',
  totp_replaced: 'portal.notice.totpReplaced',
  totp_removed: 'portal.notice.totpRemoved',
  recovery_codes_removed: 'portal.notice.recoveryCodesRemoved',
  passkey_added: 'portal.notice.passkeyAdded',
  passkey_renamed: 'portal.notice.passkeyRenamed',
  passkey_removed: 'portal.notice.passkeyRemoved',
  browsers_forgotten: 'portal.notice.browsersForgotten',
  email_change_cancelled: 'portal.notice.emailChangeCancelled',
};

/** Set by requireSession on every portal route. */
export function portalOf(ctx: Context): Portal {
  return ctx.state.portal as Portal;
}

/** The translator of this request's language (the person's pick, the account's locale, the browser's). */
export const portalT = (ctx: Context): Translate => translator(localeOf(ctx));

/**
 * Messages from code that speaks English (shared form helpers, the profile schema of
 * the domain) as keys of the portal's catalog, so a page shows them in its language.
 * A message that is neither a key nor known here is shown as it is.
 */
const KNOWN_ERRORS: Record<string, string> = {
  'This field could not be read.': 'portal.error.unreadable',
  'The form could not be read.': 'portal.error.formUnreadable',
  'Enter your name.': 'portal.profile.error.name',
  'Use a language tag such as en, en-GB or pt-BR.': 'portal.profile.error.locale',
  'Use the international format, such as +44 20 7946 0958.': 'portal.profile.error.phone',
  'This account no longer exists.': 'portal.profile.error.gone',
};

export function localizeErrors(ctx: Context, errors: Record<string, string>): Record<string, string> {
  const t = portalT(ctx);
  return Object.fromEntries(Object.entries(errors).map(([field, message]) => {
    if (isMessageKey(message)) return [field, message];
    if (KNOWN_ERRORS[message]) return [field, KNOWN_ERRORS[message]];
    const max = /^Use at most (\d+) characters\.$/.exec(message);
    if (max) return [field, t('portal.error.maxLength', { max: Number(max[1]) })];
    return [field, message];
  }));
}

export function renderPortal(ctx: Context, view: string, section: Section, locals: Record<string, unknown> = {}, status = 200): void {
  const { user } = portalOf(ctx);
  const t = portalT(ctx);
  const title = locals.title;
  render(ctx, `account/${view}`, {
    section,
    person: { name: user.name || user.email, email: user.email },
    notice: status === 200 ? NOTICES[String(ctx.query.notice)] ?? null : null,
    ...locals,
    // Titles, errors: keys of the catalog, in the page's language.
    title: isMessageKey(title) ? t(title) : title,
    ...(locals.errors ? { errors: localizeErrors(ctx, locals.errors as Record<string, string>) } : {}),
  }, status);
}

/** A successful POST goes back to a page with a notice: 303, so reloading does not resubmit. */
export function seeOther(ctx: Context, path: string, notice?: keyof typeof NOTICES): void {
  ctx.status = 303;
  ctx.redirect(notice ? `${path}?notice=${notice}` : path);
}

/** The scopes an app holds, in the consent page's words (English: the admin console). */
export const scopeText = (scope: string): string => SCOPE_TEXT[scope] ?? scope;

/** The same in the page's language (the portal's catalog); a scope without words is shown as it is. */
export const scopeTextIn = (t: Translate) => (scope: string): string => (isMessageKey(`portal.scope.${scope}`) ? t(`portal.scope.${scope}`) : scope);

/** The Intl locale for dates: English pages keep the day-month-year order they always had. */
const dateLocale = (locale: Locale | 'en-GB'): string => (locale === 'en' ? 'en-GB' : locale);

/** Dates as people read them, in UTC like our emails, in the page's language (English by default). */
export function formatDate(date: Date, locale: Locale | 'en-GB' = 'en-GB'): string {
  return date.toLocaleDateString(dateLocale(locale), { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
}

/** Date and time, in UTC and saying so ("2 Dec 2026, 16:05 UTC"). */
export function formatDateTime(date: Date, locale: Locale | 'en-GB' = 'en-GB'): string {
  return new Intl.DateTimeFormat(dateLocale(locale), {
    day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC', timeZoneName: 'short',
  }).format(date);
}
