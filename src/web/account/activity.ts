// Recent security events of the account, in words: when, what, from where.
// Only what concerns the person is shown: never an operator's id, nor the raw
// details of a record.
import type { Context } from 'koa';
import type { AppDeps } from '../../deps.ts';
import type { AuditRecord } from '../../db/models/audit.ts';
import type { AuditEvent } from '../../accounts/audit.ts';
import { clientName } from './apps.ts';
import { formatDateTime, portalOf, renderPortal } from './page.ts';

/** A Record over every audit event: an event added to the trail must be worded here. */
const EVENT_TEXT: Record<AuditEvent, string> = {
  'signin.succeeded': 'Signed in',
  'signin.failed': 'Failed sign-in attempt',
  'account.locked': 'Account locked after too many failed attempts',
  'account.unlocked': 'Account unlocked',
  'password.reset_requested': 'Password reset link requested',
  'password.reset': 'Password reset with an emailed link',
  'password.changed': 'Password changed',
  'password.temporary_set': 'Temporary password set',
  'invite.sent': 'Invitation sent',
  'invite.accepted': 'Invitation accepted and password chosen',
  'signup.created': 'Account created',
  'email.verified': 'Email address confirmed',
  'grant.revoked': 'App access removed',
  'signout.everywhere': 'Signed out everywhere',
  'account.created': 'Account created',
  'account.updated': 'Account details changed',
  'account.disabled': 'Account disabled',
  'account.enabled': 'Account enabled',
  'profile.updated': 'Profile updated',
  'factor.added': 'Authenticator app added',
  'factor.removed': 'Second factor removed',
  'factor.verified': 'Signed in with a second factor',
  'recovery_codes.generated': 'New recovery codes created',
  'browser.trusted': 'A browser trusted to skip two-step verification',
  'browsers.forgotten': 'Trusted browsers forgotten',
  'account.deleted': 'Account deleted',
  'group.created': 'Group created',
  'group.updated': 'Group changed',
  'group.deleted': 'Group deleted',
  'factor.enrolment_required': 'Asked to set up two-step verification at the next sign-in',
};

/** Who acted, when not the person: operators are never named. */
const BY: Record<string, string> = { admin: 'by an administrator', cli: 'by an administrator' };

/** "Firefox on Windows"; an unknown agent is cut short. */
export function shortUserAgent(userAgent: string | null): string {
  if (!userAgent) return 'Unknown device';
  const browser = [
    [/Edg(e|A|iOS)?\//, 'Edge'], [/OPR\/|Opera/, 'Opera'], [/Firefox\/|FxiOS\//, 'Firefox'],
    [/Chrome\/|CriOS\//, 'Chrome'], [/Safari\//, 'Safari'], [/curl\//, 'curl'],
  ].find(([pattern]) => (pattern as RegExp).test(userAgent))?.[1] as string | undefined;
  const os = [
    [/iPhone|iPad|iPod/, 'iOS'], [/Android/, 'Android'], [/Windows/, 'Windows'], [/Mac OS X|Macintosh/, 'macOS'],
    [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux'],
  ].find(([pattern]) => (pattern as RegExp).test(userAgent))?.[1] as string | undefined;
  if (browser && os) return `${browser} on ${os}`;
  if (browser ?? os) return (browser ?? os)!;
  return userAgent.length > 40 ? `${userAgent.slice(0, 40)}…` : userAgent;
}

async function eventText(deps: AppDeps, record: AuditRecord, names: Map<string, Promise<string>>): Promise<string> {
  let text = EVENT_TEXT[record.event as AuditEvent] ?? 'Account activity';
  const { details } = record;
  if (record.event === 'signin.failed' && details.during === 'password_change') text = 'Wrong current password while changing the password';
  if (record.event === 'grant.revoked' && typeof details.clientId === 'string') {
    const clientId = details.clientId;
    if (!names.has(clientId)) names.set(clientId, clientName(deps, clientId));
    text = `App access removed: ${await names.get(clientId)}`;
  }
  const actor = record.actor.split(':')[0]!;
  return actor !== 'self' && BY[actor] ? `${text} ${BY[actor]}` : text;
}

export async function showActivity(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const records = await deps.audit.list({ userId: user._id, limit: 50 });
  const names = new Map<string, Promise<string>>();
  const events = [];
  for (const record of records) {
    events.push({
      at: formatDateTime(new Date(record.at)),
      iso: new Date(record.at).toISOString(),
      text: await eventText(deps, record, names),
      ip: record.ip ?? '—',
      device: shortUserAgent(record.userAgent),
    });
  }
  renderPortal(ctx, 'activity', 'activity', { title: 'Recent activity', events });
}
