// The languages of our pages and emails, and how the one for a request is chosen.
//
// Order (OpenID Connect and the person first): the app's `ui_locales` for this sign-in,
// the language the person picked on our pages (a cookie), the account's `locale`, the
// browser's Accept-Language, the configured default. Each is a list of BCP 47 tags,
// best first; malformed or unknown tags are skipped quietly; the best match among
// ours wins (pt → pt-BR, de-AT → de).
import { match } from '@formatjs/intl-localematcher';

export const LOCALES = ['en', 'de', 'fr', 'es', 'pt-BR', 'ja', 'ar'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

/** Each language's own name for itself (the switcher lists them so). */
export const LOCALE_NAMES: Record<Locale, string> = {
  en: 'English', de: 'Deutsch', fr: 'Français', es: 'Español', 'pt-BR': 'Português (Brasil)', ja: '日本語', ar: 'العربية',
};

const RIGHT_TO_LEFT = new Set<Locale>(['ar']);
export const directionOf = (locale: Locale): 'ltr' | 'rtl' => (RIGHT_TO_LEFT.has(locale) ? 'rtl' : 'ltr');

export const isLocale = (value: unknown): value is Locale => typeof value === 'string' && (LOCALES as readonly string[]).includes(value);

/** Well-formed BCP 47 tags of `values`, canonical, at most a few of each source (a header can be long). */
export function wellFormedTags(values: Iterable<unknown>): string[] {
  const tags: string[] = [];
  for (const value of values) {
    if (typeof value !== 'string' || value.length > 35 || value === '*') continue;
    try {
      tags.push(...Intl.getCanonicalLocales(value));
    } catch {
      // Not a language tag: skipped.
    }
    if (tags.length >= 10) break;
  }
  return tags;
}

/** Our best language for `requested` (best first), or null when none of ours is close. */
export function bestLocale(requested: string[]): Locale | null {
  if (!requested.length) return null;
  // 'zxx' (no linguistic content) stands for "none of ours": match() needs a valid tag as its default.
  try {
    const chosen = match(requested, LOCALES as unknown as string[], 'zxx', { algorithm: 'best fit' });
    return isLocale(chosen) ? chosen : null;
  } catch {
    return null; // a tag the matcher cannot take: as if none was given
  }
}

export interface LocaleSources {
  /** The authorization request's ui_locales (space-separated), for a sign-in. */
  uiLocales?: unknown;
  /** The language the person picked on our pages (the lk_lang cookie). */
  picked?: unknown;
  /** The account's locale claim, once the account is known. */
  account?: unknown;
  /** Accept-Language, best first (Koa's ctx.acceptsLanguages()). */
  acceptLanguage?: unknown[];
  fallback?: Locale;
}

/** The language for a page or email, from the sources in order of precedence. */
export function chooseLocale(sources: LocaleSources): Locale {
  const candidates: unknown[][] = [
    typeof sources.uiLocales === 'string' ? sources.uiLocales.slice(0, 200).split(' ') : [],
    [sources.picked],
    [sources.account],
    sources.acceptLanguage ?? [],
  ];
  for (const candidate of candidates) {
    const locale = bestLocale(wellFormedTags(candidate));
    if (locale) return locale;
  }
  return sources.fallback ?? DEFAULT_LOCALE;
}

/**
 * The language of a message to someone, from their preferences best first (their account's
 * locale, then the language of the request that caused it): the first that is one of ours
 * or close to one (de-AT → de, pt → pt-BR); else English.
 */
export function recipientLocale(...preferences: unknown[]): Locale {
  for (const preference of preferences.slice(0, 5)) {
    const locale = bestLocale(wellFormedTags([preference]));
    if (locale) return locale;
  }
  return DEFAULT_LOCALE;
}
