// What every admin page shares: the signed-in admin, the nav, the notice a
// successful POST leaves behind (post/redirect/get), the audit actor, and words
// for statuses and events.
//
// The console's language: English, whatever the person's language (issue 13 lets
// the console stay English). Its texts are catalog keys "admin.*" that exist only
// in English (locales/en/admin*.json). requireAdmin (session.ts) sets the request's
// language to CONSOLE_LOCALE before anything renders, so a console page, its
// refusals and its error pages say <html lang="en" dir="ltr"> and never mix in
// another language; texts made here use tAdmin, the same language.
import type { Context } from 'koa';
import type { AppDeps } from '../../deps.ts';
import type { User } from '../../db/models/user.ts';
import type { AuditEvent, RequestContext } from '../../accounts/audit.ts';
import type { Portal } from '../account/session.ts';
import { formatDateTime } from '../account/page.ts';
import { requestContext } from '../forms.ts';
import { render } from '../render.ts';
import { DEFAULT_LOCALE, type Locale } from '../../i18n/locales.ts';
import { translator } from '../../i18n/messages.ts';

export { formatDate, formatDateTime } from '../account/page.ts';

/** The language of every console page. */
export const CONSOLE_LOCALE: Locale = DEFAULT_LOCALE;

/** The console's texts (catalog keys "admin.*") in its language. */
export const tAdmin = translator(CONSOLE_LOCALE);

/** Makes the request speak the console's language, whatever the person picked (localeOf reads ctx.state.locale first). */
export function speakConsoleLanguage(ctx: Context): void {
  ctx.state.locale = CONSOLE_LOCALE;
}

export type AdminSection = 'accounts' | 'new' | 'audit' | 'imports';

/** Set by requireAdmin on every /admin route. */
export function adminOf(ctx: Context): Portal {
  return ctx.state.admin as Portal;
}

/** The request's context for the domain functions, with this admin as the actor. */
export function adminContext(ctx: Context): RequestContext {
  return { ...requestContext(ctx), actor: `admin:${adminOf(ctx).user._id}` };
}

const count = (value: unknown): number | null => {
  const n = typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  return Number.isFinite(n) ? n : null;
};

/** Notices by code; a few carry counts in the query (numbers only, so nothing else can be injected). */
const NOTICES: Record<string, (q: Context['query']) => string> = {
  created: () => tAdmin('admin.notice.created'),
  invited: () => tAdmin('admin.notice.invited'),
  saved: () => tAdmin('admin.notice.saved'),
  reset_sent: () => tAdmin('admin.notice.resetSent'),
  invite_sent: () => tAdmin('admin.notice.inviteSent'),
  temporary_set: () => tAdmin('admin.notice.temporarySet'),
  signed_out: (q) => {
    const sessions = count(q.sessions);
    const grants = count(q.grants);
    const counted = sessions !== null && grants !== null;
    return tAdmin('admin.notice.signedOut', { counted: counted ? 'yes' : 'no', sessions: sessions ?? 0, grants: grants ?? 0 });
  },
  unlocked: (q) => {
    const failures = count(q.failures);
    const until = typeof q.until === 'string' && /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(q.until) ? new Date(q.until) : null;
    const locked = failures !== null && until !== null && !Number.isNaN(until.getTime());
    return tAdmin('admin.notice.unlocked', {
      before: failures !== null ? 'yes' : 'no', failures: failures ?? 0, locked: locked ? 'yes' : 'no', until: locked ? formatDateTime(until) : '',
    });
  },
  factors_reset: (q) => {
    const removed = count(q.removed);
    if (removed === 0) return tAdmin('admin.notice.noFactors');
    return tAdmin('admin.notice.factorsReset', { counted: removed ? 'yes' : 'no', removed: removed ?? 0 });
  },
  enrolment_required: () => tAdmin('admin.notice.enrolmentRequired'),
  enrolment_already_required: () => tAdmin('admin.notice.enrolmentAlreadyRequired'),
  disabled: () => tAdmin('admin.notice.disabled'),
  enabled: () => tAdmin('admin.notice.enabled'),
  admin_granted: () => tAdmin('admin.notice.adminGranted'),
  admin_removed: () => tAdmin('admin.notice.adminRemoved'),
  session_ended: () => tAdmin('admin.sessions.notice.ended'),
  account_deleted: () => tAdmin('admin.delete.notice.deleted'),
  email_change_sent: () => tAdmin('admin.email.notice.sent'),
  email_changed: () => tAdmin('admin.email.notice.changed'),
};

export function renderAdmin(ctx: Context, view: string, section: AdminSection | null, locals: Record<string, unknown> = {}, status = 200): void {
  const { user } = adminOf(ctx);
  const notice = status === 200 && typeof ctx.query.notice === 'string' ? NOTICES[ctx.query.notice]?.(ctx.query) ?? null : null;
  render(ctx, `admin/${view}`, { section, me: { id: user._id, email: user.email }, notice, ...locals }, status);
}

