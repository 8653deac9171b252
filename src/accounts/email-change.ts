// Changing an account's email address. Every surface (portal, console, admin API,
// CLI) goes through here:
//
// 1. A request (the person, or an operator in "confirm" mode) stores a record in
//    email_changes and mails a one-time link (purpose email_change) to the new
//    address. Nothing about the account changes yet. The person's answer is the same
//    whether the new address is free or taken: which of the two emails goes out (the
//    link, or a note to the address's owner that nothing changed) is decided after the
//    answer is sent, like sign-up (password-links.ts).
// 2. The link, used (a POST: mail scanners open links), moves the account to the new
//    address in one conditional update that the unique index on emailNormalized
//    guards: of two accounts confirming the same new address at once exactly one
//    wins; the other is told, neutrally, that the change could not be made.
// 3. The old address gets a notice with an undo link (purpose email_change_undo,
//    policy links.emailChangeUndoDays). Undoing asks for a new password (whoever made
//    the change may know the old one), restores the old address if it is still free,
//    and ends every session, grant and token of the account.
// 4. An operator's override changes the address at once (audited with the operator as
//    actor); the old address is told an administrator did it and whom to ask. It has
//    no undo link: the operator decided, and a link would let the old mailbox (perhaps
//    the very reason for the change) overturn that decision.
//
// email_changes keeps the history (addresses and dates, link ids that are hashes,
// never a token) for the person's data export (emailHistoryOf); it goes with the
// account (deletion.ts ACCOUNT_RECORDS). Audit details carry the change's id only,
// never an address, so the trail of a deleted account names no address.
import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import type { User } from '../db/models/user.ts';
import type { LinkState } from './links.ts';
import type { AuditTrail, RequestContext } from './audit.ts';
import { emailSchema, normalizeEmail } from './email.ts';
import { AccountError } from './errors.ts';
import { findUserByEmail, searchTermsFor } from './users.ts';
import { ENUMERATION_SPREAD_MS, resendLinkFor, type AfterAnswer, type PasswordFlowDeps } from './password-links.ts';
import { passwordIssues, storePassword } from './set-password.ts';
import type { PasswordIssue } from './password-policy.ts';
import { revokeAccountAccess } from './revocation.ts';
import { deleteAccount } from './deletion.ts';
import { isDuplicateKey } from '../db/duplicate-key.ts';

export const EMAIL_CHANGES = 'email_changes';

/** self: the person in the portal; admin_confirm: an operator, confirmed by the person; admin_override: an operator, at once. */
export type EmailChangeMode = 'self' | 'admin_confirm' | 'admin_override';

/**
 * requested: waiting for the link; superseded: a newer request replaced it; not_completed: the
 * link was used but the change could not be made (the address was taken meanwhile, or the
 * account's address had changed since); cancelled: the person took it back before using the
 * link; confirmed: done; undone: reverted from the old address.
 */
export type EmailChangeStatus = 'requested' | 'superseded' | 'not_completed' | 'cancelled' | 'confirmed' | 'undone';

export interface EmailChangeRecord {
  _id: string;
  userId: string;
  oldEmail: string;
  newEmail: string;
  mode: EmailChangeMode;
  status: EmailChangeStatus;
  /** Who asked: self, admin:<id>, client:<id> or cli (the audit trail's actor). */
  actor: string;
  requestedAt: Date;
  /** Until when the confirmation link works (null: an override, which has none). */
  confirmUntil: Date | null;
  confirmedAt: Date | null;
  undoneAt: Date | null;
  /** The links' stored ids (SHA-256 of their tokens), never the tokens. */
  confirmLinkId: string | null;
  undoLinkId: string | null;
  undoUntil: Date | null;
}

/** What changing an address uses: the password flows' services, and whom an override's notice names. */
export interface EmailChangeDeps extends PasswordFlowDeps {
  /** The organisation's support address or page (policy theme), for the override's notice. */
  contact?: string | null;
  /** The account pages' absolute URL, which the override's notice links to. */
  portalLink: string;
}

