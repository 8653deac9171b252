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
import { localeOf } from '../locale.ts';
import { translator } from '../../i18n/messages.ts';
import { describeIssues } from '../../accounts/password-policy.ts';
import { strengthWords } from './strength-words.ts';
import { acceptanceAtSignUp, currentTerms } from '../../accounts/terms.ts';
import { markPasswordSetHere } from '../new-browser-signin.ts';
import { appOf } from '../interactions/interaction.ts';
import { allowImagesFrom } from '../middleware/security-headers.ts';
import { isHttpsUrl } from '../../oidc/provider.ts';

const NAME_MAX = 200;

// Messages are catalog keys (locales/*/password.json); the page translates them.
const signupForm = z.object({
  // In the order of the page's fields, so the error summary lists them in that order.
  name: text('password.error.nameMissing').trim().min(1, 'password.error.nameMissing').max(NAME_MAX, 'password.error.nameTooLong'),
  email: text('password.error.emailMissing').trim().min(1, 'password.error.emailMissing').max(EMAIL_MAX, 'password.error.emailTooLong')
    .pipe(z.string().refine((value) => emailSchema.safeParse(value).success, 'password.error.emailInvalid')),
  password: text('password.error.passwordMissing').min(1, 'password.error.passwordMissing'),
  interaction: optionalId,
});

function ensureEnabled(ctx: Context, deps: AppDeps): void {
  if (!deps.config.policy.signup.enabled) {
    const t = translator(localeOf(ctx));
    throw new HttpError(404, t('password.signup.disabledTitle'), t('password.signup.disabled'));
  }
}

/**
 * The sign-in that led here (the sign-in page's "create an account" link carries its
 * interaction, the form sends it back): its app is shown as the sign-in page shows it
 * (name in the page's language, https logo allowed by this page's CSP for its origin
 * only, site, privacy policy and terms), and its ui_locales choose the page's language.
 * An unknown or ended sign-in shows nothing of an app; the page works the same.
 */
async function followSignIn(ctx: Context, deps: AppDeps, uid: string | undefined): Promise<void> {
  if (!uid) return;
  const interaction = await deps.provider.Interaction.find(uid);
  const clientId = interaction?.params.client_id;
  const client = typeof clientId === 'string' ? await deps.provider.Client.find(clientId) : undefined;
  if (!interaction || !client) return;
  ctx.state.client = client;
  ctx.state.uiLocales ??= interaction.params.ui_locales;
  if (isHttpsUrl(client.logoUri)) allowImagesFrom(ctx, new URL(client.logoUri).origin);
}

/** The interaction of the sign-in this page belongs to: the link's query, or the form's hidden field. */
const interactionOf = (ctx: Context) => optionalId.parse(ctx.query.interaction ?? (ctx.request.body as Record<string, unknown> | undefined)?.interaction);

export async function showSignup(ctx: Context, deps: AppDeps): Promise<void> {
  ensureEnabled(ctx, deps);
  await followSignIn(ctx, deps, interactionOf(ctx));
  renderSignup(ctx, deps);
}

function renderSignup(ctx: Context, deps: AppDeps, extra: { errors?: Record<string, string>; status?: number } = {}): void {
  const t = translator(localeOf(ctx));
  // A field's error is a catalog key, or (from the policy) a text already in the page's language.
  const errors = Object.fromEntries(Object.entries(extra.errors ?? {}).map(([field, error]) => [field, error === 'password.error.nameTooLong' ? t(error, { max: NAME_MAX }) : error]));
  render(ctx, 'signup', {
    title: t('password.signup.title'),
    email: echo(ctx, 'email'),
    name: echo(ctx, 'name', 200),
    interaction: interactionOf(ctx),
    // The app of that sign-in (followSignIn), or none.
    app: ctx.state.client ? appOf(ctx) : null,
    rules: deps.policy.describeFor(t, { history: false }),
    strength: strengthWords(t),
    // The organisation's terms, accepted with a required checkbox (stored with the new account).
    terms: currentTerms(deps.config.policy.terms),
    errors,
  }, extra.status);
}

export async function submitSignup(ctx: Context, deps: AppDeps): Promise<void> {
  ensureEnabled(ctx, deps);
  await followSignIn(ctx, deps, interactionOf(ctx));
  const t = translator(localeOf(ctx));
  const form = parseForm(signupForm, ctx);
  // With terms in force, the box must be ticked for the version the page showed (terms changed since: tick it again).
  const terms = currentTerms(deps.config.policy.terms);
  const body = (ctx.request.body ?? {}) as Record<string, unknown>;
  const termsError = !terms ? null
    : body.acceptTerms !== 'yes' ? 'terms.signup.missing'
    : body.termsVersion !== terms.version ? 'terms.error.changed' : null;
  if (!form.ok || termsError) return renderSignup(ctx, deps, { errors: { ...(form.ok ? {} : form.errors), ...(termsError ? { acceptTerms: termsError } : {}) }, status: 400 });
  const { email, name, password, interaction } = form.data;

  const throttle = await deps.emailFormThrottle.consume(ctx.ip, email);
  if (!throttle.allowed) {
    const minutes = Math.ceil(throttle.retryAfterSeconds / 60);
    throw new HttpError(429, t('password.error.tooManyTitle'), t('password.error.tooManyAttempts', { minutes }), {
      'Retry-After': String(throttle.retryAfterSeconds),
    });
  }
  // The same work for a new and a taken address; the email goes out after this answer.
  const clientId = terms && interaction ? ((await deps.provider.Interaction.find(interaction))?.params.client_id as string | undefined) ?? null : null;
  const termsAccepted = terms ? acceptanceAtSignUp(terms, clientId) : undefined;
  const result = await signUp(deps.passwords, { email, name, password, interactionUid: interaction, termsAccepted }, requestContext(ctx), { after: responseSent(ctx.res) });
  if (!result.ok) return renderSignup(ctx, deps, { errors: { password: describeIssues(t, result.issues) }, status: 400 });
  render(ctx, 'message', {
    title: t('password.checkEmail'),
    message: t('password.signup.sent', { email }),
    next: t('password.signup.sentNext'),
  });
}

export async function showVerifyEmail(ctx: Context, deps: AppDeps): Promise<void> {
  const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
  const { state } = await deps.links.inspect(token, 'verify_email');
  if (state !== 'valid') return linkProblem(ctx, state, token);
  render(ctx, 'verify-email', { title: translator(localeOf(ctx))('password.verify.title'), token });
}

export async function submitVerifyEmail(ctx: Context, deps: AppDeps): Promise<void> {
  const token = String((ctx.request.body as Record<string, unknown> | undefined)?.token ?? '').slice(0, 64);
  const result = await verifyEmail(deps.passwords, token, requestContext(ctx));
  if (!result.ok) return linkProblem(ctx, result.state, token);
  // The sign-in that follows in this browser is the owner's: no "new browser" email for it.
  markPasswordSetHere(ctx, result.link.userId, { secure: deps.config.secure, signInMinutes: deps.config.policy.lifetimes.signInMinutes });
  // Back into the sign-in this started from, in the browser that holds it; elsewhere the page says what to do.
  const next = await afterLink(ctx, deps, result.link.interactionUid, result.link.clientId, 'email_verified');
  if (next.kind === 'sign-in') {
    ctx.status = 303;
    return ctx.redirect(next.location);
  }
  const t = translator(localeOf(ctx));
  render(ctx, 'message', { title: t('password.verify.doneTitle'), message: t('password.verify.done'), app: next.app, next: t('password.verify.doneNext') });
}
