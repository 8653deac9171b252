// Changing the password with the current one. The current password counts as a
// sign-in attempt (throttle, lockout), and every failure of it reads the same.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { changePassword } from '../../accounts/change-password.ts';
import { PASSWORD_MAX_BYTES } from '../../accounts/passwords.ts';
import { describeIssues } from '../../accounts/password-policy.ts';
import { strengthWords } from '../password/strength-words.ts';
import { HttpError } from '../http-error.ts';
import { parseForm, requestContext, text } from '../forms.ts';
import { localeOf } from '../locale.ts';
import { formatDate, portalOf, portalT, renderPortal, seeOther } from './page.ts';

// Messages are keys of locales/<lang>/portal.json.
const WRONG_CURRENT = 'portal.password.error.wrongCurrent';

const passwordForm = z.object({
  currentPassword: text('portal.password.error.currentMissing').min(1, 'portal.password.error.currentMissing').max(PASSWORD_MAX_BYTES, 'portal.password.error.tooLong'),
  password: text('portal.password.error.newMissing').min(1, 'portal.password.error.newMissing'),
  // A checkbox: "yes" when ticked, absent when not.
  signOutOthers: z.literal('yes', { error: 'portal.error.unreadable' }).optional(),
});

function showForm(ctx: Context, deps: AppDeps, options: { signOutOthers?: boolean; errors?: Record<string, string>; status?: number } = {}): void {
  const { user } = portalOf(ctx);
  const t = portalT(ctx);
  renderPortal(ctx, 'password', 'password', {
    title: 'portal.password.title',
    email: user.email,
    // The policy's rules and the strength hint in the page's language (locales/*/password.json).
    rules: deps.policy.describeFor(t),
    strength: strengthWords(t),
    changedAt: user.passwordChangedAt ? formatDate(new Date(user.passwordChangedAt), localeOf(ctx)) : null,
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
    const t = portalT(ctx);
    throw new HttpError(429, t('portal.password.tooManyTitle'), t('portal.password.tooMany', { minutes: Math.ceil(throttle.retryAfterSeconds / 60) }), {
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
  else if (result.reason === 'policy') errors.password = describeIssues(portalT(ctx), result.issues);
  else errors.form = 'portal.password.error.cannotChange';
  showForm(ctx, deps, { signOutOthers: signOutOthers === 'yes', errors, status: 400 });
}
