// What every admin page shares: the signed-in admin, the nav, the notice a
// successful POST leaves behind (post/redirect/get), the audit actor, and words
// for statuses and events.
import type { Context } from 'koa';
import type { AppDeps } from '../../deps.ts';
import type { User } from '../../db/models/user.ts';
import type { AuditEvent, RequestContext } from '../../accounts/audit.ts';
import type { Portal } from '../account/session.ts';
import { formatDateTime } from '../account/page.ts';
import { requestContext } from '../forms.ts';
import { render } from '../render.ts';

export { formatDate, formatDateTime } from '../account/page.ts';

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
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Notices by code; a few carry counts in the query (numbers only, so nothing else can be injected). */
const NOTICES: Record<string, (q: Context['query']) => string> = {
  created: () => 'The account was created with a temporary password, to be changed at the first sign-in.',
  invited: () => 'The account was created and the invitation was sent.',
  saved: () => 'The account was saved.',
  reset_sent: () => 'A password reset email was sent.',
  invite_sent: () => 'The invitation was sent again.',
  temporary_set: () => 'The temporary password was set. It must be changed at the next sign-in; every session of the account was ended.',
  signed_out: (q) => {
    const sessions = count(q.sessions);
    const grants = count(q.grants);
    const what = sessions !== null && grants !== null ? ` (${plural(sessions, 'session')}, ${plural(grants, 'app grant')})` : '';
    return `The account was signed out everywhere${what}. Its apps must sign it in again.`;
  },
  unlocked: (q) => {
    const failures = count(q.failures);
    const until = typeof q.until === 'string' && /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(q.until) ? new Date(q.until) : null;
    let before = failures !== null ? ` Before: ${plural(failures, 'failed attempt')}` : '';
    if (before && until && !Number.isNaN(until.getTime())) before += `, locked until ${formatDateTime(until)}`;
    return `The account was unlocked.${before ? `${before}.` : ''}`;
  },
  factors_reset: (q) => {
    const removed = count(q.removed);
    return removed === 0 ? 'The account had no second factor.' : `Two-step verification was reset${removed ? ` (${plural(removed, 'factor')} removed)` : ''}: the next sign-in asks for the password only. The person was told by email.`;
  },
  enrolment_required: () => 'The person must set up two-step verification at their next sign-in, right after the password.',
  enrolment_already_required: () => 'The person was already required to set up two-step verification at their next sign-in.',
  disabled: () => 'The account was disabled and signed out everywhere.',
  enabled: () => 'The account was enabled.',
  admin_granted: () => 'The account now has the admin role.',
  admin_removed: () => 'The admin role was removed.',
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

export const STATUS_TEXT: Record<string, string> = {
  active: 'Active', invited: 'Invited', unverified: 'Unverified', must_change: 'Must change password', locked: 'Locked', disabled: 'Disabled',
};

/** A Record over every audit event: an event added to the trail must be named here. */
export const EVENT_TEXT: Record<AuditEvent, string> = {
  'signin.succeeded': 'Sign-in succeeded',
  'signin.failed': 'Sign-in failed',
  'account.locked': 'Account locked',
  'account.unlocked': 'Account unlocked',
  'password.reset_requested': 'Password reset requested',
  'password.reset': 'Password reset',
  'password.changed': 'Password changed',
  'password.temporary_set': 'Temporary password set',
  'invite.sent': 'Invitation sent',
  'invite.accepted': 'Invitation accepted',
  'signup.created': 'Signed up',
  'email.verified': 'Email verified',
  'grant.revoked': 'App access revoked',
  'signout.everywhere': 'Signed out everywhere',
  'account.created': 'Account created',
  'account.updated': 'Account updated',
  'account.disabled': 'Account disabled',
  'account.enabled': 'Account enabled',
  'profile.updated': 'Profile updated',
  'factor.added': 'Second factor added',
  'factor.removed': 'Second factor removed',
  'factor.verified': 'Second factor used',
  'recovery_codes.generated': 'Recovery codes generated',
  'browser.trusted': 'Browser trusted to skip the second step',
  'browsers.forgotten': 'Trusted browsers forgotten',
  'account.migrated': 'Moved in from the old password store',
  'account.deleted': 'Account deleted',
  'group.created': 'Group created',
  'group.updated': 'Group changed',
  'group.deleted': 'Group deleted',
  'factor.enrolment_required': 'Two-step verification required at next sign-in',
};

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
    return `admin ${emails.get(id) ?? id}`;
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