/** A successful POST goes back to a page with a notice: 303, so reloading does not resubmit. */
export function seeOther(ctx: Context, path: string, notice?: keyof typeof NOTICES, params: Record<string, string | number> = {}): void {
  ctx.status = 303;
  if (!notice) return ctx.redirect(path);
  const query = new URLSearchParams({ notice, ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])) });
  ctx.redirect(`${path}?${query}`);
}

export const STATUS_TEXT: Record<string, string> = Object.fromEntries(
  ['active', 'invited', 'unverified', 'must_change', 'locked', 'disabled'].map((status) => [status, tAdmin(`admin.status.${status}`)]),
);

/**
 * The catalog key naming each audit event (locales/en/admin*.json): a Record over every
 * audit event, so an event added to the trail must be named here.
 */
export const EVENT_TEXT: Record<AuditEvent, string> = {
  'signin.succeeded': 'admin.event.signin.succeeded',
  'signin.failed': 'admin.event.signin.failed',
  'account.locked': 'admin.event.account.locked',
  'account.unlocked': 'admin.event.account.unlocked',
  'password.reset_requested': 'admin.event.password.reset_requested',
  'password.reset': 'admin.event.password.reset',
  'password.changed': 'admin.event.password.changed',
  'password.temporary_set': 'admin.event.password.temporary_set',
  'invite.sent': 'admin.event.invite.sent',
  'invite.accepted': 'admin.event.invite.accepted',
  'signup.created': 'admin.event.signup.created',
  'email.verified': 'admin.event.email.verified',
  'grant.revoked': 'admin.event.grant.revoked',
  'signout.everywhere': 'admin.event.signout.everywhere',
  'account.created': 'admin.event.account.created',
  'account.updated': 'admin.event.account.updated',
  'account.disabled': 'admin.event.account.disabled',
  'account.enabled': 'admin.event.account.enabled',
  'profile.updated': 'admin.event.profile.updated',
  'factor.added': 'admin.event.factor.added',
  'factor.removed': 'admin.event.factor.removed',
  'factor.verified': 'admin.event.factor.verified',
  'recovery_codes.generated': 'admin.event.recovery_codes.generated',
  'browser.trusted': 'admin.event.browser.trusted',
  'browsers.forgotten': 'admin.event.browsers.forgotten',
  'account.migrated': 'admin.event.account.migrated',
  'account.deleted': 'admin.event.account.deleted',
  'account.deletion_scheduled': 'admin.event.account.deletion_scheduled',
  'account.restored': 'admin.event.account.restored',
  'group.created': 'admin.event.group.created',
  'group.updated': 'admin.event.group.updated',
  'group.deleted': 'admin.event.group.deleted',
  'factor.enrolment_required': 'admin.event.factor.enrolment_required',
  'session.ended': 'admin.event.session.ended',
  'sessions.ended_others': 'admin.event.sessions.ended_others',
  // Change of email (admin/email.ts; locales/en/admin-email.json).
  'email.change_requested': 'admin.event.email.change_requested',
  'email.changed': 'admin.event.email.changed',
  'email.change_undone': 'admin.event.email.change_undone',
  'email.change_cancelled': 'admin.event.email.change_cancelled',
  // The terms and the new-browser notice (locales/en/admin-terms.json).
  'terms.accepted': 'admin.event.terms.accepted',
  'signin.new_browser': 'admin.event.signin.new_browser',
};

/** An audit event in words; an event no longer in the list (an old record) by its name. */
export const eventText = (event: string): string =>
  (Object.hasOwn(EVENT_TEXT, event) ? tAdmin(EVENT_TEXT[event as AuditEvent]) : event);

/** Emails of the accounts these ids name (accounts and admin actors of audit records), in one query. */
export async function emailsOf(deps: AppDeps, ids: Iterable<string | null | undefined>): Promise<Map<string, string>> {
  const wanted = [...new Set([...ids].filter((id): id is string => Boolean(id)))];
  if (!wanted.length) return new Map();
  const users = await deps.users.find({ _id: { $in: wanted } }, { email: 1 }).lean<Array<Pick<User, '_id' | 'email'>>>();
  return new Map(users.map((u) => [u._id, u.email]));
}

/** "admin:<id>" as the admin's email; other actors as they are. */
export function actorText(actor: string, emails: Map<string, string>): string {
  if (actor.startsWith('admin:')) {
    const id = actor.slice('admin:'.length);
    return tAdmin('admin.actor.admin', { email: emails.get(id) ?? id });
  }
  return actor;
}

export const actorIds = (actors: string[]) => actors.filter((a) => a.startsWith('admin:')).map((a) => a.slice('admin:'.length));

/** An audit record's details as short "key: value" text. */
export function detailsText(details: Record<string, unknown> | null | undefined): string {
  return Object.entries(details ?? {}).map(([key, value]) => `${key}: ${String(value)}`).join(', ');
}

/** Account ids in paths: our UUIDs, or any short opaque id; anything else is not found. */
export const ACCOUNT_ID = /^[\w-]{1,128}$/;
