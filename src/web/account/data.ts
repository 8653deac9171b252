// "Your data" in the portal (issue 14): a download of everything held about the person
// (accounts/export.ts) and the way to delete the account (delete.ts).
//
// The download is a POST (CSRF-checked, so no other site can make a browser fetch it),
// answered with the JSON as an attachment that no cache keeps. Each account may download
// it policy dataExport.perAccountPerHour times an hour; past that a 429 page says how long.
import type { Context } from 'koa';
import type { Db } from 'mongodb';
import type { AppDeps } from '../../deps.ts';
import { exportAccount, ExportLimit } from '../../accounts/export.ts';
import { HttpError } from '../http-error.ts';
import { render } from '../render.ts';
import { clientName } from './apps.ts';
import { portalOf, portalT, renderPortal } from './page.ts';

/** One limiter per database handle (each instance's), counting in the shared throttles collection. */
const limits = new WeakMap<Db, ExportLimit>();
function limitOf(deps: AppDeps): ExportLimit {
  let limit = limits.get(deps.db);
  if (!limit) {
    limit = new ExportLimit(deps.db, deps.config.policy.dataExport.perAccountPerHour);
    limits.set(deps.db, limit);
  }
  return limit;
}

export function showData(ctx: Context, deps: AppDeps): void {
  renderPortal(ctx, 'data', 'data', { title: 'portal.data.title', perHour: deps.config.policy.dataExport.perAccountPerHour });
}

export async function downloadData(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const t = portalT(ctx);
  const allowed = await limitOf(deps).consume(user._id);
  if (!allowed.allowed) {
    ctx.set('Retry-After', String(allowed.retryAfterSeconds));
    return render(ctx, 'account/message', {
      title: t('portal.data.tooManyTitle'),
      message: t('portal.data.tooMany', { minutes: Math.ceil(allowed.retryAfterSeconds / 60) }),
      link: { href: '/account/data', text: t('portal.data.back') },
    }, 429);
  }
  const data = await exportAccount({ ...deps, clientName: (clientId) => clientName(deps, clientId) }, user._id);
  if (!data) throw new HttpError(404, t('portal.delete.error.goneTitle'), t('portal.delete.error.gone'));
  ctx.status = 200;
  ctx.type = 'application/json; charset=utf-8';
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Content-Disposition', `attachment; filename="account-data-${data.exportedAt.slice(0, 10)}.json"`);
  ctx.body = `${JSON.stringify(data, null, 2)}\n`;
}
