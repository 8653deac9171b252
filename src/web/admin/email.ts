// "Change email address" on the console's account page (issue 14): a confirmation link
// to the new address, or an override at once; the domain (accounts/email-change.ts)
// does the rest with this admin as the actor.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { adminChangeEmail } from '../../accounts/email-change.ts';
import { AccountError } from '../../accounts/errors.ts';
import { EMAIL_MAX, emailSchema } from '../../accounts/email.ts';
import { HttpError } from '../http-error.ts';
import { parseForm } from '../forms.ts';
import { emailChangeDeps } from '../account/email.ts';
import { ACCOUNT_ID, adminContext, seeOther } from './page.ts';

const emailForm = z.object({
  email: z.string().trim().min(1).max(EMAIL_MAX).refine((value) => emailSchema.safeParse(value).success),
  mode: z.enum(['confirm', 'override']),
});

const notFound = () => new HttpError(404, 'admin.error.accountNotFound.title', 'admin.error.accountNotFound.message');

/** POST /admin/accounts/:id/email */
export async function submitAdminEmail(ctx: Context, deps: AppDeps): Promise<void> {
  const id = ctx.params.id;
  if (typeof id !== 'string' || !ACCOUNT_ID.test(id) || !(await deps.users.exists({ _id: id }))) throw notFound();
  const form = parseForm(emailForm, ctx);
  if (!form.ok) throw new HttpError(400, 'admin.email.error.invalid.title', 'admin.email.error.invalid.message');
  try {
    await adminChangeEmail(emailChangeDeps(deps), id, form.data, adminContext(ctx));
  } catch (error) {
    if (error instanceof AccountError) {
      if (error.code === 'not_found') throw notFound();
      if (error.code === 'email_taken') throw new HttpError(409, 'admin.email.error.taken.title', 'admin.email.error.taken.message');
      if (error.code === 'disabled') throw new HttpError(409, 'admin.email.error.disabled.title', 'admin.email.error.disabled.message');
      if (error.code === 'invalid_request') throw new HttpError(400, 'admin.email.error.same.title', 'admin.email.error.same.message');
      if (error.code === 'invalid_email') throw new HttpError(400, 'admin.email.error.invalid.title', 'admin.email.error.invalid.message');
    }
    throw error;
  }
  seeOther(ctx, `/admin/accounts/${encodeURIComponent(id)}`, form.data.mode === 'override' ? 'email_changed' : 'email_change_sent');
}
