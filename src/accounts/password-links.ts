// The password flows that run through an emailed link: invitations (first
// password), resets (forgot password) and email verification (self sign-up).
import type { BackgroundTasks } from '../background.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Db } from 'mongodb';
import type { User, UserModel } from '../db/models/user.ts';
import type { LinkPurpose, LinkState, OneTimeLinks, StoredLink } from './links.ts';
import type { Lockout } from './lockout.ts';
import type { Throttle } from './throttle.ts';
import type { PasswordIssue } from './password-policy.ts';
import { passwordIssues, storePassword, type SetPasswordDeps } from './set-password.ts';
import { revokeAccountAccess } from './revocation.ts';
import { AccountError } from './errors.ts';
import { createUser, findUserByEmail } from './users.ts';
import type { AuditTrail, RequestContext } from './audit.ts';

/** What every flow that sets or changes a password uses, with or without an emailed link. */
export interface PasswordFlowDeps extends SetPasswordDeps {
  db: Db;
  links: OneTimeLinks;
  mailer: Mailer;
  tasks: BackgroundTasks;
  lockout: Lockout;
  throttle: Throttle;
  audit: AuditTrail;
  /** The URLs emails carry: the web layer's pages (web/paths.ts). */
  urls: EmailUrls;
  lifetimeMs: (purpose: LinkPurpose) => number;
  signOutEverywhereOnReset: boolean;
}

/** The purposes of links that are emailed (a first-login link never leaves the browser). */
export type EmailedLinkPurpose = Exclude<LinkPurpose, 'first_login'>;

/** The absolute URLs emails carry, made by the web layer, which owns the pages. */
export interface EmailUrls {
  /** The page an emailed link of this purpose opens, with its token. */
  link(purpose: EmailedLinkPurpose, token: string): string;
  /** "Forgot your password?", for notices that say what to do if it was not you. */
  forgotPassword(): string;
}

// meta.locale: the language of the request that caused it, for an account without a locale of its own.
async function sendLink(deps: PasswordFlowDeps, user: User, purpose: EmailedLinkPurpose, meta: { interactionUid?: string | null; clientId?: string | null; appName?: string; locale?: string | null }): Promise<void> {
  const { token } = await deps.links.issue(user._id, purpose, meta);
  const message = purpose === 'invite' ? 'invite' : purpose === 'reset' ? 'password_reset' : 'verify_email';
  deps.mailer.send(message, {
    to: user.email,
    locale: [user.locale, meta.locale],
    name: user.name || undefined,
    link: deps.urls.link(purpose, token),
    expiresInMs: deps.lifetimeMs(purpose),
    appName: meta.appName,
  }, {
    // An email given up on leaves no valid link behind, so bulk re-runs send it again.
    onFailed: () => deps.links.discard(token),
  });
}

/** Pre-registration: an account with no password, and an email link to choose one. */
export async function inviteUser(deps: PasswordFlowDeps, input: { email: string; name?: string; clientId?: string | null; appName?: string }, context: RequestContext = {}): Promise<User> {
  const user = await createUser(deps, { email: input.email, name: input.name });
  await deps.users.updateOne({ _id: user._id }, { $set: { status: 'invited' } });
  const invited = { ...user, status: 'invited' as const };
  await sendLink(deps, invited, 'invite', { clientId: input.clientId, appName: input.appName, locale: context.locale });
  await deps.audit.record('invite.sent', user._id, context, { clientId: input.clientId ?? null });
  return invited;
}

/** Sends a fresh invitation to an account that has not chosen a password yet. */
export async function resendInvitation(deps: PasswordFlowDeps, user: User, meta: { clientId?: string | null; appName?: string } = {}, context: RequestContext = {}): Promise<void> {
  if (user.status !== 'invited') throw new AccountError('not_invited', `${user.email} has already chosen a password.`);
  await sendLink(deps, user, 'invite', { ...meta, locale: context.locale });
  await deps.audit.record('invite.sent', user._id, context, { resent: true });
}

