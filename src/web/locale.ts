// The language of a page (i18n/locales.ts chooses; this file reads the request) and
// the switcher that lets the person pick another, remembered in a cookie.
import type { Context } from 'koa';
import { chooseLocale, directionOf, isLocale, LOCALE_NAMES, LOCALES, type Locale } from '../i18n/locales.ts';
import type { Theme } from './theme.ts';
import { isMessageKey, translateHtml, translator, type MessageValues, type Translate } from '../i18n/messages.ts';

export const LANG_COOKIE = 'lk_lang';
export const PRODUCT_NAME = 'Latchkey';
const YEAR_MS = 365 * 86_400_000;

/**
 * The request's language: the sign-in's ui_locales (withInteraction keeps them in
 * ctx.state.uiLocales), the person's pick (cookie), the account's locale once known
 * (ctx.state.accountLocale), Accept-Language, English. Chosen once per request.
 */
export function localeOf(ctx: Context): Locale {
  if (isLocale(ctx.state.locale)) return ctx.state.locale;
  const locale = chooseLocale({
    uiLocales: ctx.state.uiLocales,
    picked: ctx.cookies.get(LANG_COOKIE),
    account: ctx.state.accountLocale,
    acceptLanguage: ctx.acceptsLanguages(),
  });
  ctx.state.locale = locale;
  return locale;
}

/** What every page template gets to speak the request's language. */
export function languageLocals(ctx: Context): {
  t: Translate; tHtml: (key: string, values?: MessageValues) => string; say: (message: unknown) => string;
  lang: Locale; dir: 'ltr' | 'rtl'; languages: Array<{ code: Locale; name: string }>; here: string; product: string;
  brand: { logo: boolean; supportEmail: string | null; supportUrl: string | null };
} {
  const theme = ctx.state.theme as Pick<Theme, 'productName' | 'logo' | 'supportEmail' | 'supportUrl'> | undefined;
  const lang = localeOf(ctx);
  const t = translator(lang);
  return {
    t,
    tHtml: (key, values) => translateHtml(lang, key, values),
    // A message that is a catalog key is translated; a text from a page not converted yet is shown as it is.
    say: (message) => (isMessageKey(message) ? t(message) : String(message ?? '')),
    lang,
    dir: directionOf(lang),
    languages: LOCALES.map((code) => ({ code, name: LOCALE_NAMES[code] })),
    here: ctx.originalUrl,
    // The product's name as people know it (policy theme.productName): the same in every language.
    product: theme?.productName ?? PRODUCT_NAME,
    // The organisation's logo (/assets/logo) and where to get help, when configured.
    brand: { logo: Boolean(theme?.logo), supportEmail: theme?.supportEmail ?? null, supportUrl: theme?.supportUrl ?? null },
  };
}

/** A same-origin path to go back to after switching, or "/account". */
function safeReturn(value: unknown): string {
  if (typeof value !== 'string' || value.length > 2048 || !value.startsWith('/') || value.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(value)) return '/account';
  return value;
}

/**
 * POST /language (lang, return): remembers the pick for a year and goes back. A form,
 * not a link, so the page's URL (which may hold a one-time token) travels in a body,
 * never in a logged query string. No CSRF token: all another site could do is change
 * the language, and the pages without forms have no token to send.
 */
export function switchLanguage(ctx: Context, options: { secure: boolean }): void {
  const body = (ctx.request.body ?? {}) as Record<string, unknown>;
  if (isLocale(body.lang)) {
    ctx.cookies.set(LANG_COOKIE, body.lang, { httpOnly: true, sameSite: 'lax', secure: options.secure, maxAge: YEAR_MS, overwrite: true });
  }
  ctx.status = 303;
  ctx.set('Cache-Control', 'no-store');
  ctx.redirect(safeReturn(body.return));
}