const changes = (db: Db) => db.collection<EmailChangeRecord>(EMAIL_CHANGES);

export async function ensureEmailChangeIndexes(db: Db): Promise<void> {
  await changes(db).createIndex({ userId: 1 });
  await changes(db).createIndex({ confirmLinkId: 1 });
  await changes(db).createIndex({ undoLinkId: 1 });
}

function parseEmail(input: unknown): string {
  const parsed = emailSchema.safeParse(input);
  if (!parsed.success) throw new AccountError('invalid_email', 'Not a valid email address.');
  return parsed.data;
}

async function accountFor(deps: EmailChangeDeps, userId: string): Promise<User> {
  const user = await deps.users.findById(userId).lean<User>();
  if (!user) throw new AccountError('not_found', 'No such account.');
  if (user.status === 'disabled') throw new AccountError('disabled', 'The account is disabled.');
  return user;
}

/** Moves the account to `email` in one update the unique index guards; false: the address is taken. */
async function setAddress(deps: EmailChangeDeps, user: Pick<User, '_id' | 'name'>, email: string, verified: boolean, onlyIf: Record<string, unknown> = {}): Promise<'changed' | 'taken' | 'gone'> {
  try {
    const result = await deps.users.updateOne({ _id: user._id, ...onlyIf }, {
      $set: { email, emailNormalized: normalizeEmail(email), emailVerified: verified, searchTerms: searchTermsFor(email, user.name) },
    });
    return result.matchedCount ? 'changed' : 'gone';
  } catch (error) {
    if (isDuplicateKey(error)) return 'taken';
    throw error;
  }
}

/**
 * Asks to move the account to `newEmail`: a record, a link, and (after the answer, `when`)
 * either the link to the new address or, when another account has it, a note to that
 * account's owner. The person's answer and the work before it are the same either way.
 * An operator ("confirm" mode) is told at once when the address is taken (AccountError email_taken).
 */
export async function requestEmailChange(
  deps: EmailChangeDeps,
  userId: string,
  newEmail: unknown,
  context: RequestContext = {},
  options: { mode?: 'self' | 'admin_confirm' } & AfterAnswer = {},
): Promise<{ changeId: string; newEmail: string; expiresAt: Date }> {
  const email = parseEmail(newEmail);
  const user = await accountFor(deps, userId);
  if (normalizeEmail(email) === user.emailNormalized) throw new AccountError('invalid_request', 'This is already the account\'s email address.');
  const mode = options.mode ?? 'self';
  if (mode !== 'self') {
    const owner = await findUserByEmail(deps.users, email);
    if (owner) throw new AccountError('email_taken', 'Another account has this email address.');
  }

  // Only the newest request counts: its link supersedes earlier ones (links.issue).
  await changes(deps.db).updateMany({ userId, status: 'requested' }, { $set: { status: 'superseded' } });
  const link = await deps.links.issue(userId, 'email_change');
  const changeId = randomUUID();
  await changes(deps.db).insertOne({
    _id: changeId, userId, oldEmail: user.email, newEmail: email, mode, status: 'requested', actor: context.actor ?? 'self',
    requestedAt: new Date(), confirmUntil: link.expiresAt, confirmedAt: null, undoneAt: null,
    confirmLinkId: link.id, undoLinkId: null, undoUntil: null,
  });
  await deps.audit.record('email.change_requested', userId, context, { changeId, mode });

  deps.tasks.run('email-change-request', async () => {
    const owner = await findUserByEmail(deps.users, email);
    if (owner && owner._id !== userId) {
      // The link could never work: it goes, and the address's owner learns that nothing changed.
      await deps.links.discard(link.token);
      deps.mailer.send('email_change_in_use', { to: owner.email, locale: [owner.locale, context.locale], name: owner.name || undefined, link: deps.urls.forgotPassword() });
      return;
    }
    deps.mailer.send('email_change_confirm', {
      to: email, locale: [user.locale, context.locale], name: user.name || undefined,
      link: deps.urls.link('email_change', link.token), expiresInMs: deps.lifetimeMs('email_change'),
    }, { onFailed: () => deps.links.discard(link.token) });
  }, { after: options.after, spreadMs: mode === 'self' ? ENUMERATION_SPREAD_MS : 0 });
  return { changeId, newEmail: email, expiresAt: link.expiresAt };
}

