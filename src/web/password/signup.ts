// Self sign-up: email, name and a password under the policy; the address is
// confirmed by a link before the first sign-in. The answer is the same whether
// or not the address already has an account (its owner gets an email instead).
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { EMAIL_MAX, emailSchema } from '../../accounts/email.ts';
import { signUp, verifyEmail } from '../../accounts/password-links.ts';
import { responseSent } from '../../background.ts';
import { HttpError } from '../http-error.ts';
import { render } from '../render.ts';
import { afterLink } from './return-to-sign-in.ts';
import { echo, optionalId, parseForm, requestContext, text } from '../forms.ts';
import { linkProblem } from './link-password.ts';

const signupForm = z.object({
  email: text('Enter your email address.').trim().min(1, 'Enter your email address.').max(EMAIL_MAX, 'That email address is too long.')
    .pipe(z.string().refine((value) => emailSchema.safeParse(value).success, 'Enter an email address like name@example.com.')),
  name: text('Enter your name.').trim().min(1, 'Enter your name.').max(200, 'Use at most 200 characters.'),
  password: text('Choose a password.').min(1, 'Choose a password.'),
  interaction: optionalId,
});

function ensureEnabled(deps: AppDeps): void {
  if (!deps.config.policy.signup.enabled) throw new HttpError(404, 'Not found', 'Accounts are created by your administrator here.');
}

export function showSignup(ctx: Context, deps: AppDeps, extra: { errors?: Record<string, string>; status?: number } = {}): void {
  ensureEnabled(deps);
  render(ctx, 'signup', {
    title: 'Create your account',
    email: echo(ctx, 'email'),
    name: echo(ctx, 'name', 200),
    interaction: optionalId.parse(ctx.query.interaction ?? (ctx.request.body as Record<string, unknown> | undefined)?.interaction),
    rules: deps.policy.describe({ history: false }),
    errors: extra.errors ?? {},
  }, extra.status);
}

export async function submitSignup(ctx: Context, deps: AppDeps): Promise<void> {
  ensureEnabled(deps);
  const form = parseForm(signupForm, ctx);
  if (!form.ok) return showSignup(ctx, deps, { errors: form.errors, status: 400 });
  const { email, name, password, interaction } = form.data;

  const throttle = await deps.emailFormThrottle.consume(ctx.ip, email);
  if (!throttle.allowed) {
    throw new HttpError(429, 'Too many requests', `Too many attempts. Wait ${Math.ceil(throttle.retryAfterSeconds / 60)} minute(s) and try again.`, {
      'Retry-After': String(throttle.retryAfterSeconds),
    });
  }
  // The same work for a new and a taken address; the email goes out after this answer.
  const result = await signUp(deps.passwords, { email, name, password, interactionUid: interaction }, requestContext(ctx), { after: responseSent(ctx.res) });
  if (!result.ok) return showSignup(ctx, deps, { errors: { password: result.issues.map((i) => i.message).join(' ') }, status: 400 });
  render(ctx, 'message', {
    title: 'Check your email',
    message: `We sent a link to ${email}. Open it to confirm your address, then sign in.`,
    next: 'The link works for a limited time. If nothing arrives, check your spam folder.',
  });
}

export async function showVerifyEmail(ctx: Context, deps: AppDeps): Promise<void> {
  const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
  const { state } = await deps.links.inspect(token, 'verify_email');
  if (state !== 'valid') return linkProblem(ctx, state, token);
  render(ctx, 'verify-email', { title: 'Confirm your email', token });
}

export async function submitVerifyEmail(ctx: Context, deps: AppDeps): Promise<void> {
  const token = String((ctx.request.body as Record<string, unknown> | undefined)?.token ?? '').slice(0, 64);
  const result = await verifyEmail(deps.passwords, token, requestContext(ctx));
  if (!result.ok) return linkProblem(ctx, result.state, token);
  // Back into the sign-in this started from, in the browser that holds it; elsewhere the page says what to do.
  const next = await afterLink(ctx, deps, result.link.interactionUid, result.link.clientId, 'email_verified');
  if (next.kind === 'sign-in') {
    ctx.status = 303;
    return ctx.redirect(next.location);
  }
  render(ctx, 'message', { title: 'Email confirmed', message: 'Your email address is confirmed.', app: next.app, next: 'Go back to the app you use and sign in.' });
}
