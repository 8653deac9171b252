// "Delete my account" in the portal (issue 14). The rules live in accounts/deletion.ts;
// this file is the pages a person goes through:
//
// 1. /account/delete (a recent sign-in, like every change of how one signs in): what
//    goes and what stays, the grace period if the policy has one, and a field where the
//    person types their account's email address to confirm.
// 2. The right address: the account is deleted (or disabled and scheduled), every
//    session, grant and token ends at once, this portal session with them, and the
//    browser lands on /account/deleted. The confirmation email goes to the old address.
// 3. A missing or different address: the page again with the error beside the field
//    (400), nothing deleted. The last administrator: a 409 page saying why.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { deletionNotice, requestAccountDeletion } from '../../accounts/deletion.ts';
import { AccountError } from '../../accounts/errors.ts';
import { EMAIL_MAX, normalizeEmail } from '../../accounts/email.ts';
import { parseForm, requestContext, text } from '../forms.ts';
import { render } from '../render.ts';
import { localeOf } from '../locale.ts';
import { translator } from '../../i18n/messages.ts';
import { formatDate, portalOf, renderPortal } from './page.ts';

export const DELETE_PAGE = '/account/delete';
export const DELETED_PAGE = '/account/deleted';

// Messages are keys of locales/<lang>/deletion.json.
const deleteForm = z.object({
  confirmEmail: text('portal.delete.error.confirmMissing').trim().min(1, 'portal.delete.error.confirmMissing').max(EMAIL_MAX, 'portal.delete.error.confirmTooLong'),
});

const graceDaysOf = (deps: AppDeps) => deps.config.policy.accountDeletion.graceDays;

export function showDelete(ctx: Context, deps: AppDeps, options: { errors?: Record<string, string>; status?: number } = {}): void {
  const { user } = portalOf(ctx);
  renderPortal(ctx, 'delete', 'data', {
    title: 'portal.delete.title', email: user.email, graceDays: graceDaysOf(deps), errors: options.errors ?? {},
  }, options.status ?? 200);
}

/** `forget` clears this browser's portal cookie (its session document goes with the rest). */
export async function submitDelete(ctx: Context, deps: AppDeps, forget: (ctx: Context) => void): Promise<void> {
  const { user } = portalOf(ctx);
  const form = parseForm(deleteForm, ctx);
  if (!form.ok) return showDelete(ctx, deps, { errors: form.errors, status: 400 });
  // The address as the account has it, whatever the case or spaces typed.
  if (normalizeEmail(form.data.confirmEmail) !== normalizeEmail(user.email)) {
    return showDelete(ctx, deps, { errors: { confirmEmail: 'portal.delete.error.confirmWrong' }, status: 400 });
  }
  let outcome;
  try {
    outcome = await requestAccountDeletion(deps, deletionNotice(deps), user._id, { graceMs: graceDaysOf(deps) * 86_400_000 }, requestContext(ctx));
  } catch (error) {
    if (!(error instanceof AccountError)) throw error;
    const t = translator(localeOf(ctx));
    const lastAdmin = error.code === 'last_admin';
    return render(ctx, 'account/message', {
      title: t(lastAdmin ? 'portal.delete.error.lastAdminTitle' : 'portal.delete.error.goneTitle'),
      message: t(lastAdmin ? 'portal.delete.error.lastAdmin' : 'portal.delete.error.gone'),
      link: lastAdmin ? { href: '/account', text: t('portal.delete.backToAccount') } : null,
    }, lastAdmin ? 409 : 404);
  }
  forget(ctx);
  ctx.status = 303;
  // Nothing is left to look the date up by: it travels in the address (a date, not a secret).
  ctx.redirect(outcome.deleted ? DELETED_PAGE : `${DELETED_PAGE}?on=${outcome.scheduledFor.toISOString().slice(0, 10)}`);
}

/** After the deletion, without a session: gone, or going on a date (?on=YYYY-MM-DD). */
export function showDeleted(ctx: Context): void {
  const t = translator(localeOf(ctx));
  const on = typeof ctx.query.on === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(ctx.query.on) ? new Date(`${ctx.query.on}T00:00:00Z`) : null;
  const scheduled = on && !Number.isNaN(on.getTime()) ? formatDate(on, localeOf(ctx)) : null;
  render(ctx, 'account/deleted', {
    title: t(scheduled ? 'portal.deleted.scheduledTitle' : 'portal.deleted.title'),
    scheduled,
  });
}