/**
 * The person takes back a change not yet confirmed (a typo in the address, or a request
 * they do not recognise): its link stops working at once. False when nothing was pending.
 */
export async function cancelEmailChange(deps: Pick<EmailChangeDeps, 'db' | 'links' | 'audit'>, userId: string, context: RequestContext = {}): Promise<boolean> {
  const { modifiedCount } = await changes(deps.db).updateMany({ userId, status: 'requested' }, { $set: { status: 'cancelled' } });
  await deps.links.revokeAll(userId, 'email_change');
  if (modifiedCount) await deps.audit.record('email.change_cancelled', userId, context);
  return modifiedCount > 0;
}

/** The change a link confirms or undoes, for the page that shows it (GET: the link is not used). */
export async function inspectEmailChangeLink(
  deps: EmailChangeDeps,
  token: unknown,
  purpose: 'email_change' | 'email_change_undo',
): Promise<{ state: LinkState; change: EmailChangeRecord | null }> {
  const { state, link } = await deps.links.inspect(token, purpose);
  if (state !== 'valid') return { state, change: null };
  const change = await changes(deps.db).findOne(purpose === 'email_change'
    ? { confirmLinkId: link!._id, status: 'requested' }
    : { undoLinkId: link!._id, status: 'confirmed' });
  return change ? { state, change } : { state: 'unknown', change: null };
}

export type ConfirmEmailChangeResult =
  | { ok: true; userId: string; newEmail: string }
  /** not_completed: the link was good but the change could not be made; the page says so without saying why. */
  | { ok: false; state: LinkState | 'not_completed' };

/** Uses a confirmation link: the account moves to the new address, and the old one is told, with an undo link. */
export async function confirmEmailChange(deps: EmailChangeDeps, token: unknown, context: RequestContext = {}): Promise<ConfirmEmailChangeResult> {
  const { state, change } = await inspectEmailChangeLink(deps, token, 'email_change');
  if (state !== 'valid' || !change) return { ok: false, state };
  const link = await deps.links.consume(token, 'email_change');
  if (!link) return { ok: false, state: 'used' };
  const user = await deps.users.findById(change.userId).lean<User>();

  // Still the address the request was made from (an operator may have changed it since), and not disabled.
  const outcome = user
    ? await setAddress(deps, user, change.newEmail, true, { emailNormalized: normalizeEmail(change.oldEmail), status: { $ne: 'disabled' } })
    : 'gone';
  if (outcome !== 'changed') {
    await changes(deps.db).updateOne({ _id: change._id }, { $set: { status: 'not_completed' } });
    return { ok: false, state: 'not_completed' };
  }

  // Links mailed to the old address for the password stop working; its undo link is the way back.
  await deps.links.revokeAll(change.userId, 'reset');
  await deps.links.revokeAll(change.userId, 'email_change');
  const undo = await deps.links.issue(change.userId, 'email_change_undo', { keepEarlier: true });
  const confirmedAt = new Date();
  await changes(deps.db).updateOne({ _id: change._id }, { $set: { status: 'confirmed', confirmedAt, undoLinkId: undo.id, undoUntil: undo.expiresAt } });
  await deps.audit.record('email.changed', change.userId, context, { changeId: change._id, mode: change.mode });
  deps.mailer.send('email_changed', {
    to: change.oldEmail, locale: [user!.locale, context.locale], name: user!.name || undefined, when: confirmedAt,
    newEmail: change.newEmail, link: deps.urls.link('email_change_undo', undo.token), expiresInMs: deps.lifetimeMs('email_change_undo'),
  });
  return { ok: true, userId: change.userId, newEmail: change.newEmail };
}

