// Sessions and devices: the browsers signed in to the account, each with its
// browser and system, when it signed in and was last used, its address and the
// apps signed in through it; "this browser" first. Ending one signs that browser
// out and ends its apps' grants and tokens; ending this browser's signs it out of
// the portal too. No recent sign-in is asked for: ending sessions only takes access
// away, like "sign out everywhere" and revoking an app.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { endOtherSessions, endSession, listSessions, SESSION_ID_PATTERN, touchSession, type AccountSession } from '../../accounts/sessions.ts';
import { deviceText } from '../../accounts/user-agent.ts';
import type { Locale } from '../../i18n/locales.ts';
import { HttpError } from '../http-error.ts';
import { parseForm, requestContext } from '../forms.ts';
import { localeOf } from '../locale.ts';
import { formatDateTime, portalOf, portalT, renderPortal } from './page.ts';

const endForm = z.object({
  sessionId: z.string({ error: 'sessions.error.unreadable' }).regex(SESSION_ID_PATTERN, 'sessions.error.unreadable'),
});

/** What a successful POST leaves for the page (post/redirect/get). */
const NOTICES: Record<string, string> = {
  session_ended: 'sessions.notice.ended',
  others_ended: 'sessions.notice.othersEnded',
};

/** An app's name as people know it, in the page's language when it registered one (client_name#de). */
async function appName(deps: AppDeps, clientId: string, locale: Locale, names: Map<string, Promise<string>>): Promise<string> {
  if (!names.has(clientId)) {
    names.set(clientId, deps.provider.Client.find(clientId).then((client) => {
      const localized = (client as Record<string, unknown> | undefined)?.[`client_name#${locale}`];
      return (typeof localized === 'string' ? localized : undefined) ?? client?.clientName ?? clientId;
    }).catch(() => clientId));
  }
  return names.get(clientId)!;
}

/** The sessions in the page's words, this browser's first. */
async function sessionsView(deps: AppDeps, sessions: AccountSession[], current: string | null, ctx: Context) {
  const locale = localeOf(ctx);
  const t = portalT(ctx);
  const names = new Map<string, Promise<string>>();
  const ordered = [...sessions.filter((s) => s.id === current), ...sessions.filter((s) => s.id !== current)];
  return Promise.all(ordered.map(async (session) => ({
    id: session.id,
    current: session.id === current,
    device: deviceText(t, session.device),
    signedIn: session.signedInAt ? formatDateTime(session.signedInAt, locale) : null,
    signedInIso: session.signedInAt?.toISOString() ?? null,
    lastSeen: session.lastSeenAt ? formatDateTime(session.lastSeenAt, locale) : null,
    lastSeenIso: session.lastSeenAt?.toISOString() ?? null,
    ip: session.ip,
    apps: await Promise.all(session.apps.map((app) => appName(deps, app.clientId, locale, names))),
  })));
}

export async function showSessions(ctx: Context, deps: AppDeps): Promise<void> {
  const { user, session } = portalOf(ctx);
  const current = session.sid;
  // Looking at this page is using this browser's session.
  if (current) await touchSession(deps.db, current, user._id, deps.config.policy.lifetimes.sessionDays * 86_400_000);
  const sessions = await listSessions(deps, user._id);
  const t = portalT(ctx);
  const notice = NOTICES[String(ctx.query.notice)];
  renderPortal(ctx, 'sessions', 'sessions', {
    title: 'sessions.title',
    sessions: await sessionsView(deps, sessions, current, ctx),
    // "End all other sessions" only when this browser's session is known and there are others.
    canEndOthers: Boolean(current) && sessions.some((s) => s.id !== current) && sessions.some((s) => s.id === current),
    notice: notice ? t(notice) : null,
  });
}

/** Ends one session of the person's; their own (this browser) signs them out here too. */
export async function submitEndSession(ctx: Context, deps: AppDeps, forget: (ctx: Context) => void): Promise<void> {
  const { user, session } = portalOf(ctx);
  const t = portalT(ctx);
  const form = parseForm(endForm, ctx);
  if (!form.ok) throw new HttpError(400, t('portal.error.badRequestTitle'), t('sessions.error.unreadable'));
  // Another account's session and one that ended read the same: not found.
  const ended = await endSession(deps, user._id, form.data.sessionId, requestContext(ctx));
  if (!ended) throw new HttpError(404, t('sessions.error.notFoundTitle'), t('sessions.error.notFound'));
  if (form.data.sessionId === session.sid) {
    // This browser's provider session and portal session are gone: the cookie goes too.
    forget(ctx);
    ctx.status = 303;
    return ctx.redirect('/account/signed-out');
  }
  ctx.status = 303;
  ctx.redirect('/account/sessions?notice=session_ended');
}

/** Ends every session but this browser's. */
export async function submitEndOthers(ctx: Context, deps: AppDeps): Promise<void> {
  const { user, session } = portalOf(ctx);
  const t = portalT(ctx);
  if (!session.sid) throw new HttpError(400, t('portal.error.badRequestTitle'), t('sessions.error.currentUnknown'));
  await endOtherSessions(deps, user._id, session.sid, requestContext(ctx));
  ctx.status = 303;
  ctx.redirect('/account/sessions?notice=others_ended');
}
