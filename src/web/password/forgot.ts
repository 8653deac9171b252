// "Forgot your password?": an email form whose answer, and its timing, are the
// same whether or not the address has an account.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { EMAIL_MAX, emailSchema } from '../../accounts/email.ts';
import { requestPasswordReset } from '../../accounts/password-links.ts';
import { responseSent } from '../../background.ts';
import { HttpError } from '../http-error.ts';
import { render } from '../render.ts';
import { localeOf } from '../locale.ts';
import { translator } from '../../i18n/messages.ts';
import { echo, optionalId, parseForm, requestContext, text } from '../forms.ts';

// Messages are catalog keys (locales/*/password.json); the page translates them.
const forgotForm = z.object({
  email: text('password.error.emailMissing').trim().min(1, 'password.error.emailMissing').max(EMAIL_MAX, 'password.error.emailTooLong')
    .pipe(z.string().refine((value) => emailSchema.safeParse(value).success, 'password.error.emailInvalid')),
  interaction: optionalId,
});

export function showForgot(ctx: Context, _deps: AppDeps, extra: { email?: string; errors?: Record<string, string>; status?: number } = {}): void {
  render(ctx, 'forgot', {
    title: translator(localeOf(ctx))('password.forgot.title'),
    email: extra.email ?? '',
    interaction: optionalId.parse(ctx.query.interaction ?? (ctx.request.body as Record<string, unknown> | undefined)?.interaction),
    errors: extra.errors ?? {},
  }, extra.status);
}

export async function submitForgot(ctx: Context, deps: AppDeps): Promise<void> {
  const form = parseForm(forgotForm, ctx);
  if (!form.ok) return showForgot(ctx, deps, { email: echo(ctx, 'email'), errors: form.errors, status: 400 });
  const { email, interaction } = form.data;

  const t = translator(localeOf(ctx));
  const throttle = await deps.emailFormThrottle.consume(ctx.ip, email);
  if (!throttle.allowed) {
    const minutes = Math.ceil(throttle.retryAfterSeconds / 60);
    throw new HttpError(429, t('password.error.tooManyTitle'), t('password.error.tooManyResets', { minutes }), {
      'Retry-After': String(throttle.retryAfterSeconds),
    });
  }
  // The lookup, the link and the email start once this answer has gone out.
  requestPasswordReset(deps.passwords, email, { interactionUid: interaction }, requestContext(ctx), { after: responseSent(ctx.res) });
  // The same words whether or not the address has an account, in every language.
  render(ctx, 'forgot-sent', { title: t('password.checkEmail'), email, interaction });
}