/** A reset link by email, sent now (an operator's action; the forgot-password page uses requestPasswordReset). */
export async function sendPasswordReset(deps: PasswordFlowDeps, user: User, context: RequestContext = {}): Promise<void> {
  await sendLink(deps, user, 'reset', { locale: context.locale });
  await deps.audit.record('password.reset_requested', user._id, context);
}

/** When background work may start: `after` resolves once the answer has been sent (see BackgroundTasks). */
export interface AfterAnswer {
  after?: Promise<unknown>;
}

/**
 * Work that only some addresses cause (a lookup that finds an account, a link, an email)
 * starts after the answer and a random 0..ENUMERATION_SPREAD_MS later, so that it does not
 * slow the caller's next request either (see BackgroundTasks). An email 0.2 s later makes
 * no difference to a person; a follow-up sent at once meets the 3-6 ms of work about 5% of
 * the time.
 */
export const ENUMERATION_SPREAD_MS = 200;

/**
 * Forgot password. Returns at once; the lookup and the sending start only after the
 * answer is sent (`after`), so the answer and its timing are the same for every email.
 */
export function requestPasswordReset(deps: PasswordFlowDeps, email: string, meta: { interactionUid?: string | null } = {}, context: RequestContext = {}, when: AfterAnswer = {}): void {
  deps.tasks.run('password-reset-request', async () => {
    const user = await findUserByEmail(deps.users, email);
    if (!user || user.status === 'disabled') return;
    // Someone who never chose a password gets their invitation again; an unconfirmed sign-up its verification.
    if (user.status === 'invited') return sendLink(deps, user, 'invite', { locale: context.locale });
    if (user.status === 'unverified') return sendLink(deps, user, 'verify_email', { ...meta, locale: context.locale });
    await sendLink(deps, user, 'reset', { ...meta, locale: context.locale });
    await deps.audit.record('password.reset_requested', user._id, context);
  }, { after: when.after, spreadMs: ENUMERATION_SPREAD_MS });
}

/** Sends a fresh link to whoever an expired or used link belonged to (the expired-link page's button). */
export function resendLinkFor(deps: PasswordFlowDeps, link: StoredLink, when: AfterAnswer = {}, context: RequestContext = {}): void {
  deps.tasks.run('link-resend', async () => {
    const user = await deps.users.findById(link.userId).lean<User>();
    if (!user || user.status === 'disabled') return;
    if (user.status === 'invited') return sendLink(deps, user, 'invite', { clientId: link.clientId, locale: context.locale });
    if (user.status === 'unverified') return sendLink(deps, user, 'verify_email', { locale: context.locale });
    if (link.purpose !== 'verify_email') await sendLink(deps, user, 'reset', { locale: context.locale });
  }, when);
}

export type LinkPasswordResult =
  | { ok: true; user: User; link: StoredLink }
  | { ok: false; state: LinkState; issues?: undefined; user?: User }
  | { ok: false; state: 'valid'; issues: PasswordIssue[]; user: User };

/**
 * Sets a password through an invite or reset link. The policy is checked before
 * the link is used, so a rejected password leaves the link valid; of concurrent
 * submissions exactly one consumes it.
 */
