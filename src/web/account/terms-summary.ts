// The terms line of the portal's overview (views/account/_terms.pug): the version the
// person accepted and when, with a link to the terms; or that the version in force is
// still to be accepted (their next sign-in asks).
import type { User } from '../../db/models/user.ts';
import type { Policy } from '../../config.ts';
import type { Locale } from '../../i18n/locales.ts';
import { currentTerms } from '../../accounts/terms.ts';
import { formatDateTime } from './page.ts';

export interface TermsSummary {
  url: string;
  version: string;
  /** The accepted version and when, in the page's language; null: not accepted (or an older version). */
  accepted: { version: string; when: string; iso: string } | null;
}

export function termsSummary(user: Pick<User, 'termsAccepted'>, policy: Policy['terms'], locale: Locale): TermsSummary | null {
  const terms = currentTerms(policy);
  if (!terms) return null;
  const accepted = user.termsAccepted;
  const current = accepted?.version === terms.version && accepted.at;
  return {
    url: terms.url,
    version: terms.version,
    accepted: current ? { version: accepted.version!, when: formatDateTime(new Date(accepted.at!), locale), iso: new Date(accepted.at!).toISOString() } : null,
  };
}
