// "Delete account" on the console's account page (issue 14): the account's email typed
// back to confirm, then the domain deletion every surface uses (accounts/deletion.ts),
// with this admin as the actor. Immediate, as the admin API's and the CLI's are: the
// policy's grace period is for people deleting their own account in the portal.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { deleteAccountAndTell, deletionNotice } from '../../accounts/deletion.ts';
import { AccountError } from '../../accounts/errors.ts';
import { EMAIL_MAX, normalizeEmail } from '../../accounts/email.ts';
import { HttpError } from '../http-error.ts';
import { parseForm } from '../forms.ts';
import { ACCOUNT_ID, adminContext, seeOther } from './page.ts';

const deleteForm = z.object({ confirmEmail: z.string().trim().min(1).max(EMAIL_MAX) });

const notFound = () => new HttpError(404, 'admin.error.accountNotFound.title', 'admin.error.accountNotFound.message');

/** POST /admin/accounts/:id/delete */
export async function submitDeleteAccount(ctx: Context, deps: AppDeps): Promise<void> {
  const id = ctx.params.id;
  const account = typeof id === 'string' && ACCOUNT_ID.test(id) ? await deps.users.findById(id, { email: 1 }).lean<{ email: string }>() : null;
  if (!account) throw notFound();
  const form = parseForm(deleteForm, ctx);
  if (!form.ok || normalizeEmail(form.data.confirmEmail) !== normalizeEmail(account.email)) {
    throw new HttpError(400, 'admin.delete.error.confirm.title', 'admin.delete.error.confirm.message');
  }
  try {
    await deleteAccountAndTell(deps, deletionNotice(deps), id!, adminContext(ctx));
  } catch (error) {
    if (error instanceof AccountError && error.code === 'last_admin') throw new HttpError(409, 'admin.delete.error.lastAdmin.title', 'admin.delete.error.lastAdmin.message');
    if (error instanceof AccountError && error.code === 'not_found') throw notFound();
    throw error;
  }
  seeOther(ctx, '/admin', 'account_deleted');
}