export async function setPasswordWithLink(deps: PasswordFlowDeps, purpose: 'invite' | 'reset', token: unknown, password: unknown, context: RequestContext = {}): Promise<LinkPasswordResult> {
  const { state, link } = await deps.links.inspect(token, purpose);
  if (state !== 'valid') return { ok: false, state };
  const user = await deps.users.findById(link!.userId).lean<User>();
  if (!user || user.status === 'disabled') return { ok: false, state: 'unknown' };

  const issues = await passwordIssues(deps, user, password);
  if (issues.length) return { ok: false, state: 'valid', issues, user };

  const consumed = await deps.links.consume(token, purpose);
  if (!consumed) return { ok: false, state: 'used' };

  // The link arrived by email: that proves the address too.
  await storePassword(deps, user, password as string, { verifyEmail: true });
  await deps.links.revokeAll(user._id, purpose);
  await deps.lockout.clearUser(user._id);
  await deps.throttle.clearEmail(user.email);
  if (purpose === 'reset' && deps.signOutEverywhereOnReset) await revokeAccountAccess(deps.db, user._id);
  await deps.audit.record(purpose === 'reset' ? 'password.reset' : 'invite.accepted', user._id, context, {
    signedOutEverywhere: purpose === 'reset' && deps.signOutEverywhereOnReset,
  });
  if (purpose === 'reset') {
    deps.mailer.send('password_changed', {
      to: user.email, locale: [user.locale, context.locale], name: user.name || undefined, when: new Date(), ip: context.ip ?? undefined,
      link: deps.urls.forgotPassword(),
    });
  }
  return { ok: true, user, link: consumed };
}

/**
 * Self sign-up. The answer, and the work done before it, are the same whether or not
 * the email already has an account: one policy check, one argon2 hash and one insert,
 * which the unique index on the address either takes (a new, unverified account) or
 * refuses (the address is taken, or a concurrent sign-up won). Everything that differs
 * (the verification link, or a note to the owner instead of a page that says "taken")
 * happens after the answer is sent (`after`).
 */
export async function signUp(
  deps: PasswordFlowDeps,
  input: {
    email: string; name: string; password: string; interactionUid?: string | null;
    /** The organisation's terms accepted on the form (accounts/terms.ts), stored with a new account only. */
    termsAccepted?: { version: string; at: Date; clientId: string | null };
  },
  context: RequestContext = {},
  when: AfterAnswer = {},
): Promise<{ ok: true } | { ok: false; issues: PasswordIssue[] }> {
  const issues = deps.policy.check(input.password, { email: input.email, name: input.name });
  if (issues.length) return { ok: false, issues };

  let created: User | null = null;
  try {
    created = await createUser(deps, { email: input.email, name: input.name, password: input.password, status: 'unverified', termsAccepted: input.termsAccepted }, { policyChecked: true });
  } catch (error) {
    if (!(error instanceof AccountError && error.code === 'email_taken')) throw error;
  }
  deps.tasks.run('signup', async () => {
    if (created) {
      await sendLink(deps, created, 'verify_email', { interactionUid: input.interactionUid, locale: context.locale });
      await deps.audit.record('signup.created', created._id, context);
      if (input.termsAccepted) await deps.audit.record('terms.accepted', created._id, context, { version: input.termsAccepted.version, clientId: input.termsAccepted.clientId, via: 'sign_up' });
      return;
    }
    const owner = await findUserByEmail(deps.users, input.email);
    if (owner) deps.mailer.send('signup_existing_account', { to: owner.email, locale: [owner.locale, context.locale], name: owner.name || undefined, link: deps.urls.forgotPassword() });
  }, { after: when.after, spreadMs: ENUMERATION_SPREAD_MS });
  return { ok: true };
}

/** Confirms an address from a verification link; the account becomes able to sign in. */
export async function verifyEmail(deps: PasswordFlowDeps, token: unknown, context: RequestContext = {}): Promise<{ ok: true; link: StoredLink } | { ok: false; state: LinkState }> {
  const { state } = await deps.links.inspect(token, 'verify_email');
  if (state !== 'valid') return { ok: false, state };
  const link = await deps.links.consume(token, 'verify_email');
  if (!link) return { ok: false, state: 'used' };
  await deps.users.updateOne({ _id: link.userId, status: 'unverified' }, { $set: { status: 'active', emailVerified: true } });
  await deps.users.updateOne({ _id: link.userId }, { $set: { emailVerified: true } });
  await deps.audit.record('email.verified', link.userId, context);
  return { ok: true, link };
}
