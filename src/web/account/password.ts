// Changing the password with the current one. The current password counts as a
// sign-in attempt (throttle, lockout), and every failure of it reads the same.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { changePassword } from '../../accounts/change-password.ts';
import { PASSWORD_MAX_BYTES } from '../../accounts/passwords.ts';
import { HttpError } from '../http-error.ts';
import { parseForm, requestContext, text } from '../forms.ts';
import { formatDate, portalOf, renderPortal, seeOther } from './page.ts';

const WRONG_CURRENT = 'That is not your current password, or the account is temporarily locked after too many attempts.';

const passwordForm = z.object({
  currentPassword: text('Enter your current password.').min(1, 'Enter your current password.').max(PASSWORD_MAX_BYTES, 'That password is too long.'),
  password: text('Choose a new password.').min(1, 'Choose a new password.'),
  // A checkbox: "yes" when ticked, absent when not.
  signOutOthers: z.literal('yes', { error: 'This field could not be read.' }).optional(),
});

function showForm(ctx: Context, deps: AppDeps, options: { signOutOthers?: boolean; errors?: Record<string, string>; status?: number } = {}): void {
  const { user } = portalOf(ctx);
  renderPortal(ctx, 'password', 'password', {
    title: 'Change your password',
    email: user.email,
    rules: deps.policy.describe(),
    changedAt: user.passwordChangedAt ? formatDate(new Date(user.passwordChangedAt)) : null,
    signOutOthers: options.signOutOthers ?? true,
    errors: options.errors ?? {},
  }, options.status);
}

export function showPassword(ctx: Context, deps: AppDeps): void {
  showForm(ctx, deps);
}

export async function submitPassword(ctx: Context, deps: AppDeps): Promise<void> {
  const { user, session } = portalOf(ctx);
  const sentCheckbox = (ctx.request.body as Record<string, unknown> | undefined)?.signOutOthers === 'yes';
  const form = parseForm(passwordForm, ctx);
  if (!form.ok) return showForm(ctx, deps, { signOutOthers: sentCheckbox, errors: form.errors, status: 400 });
  const { currentPassword, password, signOutOthers } = form.data;

  const throttle = await deps.throttle.consume(ctx.ip, user.email);
  if (!throttle.allowed) {
    throw new HttpError(429, 'Too many attempts', `Too many attempts. Wait ${Math.ceil(throttle.retryAfterSeconds / 60)} minute(s) and try again.`, {
      'Retry-After': String(throttle.retryAfterSeconds),
    });
  }

  const result = await changePassword(deps.passwords, user._id, {
    currentPassword,
    newPassword: password,
    signOutOtherSessions: signOutOthers === 'yes',
    keepSessionUid: session.sid,
  }, requestContext(ctx));
  if (result.ok) return seeOther(ctx, '/account/password', result.signedOutOthers ? 'password_changed_signed_out' : 'password_changed');

  const errors: Record<string, string> = {};
  if (result.reason === 'wrong_current_password' || result.reason === 'locked') errors.currentPassword = WRONG_CURRENT;
  else if (result.reason === 'policy') errors.password = result.issues.map((issue) => issue.message).join(' ');
  else errors.form = 'The password of this account cannot be changed here.';
  showForm(ctx, deps, { signOutOthers: signOutOthers === 'yes', errors, status: 400 });
}
