// Connected apps: the apps the person has let in, what each may see, and a way
// to take that back. One row per app; revoking it ends all of that app's grants.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { listConnectedApps, revokeConnectedApp, type ConnectedApp } from '../../accounts/connected-apps.ts';
import { PORTAL_CLIENT_ID } from '../../oidc/clients.ts';
import { HttpError } from '../http-error.ts';
import { parseForm, requestContext } from '../forms.ts';
import { localeOf } from '../locale.ts';
import { formatDate, portalOf, portalT, renderPortal, scopeTextIn, seeOther } from './page.ts';

const revokeForm = z.object({
  grantId: z.string({ error: 'portal.apps.error.choose' }).regex(/^[\w-]{1,128}$/, 'portal.apps.error.choose'),
});

/** A client's name as people know it; its id when it has none or is gone. */
export async function clientName(deps: AppDeps, clientId: string): Promise<string> {
  const client = await deps.provider.Client.find(clientId).catch(() => undefined);
  return client?.clientName ?? clientId;
}

/** The person's grants, the portal's own left out, grouped by app (newest grant first). */
async function appsOf(deps: AppDeps, userId: string): Promise<Map<string, ConnectedApp[]>> {
  const byClient = new Map<string, ConnectedApp[]>();
  for (const app of await listConnectedApps(deps.db, userId)) {
    if (app.clientId === PORTAL_CLIENT_ID) continue;
    byClient.set(app.clientId, [...(byClient.get(app.clientId) ?? []), app]);
  }
  return byClient;
}

export async function showApps(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const locale = localeOf(ctx);
  const t = portalT(ctx);
  const apps = [];
  for (const [clientId, grants] of await appsOf(deps, user._id)) {
    const scopes = [...new Set(grants.flatMap((grant) => grant.scopes))];
    const dates = grants.map((grant) => grant.grantedAt).filter((date): date is Date => Boolean(date));
    const first = dates.length ? new Date(Math.min(...dates.map((date) => date.getTime()))) : null;
    apps.push({
      name: await clientName(deps, clientId),
      grantId: grants[0]!.grantId,
      scopes: scopes.map(scopeTextIn(t)),
      grantedAt: first ? formatDate(first, locale) : null,
    });
  }
  renderPortal(ctx, 'apps', 'apps', { title: 'portal.apps.title', apps });
}

export async function submitRevoke(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const t = portalT(ctx);
  const form = parseForm(revokeForm, ctx);
  if (!form.ok) throw new HttpError(400, t('portal.error.badRequestTitle'), t('portal.apps.error.unreadable'));
  const apps = await appsOf(deps, user._id);
  const target = [...apps.values()].find((grants) => grants.some((grant) => grant.grantId === form.data.grantId));
  if (!target) throw new HttpError(404, t('portal.apps.error.notFoundTitle'), t('portal.apps.error.notFound'));
  const context = requestContext(ctx);
  for (const grant of target) await revokeConnectedApp(deps, user._id, grant.grantId, context);
  seeOther(ctx, '/account/apps', 'app_revoked');
}
