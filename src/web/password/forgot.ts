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
import { echo, optionalId, parseForm, requestContext, text } from '../forms.ts';

const forgotForm = z.object({
  email: text('Enter your email address.').trim().min(1, 'Enter your email address.').max(EMAIL_MAX, 'That email address is too long.')
    .pipe(z.string().refine((value) => emailSchema.safeParse(value).success, 'Enter an email address like name@example.com.')),
  interaction: optionalId,
});

export function showForgot(ctx: Context, _deps: AppDeps, extra: { email?: string; errors?: Record<string, string>; status?: number } = {}): void {
  render(ctx, 'forgot', {
    title: 'Reset your password',
    email: extra.email ?? '',
    interaction: optionalId.parse(ctx.query.interaction ?? (ctx.request.body as Record<string, unknown> | undefined)?.interaction),
    errors: extra.errors ?? {},
  }, extra.status);
}

export async function submitForgot(ctx: Context, deps: AppDeps): Promise<void> {
  const form = parseForm(forgotForm, ctx);
  if (!form.ok) return showForgot(ctx, deps, { email: echo(ctx, 'email'), errors: form.errors, status: 400 });
  const { email, interaction } = form.data;

  const throttle = await deps.emailFormThrottle.consume(ctx.ip, email);
  if (!throttle.allowed) {
    throw new HttpError(429, 'Too many requests', `Too many reset requests. Wait ${Math.ceil(throttle.retryAfterSeconds / 60)} minute(s) and try again.`, {
      'Retry-After': String(throttle.retryAfterSeconds),
    });
  }
  // The lookup, the link and the email start once this answer has gone out.
  requestPasswordReset(deps.passwords, email, { interactionUid: interaction }, requestContext(ctx), { after: responseSent(ctx.res) });
  render(ctx, 'forgot-sent', { title: 'Check your email', email, interaction });
}
