// The terms on the console's account page (views/admin/_terms.pug): the version the
// person accepted, when and through which app, and whether it is the one in force.
import type { AccountDetail } from '../../accounts/admin.ts';
import type { Policy } from '../../config.ts';
import { currentTerms } from '../../accounts/terms.ts';
import { formatDateTime } from './page.ts';

export interface ConsoleTerms {
  /** The version in force; null: the organisation has no terms. */
  current: string | null;
  accepted: { version: string; when: string; app: string | null; current: boolean } | null;
}

export function consoleTerms(account: Pick<AccountDetail, 'termsAccepted'>, policy: Policy['terms']): ConsoleTerms {
  const terms = currentTerms(policy);
  const accepted = account.termsAccepted;
  return {
    current: terms?.version ?? null,
    accepted: accepted ? { version: accepted.version, when: formatDateTime(new Date(accepted.at)), app: accepted.clientId, current: accepted.version === terms?.version } : null,
  };
}