/**
 * Puts the old address back. A sign-up that was never confirmed holds an address without
 * having shown it owns the mailbox; the undo link has, so such an account (perhaps made by
 * whoever changed the address, to block the undo) gives way: it is deleted like any other
 * (deletion.ts), in the same step that checks it is still unconfirmed. A real account keeps it.
 */
async function restoreAddress(deps: EmailChangeDeps, user: User, email: string): Promise<boolean> {
  const outcome = await setAddress(deps, user, email, true);
  if (outcome !== 'taken') return outcome === 'changed';
  const squatter = await findUserByEmail(deps.users, email);
  if (!squatter || squatter._id === user._id || squatter.status !== 'unverified') return false;
  try {
    await deleteAccount(deps, squatter._id, { actor: 'system' }, { status: 'unverified', emailNormalized: normalizeEmail(email) });
  } catch (error) {
    if (!(error instanceof AccountError && error.code === 'not_found')) throw error;
  }
  return (await setAddress(deps, user, email, true)) === 'changed';
}

export type UndoEmailChangeResult =
  /** restored: false when another account took the old address meanwhile (the password is changed and every session ended all the same). */
  | { ok: true; userId: string; restored: boolean; email: string }
  | { ok: false; state: LinkState; issues?: undefined }
  | { ok: false; state: 'valid'; issues: PasswordIssue[]; user: User };

/**
 * Uses an undo link with a new password: the password is checked before the link is used
 * (a refused one leaves it valid); then the old address comes back if it is free, the new
 * password is stored, every session, grant and token ends, and any other pending change or
 * undo link of the account stops working (whoever made the change cannot undo the undo).
 */
export async function undoEmailChange(deps: EmailChangeDeps, token: unknown, password: unknown, context: RequestContext = {}): Promise<UndoEmailChangeResult> {
  const { state, change } = await inspectEmailChangeLink(deps, token, 'email_change_undo');
  if (state !== 'valid' || !change) return { ok: false, state };
  const user = await deps.users.findById(change.userId).lean<User>();
  if (!user || user.status === 'disabled') return { ok: false, state: 'unknown' };
  // The policy judges the password against the address it will be used with.
  const issues = await passwordIssues(deps, { ...user, email: change.oldEmail }, password);
  if (issues.length) return { ok: false, state: 'valid', issues, user };
  if (!(await deps.links.consume(token, 'email_change_undo'))) return { ok: false, state: 'used' };

  const restored = normalizeEmail(change.oldEmail) === user.emailNormalized || (await restoreAddress(deps, user, change.oldEmail));
  await storePassword(deps, user, password as string);
  for (const purpose of ['email_change', 'email_change_undo', 'reset'] as const) await deps.links.revokeAll(user._id, purpose);
  await changes(deps.db).updateMany({ userId: user._id, status: 'requested' }, { $set: { status: 'superseded' } });
  await changes(deps.db).updateOne({ _id: change._id }, { $set: { status: 'undone', undoneAt: new Date() } });
  const access = await revokeAccountAccess(deps.db, user._id);
  await deps.lockout.clearUser(user._id);
  await deps.audit.record('email.change_undone', user._id, context, { changeId: change._id, restored, sessions: access.sessions, grants: access.grants });
  await deps.audit.record('password.reset', user._id, context, { via: 'email_change_undo', signedOutEverywhere: true });
  // The mailbox the undo link went to hears of the new password too, like after a reset.
  deps.mailer.send('password_changed', {
    to: change.oldEmail, locale: [user.locale, context.locale], name: user.name || undefined, when: new Date(), ip: context.ip ?? undefined,
    link: deps.urls.forgotPassword(),
  });
  return { ok: true, userId: user._id, restored, email: restored ? change.oldEmail : user.email };
}

/**
 * An operator changes the address: "confirm" mails the new address a link (as the person's own
 * request does; the operator is told at once if another account has it), "override" changes it
 * now. An override leaves email_verified false (nobody has shown the mailbox is the person's;
 * "confirm" is the way to a verified address), tells the old address who to ask, and, for an
 * account still waiting for its first password or its sign-up confirmation, sends that link
 * again, to the new address.
 */
