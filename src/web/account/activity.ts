// Recent security events of the account, in words: when, what, from where.
// Only what concerns the person is shown: never an operator's id, nor the raw
// details of a record.
import type { Context } from 'koa';
import type { AppDeps } from '../../deps.ts';
import type { AuditRecord } from '../../db/models/audit.ts';
import type { AuditEvent } from '../../accounts/audit.ts';
import { clientName } from './apps.ts';
import { translateHtml, translator, type Translate } from '../../i18n/messages.ts';
import { localeOf } from '../locale.ts';
import { formatDateTime, portalOf, renderPortal } from './page.ts';

/** A Record over every audit event: an event added to the trail must be worded here (locales/<lang>/portal.json). */
const EVENT_TEXT: Record<AuditEvent, string> = {
  'signin.succeeded': 'portal.event.signin.succeeded',
  'signin.failed': 'portal.event.signin.failed',
  'account.locked': 'portal.event.account.locked',
  'account.unlocked': 'portal.event.account.unlocked',
  'password.reset_requested': 'portal.event.password.reset_requested',
  'password.reset': 'portal.event.password.reset',
  'password.changed': 'portal.event.password.changed',
  'password.temporary_set': 'portal.event.password.temporary_set',
  'invite.sent': 'portal.event.invite.sent',
  'invite.accepted': 'portal.event.invite.accepted',
  'signup.created': 'portal.event.signup.created',
  'email.verified': 'portal.event.email.verified',
  'grant.revoked': 'portal.event.grant.revoked',
  'signout.everywhere': 'portal.event.signout.everywhere',
  'account.created': 'portal.event.account.created',
  'account.updated': 'portal.event.account.updated',
  'account.disabled': 'portal.event.account.disabled',
  'account.enabled': 'portal.event.account.enabled',
  'profile.updated': 'portal.event.profile.updated',
  'factor.added': 'portal.event.factor.added',
  'factor.removed': 'portal.event.factor.removed',
  'factor.verified': 'portal.event.factor.verified',
  'recovery_codes.generated': 'portal.event.recovery_codes.generated',
  'browser.trusted': 'portal.event.browser.trusted',
  'browsers.forgotten': 'portal.event.browsers.forgotten',
  'account.migrated': 'portal.event.account.migrated',
  'account.deleted': 'portal.event.account.deleted',
  'account.deletion_scheduled': 'portal.event.account.deletion_scheduled',
  'account.restored': 'portal.event.account.restored',
  'group.created': 'portal.event.group.created',
  'group.updated': 'portal.event.group.updated',
  'group.deleted': 'portal.event.group.deleted',
  'factor.enrolment_required': 'portal.event.factor.enrolment_required',
  'terms.accepted': 'portal.event.terms.accepted',
  'signin.new_browser': 'portal.event.signin.new_browser',
  'session.ended': 'portal.event.session.ended',
  'sessions.ended_others': 'portal.event.sessions.ended_others',
  // Change of email: their texts live in locales/<lang>/email-change.json.
  'email.change_requested': 'portal.event.email.change_requested',
  'email.changed': 'portal.event.email.changed',
  'email.change_undone': 'portal.event.email.change_undone',
  'email.change_cancelled': 'portal.event.email.change_cancelled',
};

/** Who acted, when not the person: operators are never named. */
const BY: Record<string, string> = { admin: 'portal.activity.byAdmin', cli: 'portal.activity.byAdmin' };

/** "Firefox on Windows" (in the page's language with `t`); an unknown agent is cut short. */
export function shortUserAgent(userAgent: string | null, t?: Translate): string {
  if (!userAgent) return t ? t('portal.unknownDevice') : 'Unknown device';
  const browser = [
    [/Edg(e|A|iOS)?\//, 'Edge'], [/OPR\/|Opera/, 'Opera'], [/Firefox\/|FxiOS\//, 'Firefox'],
    [/Chrome\/|CriOS\//, 'Chrome'], [/Safari\//, 'Safari'], [/curl\//, 'curl'],
  ].find(([pattern]) => (pattern as RegExp).test(userAgent))?.[1] as string | undefined;
  const os = [
    [/iPhone|iPad|iPod/, 'iOS'], [/Android/, 'Android'], [/Windows/, 'Windows'], [/Mac OS X|Macintosh/, 'macOS'],
    [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux'],
  ].find(([pattern]) => (pattern as RegExp).test(userAgent))?.[1] as string | undefined;
  if (browser && os) return t ? t('portal.device', { browser, os }) : `${browser} on ${os}`;
  if (browser ?? os) return (browser ?? os)!;
  return userAgent.length > 40 ? `${userAgent.slice(0, 40)}…` : userAgent;
}

async function eventText(deps: AppDeps, t: Translate, record: AuditRecord, names: Map<string, Promise<string>>): Promise<string> {
  let text = t(EVENT_TEXT[record.event as AuditEvent] ?? 'portal.activity.other');
  const { details } = record;
  if (record.event === 'signin.failed' && details.during === 'password_change') text = t('portal.activity.wrongCurrent');
  if (record.event === 'grant.revoked' && typeof details.clientId === 'string') {
    const clientId = details.clientId;
    if (!names.has(clientId)) names.set(clientId, clientName(deps, clientId));
    // The app's name isolated (U+2068 … U+2069, as emails do): a Latin name keeps its order inside an Arabic sentence.
    text = t('portal.activity.appRevoked', { app: `\u2068${await names.get(clientId)}\u2069` });
  }
  const actor = record.actor.split(':')[0]!;
  return actor !== 'self' && BY[actor] ? t(BY[actor], { event: text }) : text;
}

export async function showActivity(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const locale = localeOf(ctx);
  const t = translator(locale);
  const records = await deps.audit.list({ userId: user._id, limit: 50 });
  const names = new Map<string, Promise<string>>();
  const events = [];
  for (const record of records) {
    events.push({
      at: formatDateTime(new Date(record.at), locale),
      iso: new Date(record.at).toISOString(),
      text: await eventText(deps, t, record, names),
      ip: record.ip ?? '—',
      device: shortUserAgent(record.userAgent, t),
    });
  }
  // The lead links "change your password" inside its sentence, wherever the language puts it.
  const lead = translateHtml(locale, 'portal.activity.lead', { link: ((chunks: string[]) => `<a href="/account/password">${chunks.join('')}</a>`) as never });
  renderPortal(ctx, 'activity', 'activity', { title: 'portal.activity.title', events, lead });
}
