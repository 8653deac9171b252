// The organisation's terms (policy terms: a version and where to read it). A person
// accepts a version; when the organisation publishes another, their next sign-in asks
// again before it goes on to the app (a prompt of the provider's interaction policy,
// oidc/provider.ts, so a browser already signed in is asked too). What is stored is the
// version, the time and the app whose sign-in asked; an app's own terms (its tos_uri)
// are shown beside ours on that page but not recorded: we cannot know their versions.
import type { User, UserModel } from '../db/models/user.ts';
import type { Policy } from '../config.ts';
import type { AuditTrail, RequestContext } from './audit.ts';

export interface CurrentTerms {
  version: string;
  /** An https URL or a path this server answers. */
  url: string;
}

export interface TermsAcceptance {
  version: string;
  at: Date;
  /** The app whose sign-in asked; null at sign-up without one. */
  clientId: string | null;
}

/** The terms in force, or null when the organisation has none (no version configured). */
export function currentTerms(policy: Policy['terms']): CurrentTerms | null {
  return policy.version && policy.url ? { version: policy.version, url: policy.url } : null;
}

/** Whether `user` has still to accept `terms` (never when there are none). */
export function mustAcceptTerms(terms: CurrentTerms | null, user: Pick<User, 'termsAccepted'> | null): boolean {
  return Boolean(terms && user && user.termsAccepted?.version !== terms.version);
}

export interface TermsDeps {
  users: UserModel;
  audit: AuditTrail;
}

/** Whether the account `accountId` has still to accept the terms in force (for the sign-in's prompt). */
export async function termsPending(deps: Pick<TermsDeps, 'users'>, terms: CurrentTerms | null, accountId: string): Promise<boolean> {
  if (!terms) return false;
  const user = await deps.users.findById(accountId, { termsAccepted: 1 }).lean<Pick<User, 'termsAccepted'>>();
  return mustAcceptTerms(terms, user);
}

export type AcceptTermsResult =
  | { ok: true; acceptance: TermsAcceptance }
  /** stale: the page showed another version than the one in force (it changed meanwhile): ask again; inactive: no such active account. */
  | { ok: false; reason: 'stale' | 'inactive' | 'no_terms' };

/**
 * Records that the person accepted `version`, which must be the version in force: a page
 * opened before the terms changed accepts nothing (the person is shown the new ones).
 */
export async function acceptTerms(
  deps: TermsDeps,
  terms: CurrentTerms | null,
  input: { userId: string; version: string; clientId: string | null },
  context: RequestContext = {},
  now = new Date(),
): Promise<AcceptTermsResult> {
  if (!terms) return { ok: false, reason: 'no_terms' };
  if (input.version !== terms.version) return { ok: false, reason: 'stale' };
  const acceptance: TermsAcceptance = { version: terms.version, at: now, clientId: input.clientId };
  const { matchedCount } = await deps.users.updateOne({ _id: input.userId, status: 'active' }, { $set: { termsAccepted: acceptance } });
  if (!matchedCount) return { ok: false, reason: 'inactive' };
  await deps.audit.record('terms.accepted', input.userId, context, { version: terms.version, clientId: input.clientId, via: 'sign_in' });
  return { ok: true, acceptance };
}

/** What a sign-up that accepted `terms` on its form stores with the new account. */
export function acceptanceAtSignUp(terms: CurrentTerms, clientId: string | null, now = new Date()): TermsAcceptance {
  return { version: terms.version, at: now, clientId };
}
