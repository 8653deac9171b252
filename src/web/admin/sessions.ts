// The account page's sessions section in the console: the browsers signed in to
// the account, as the person sees them in the portal, each with a button that
// ends it (that browser is signed out; the apps signed in through it lose their
// grants and tokens at once). The page itself is admin/accounts.ts's; this module
// gives it the list (consoleSessions) and handles the one form.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { endSession, listSessions, SESSION_ID_PATTERN } from '../../accounts/sessions.ts';
import { deviceText } from '../../accounts/user-agent.ts';
import { HttpError } from '../http-error.ts';
import { parseForm } from '../forms.ts';
import { clientName } from '../account/apps.ts';
import { ACCOUNT_ID, adminContext, formatDateTime, seeOther, tAdmin } from './page.ts';

/** What views/admin/_sessions.pug shows for each session, newest sign-in first. */
export async function consoleSessions(deps: AppDeps, accountId: string) {
  const names = new Map<string, Promise<string>>();
  const nameOf = (clientId: string) => names.get(clientId) ?? names.set(clientId, clientName(deps, clientId)).get(clientId)!;
  return Promise.all((await listSessions(deps, accountId)).map(async (session) => ({
    id: session.id,
    device: deviceText(tAdmin, session.device),
    userAgent: session.userAgent,
    signedIn: session.signedInAt ? formatDateTime(session.signedInAt) : null,
    lastSeen: session.lastSeenAt ? formatDateTime(session.lastSeenAt) : null,
    ip: session.ip,
    apps: await Promise.all(session.apps.map((app) => nameOf(app.clientId))),
  })));
}

const endForm = z.object({ sessionId: z.string().regex(SESSION_ID_PATTERN) });

const sessionNotFound = () => new HttpError(404, 'admin.sessions.error.notFound.title', 'admin.sessions.error.notFound.message');

/** POST /admin/accounts/:id/end-session: ends one of the account's sessions, this admin as the actor. */
export async function submitEndSession(ctx: Context, deps: AppDeps): Promise<void> {
  const id = ctx.params.id;
  if (typeof id !== 'string' || !ACCOUNT_ID.test(id) || !(await deps.users.exists({ _id: id }))) {
    throw new HttpError(404, 'admin.error.accountNotFound.title', 'admin.error.accountNotFound.message');
  }
  const form = parseForm(endForm, ctx);
  // A malformed id, another account's and one already ended all read the same.
  if (!form.ok || !(await endSession(deps, id, form.data.sessionId, adminContext(ctx)))) throw sessionNotFound();
  seeOther(ctx, `/admin/accounts/${id}`, 'session_ended');
}