export async function adminChangeEmail(
  deps: EmailChangeDeps,
  userId: string,
  input: { email: unknown; mode: 'confirm' | 'override' },
  context: RequestContext,
): Promise<{ status: 'pending' | 'changed'; changeId: string; email: string }> {
  if (input.mode === 'confirm') {
    const request = await requestEmailChange(deps, userId, input.email, context, { mode: 'admin_confirm' });
    return { status: 'pending', changeId: request.changeId, email: request.newEmail };
  }
  const email = parseEmail(input.email);
  const user = await accountFor(deps, userId);
  if (normalizeEmail(email) === user.emailNormalized) throw new AccountError('invalid_request', 'This is already the account\'s email address.');
  const outcome = await setAddress(deps, user, email, false);
  if (outcome === 'taken') throw new AccountError('email_taken', 'Another account has this email address.');
  if (outcome === 'gone') throw new AccountError('not_found', 'No such account.');

  for (const purpose of ['email_change', 'reset'] as const) await deps.links.revokeAll(userId, purpose);
  await changes(deps.db).updateMany({ userId, status: 'requested' }, { $set: { status: 'superseded' } });
  const changeId = randomUUID();
  const now = new Date();
  await changes(deps.db).insertOne({
    _id: changeId, userId, oldEmail: user.email, newEmail: email, mode: 'admin_override', status: 'confirmed', actor: context.actor ?? 'self',
    requestedAt: now, confirmUntil: null, confirmedAt: now, undoneAt: null, confirmLinkId: null, undoLinkId: null, undoUntil: null,
  });
  await deps.audit.record('email.changed', userId, context, { changeId, mode: 'admin_override' });
  deps.mailer.send('email_change_by_admin', {
    to: user.email, locale: [user.locale, context.locale], name: user.name || undefined, when: now, newEmail: email, contact: deps.contact ?? undefined, link: deps.portalLink,
  });
  if (user.status === 'invited' || user.status === 'unverified') {
    // Its invitation or sign-up confirmation went to the old address: a fresh one goes to the new.
    resendLinkFor(deps, { userId, purpose: 'verify_email', clientId: null } as never, {}, context);
  }
  return { status: 'changed', changeId, email };
}

/** The person's pending request, if its link still works (the portal shows it). */
export async function pendingEmailChange(deps: { db: Db }, userId: string): Promise<{ newEmail: string; expiresAt: Date } | null> {
  const [change] = await changes(deps.db).find({ userId, status: 'requested', confirmUntil: { $gt: new Date() } }).sort({ requestedAt: -1 }).limit(1).toArray();
  return change ? { newEmail: change.newEmail, expiresAt: change.confirmUntil! } : null;
}

/** One change of address, as the person's data export lists it. */
export interface EmailHistoryEntry {
  id: string;
  from: string;
  to: string;
  /** pending: waiting for the link; not_confirmed: never confirmed (expired, replaced, cancelled, or not possible); confirmed; undone. */
  status: 'pending' | 'not_confirmed' | 'confirmed' | 'undone';
  /** Who asked: the person, or an administrator (operators are never named). */
  by: 'self' | 'administrator';
  requestedAt: Date;
  confirmedAt: Date | null;
  undoneAt: Date | null;
}

/** Every change of the account's address, oldest first (the data export, accounts/export.ts). */
export async function emailHistoryOf(deps: { db: Db }, userId: string): Promise<EmailHistoryEntry[]> {
  const records = await changes(deps.db).find({ userId }).sort({ requestedAt: 1 }).limit(1000).toArray();
  const now = Date.now();
  return records.map((record) => ({
    id: record._id,
    from: record.oldEmail,
    to: record.newEmail,
    status: record.status === 'confirmed' || record.status === 'undone' ? record.status
      : record.status === 'requested' && record.confirmUntil && record.confirmUntil.getTime() > now ? 'pending' : 'not_confirmed',
    by: record.actor === 'self' ? 'self' : 'administrator',
    requestedAt: record.requestedAt,
    confirmedAt: record.confirmedAt,
    undoneAt: record.undoneAt,
  }));
}
