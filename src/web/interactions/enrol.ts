// Setting up a second factor in the middle of a sign-in: for a person who must sign in
// with one (accounts/mfa-policy.ts: the app, an operator or the policy says so) and has
// none yet. Right after the password, instead of a refusal, this step offers a passkey
// or an authenticator app; the first correct use of the new factor completes the
// sign-in as a two-step one. Until then there is no session, no device cookie and no
// code, as in the second step (second-factor.ts), whose pending record it shares.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import type { User } from '../../db/models/user.ts';
import { confirmTotpEnrolment, ENROLMENT_MS, startTotpEnrolment, type ConfirmEnrolmentResult } from '../../accounts/factors.ts';
import { passkeyName, passkeyRegistrationOptions, registerPasskey, type Binding } from '../../accounts/passkeys.ts';
import { completeSecondStep, type PendingSecondStep } from '../../accounts/second-step.ts';
import { mfaLogin, passkeyLogin, type LoginResult } from '../../oidc/authentication.ts';
import { rememberBrowser } from '../device-cookie.ts';
import { HttpError } from '../http-error.ts';
import { render } from '../render.ts';
import { parseForm, requestContext, text } from '../forms.ts';
import { appNameOf, consumeSignInThrottle, finish, type Interaction } from './interaction.ts';
import { oweSecondStep, pendingSecondFactor } from './second-factor.ts';
import { startForcedChange } from './change-password.ts';
import { translator } from '../../i18n/messages.ts';
import { localeOf } from '../locale.ts';

// Messages are catalog keys (locales/*/steps.json, errors.json); the page translates them.
const codeForm = z.object({
  enrolmentId: z.string({ error: 'steps.enrol.error.unreadable' }).regex(/^[\w-]{1,100}$/, 'steps.enrol.error.unreadable'),
  code: text('steps.enrol.error.codeMissing').trim().min(1, 'steps.enrol.error.codeMissing').max(32, 'steps.error.codeTooLong'),
});
const passkeyForm = z.object({ credential: z.string({ error: 'steps.enrol.error.noPasskey' }).min(2, 'steps.enrol.error.noPasskey').max(12_000, 'steps.enrol.error.noPasskey') });

const CODE_FAILED: Record<Exclude<ConfirmEnrolmentResult, { ok: true }>['reason'], string> = {
  wrong_code: 'steps.enrol.error.wrongCode',
  expired: 'steps.enrol.error.expired',
  too_many_attempts: 'steps.enrol.error.tooManyAttempts',
  not_found: 'steps.enrol.error.notFound',
};
const PASSKEY_FAILED = 'steps.enrol.error.passkey';

const bindingOf = (interaction: Interaction): Binding => `interaction:${interaction.uid}`;

/** After the right password of an account that must use a second factor and has none: remember it, and offer to set one up. */
export async function startEnrolment(ctx: Context, deps: AppDeps, interaction: Interaction, user: User): Promise<void> {
  await oweSecondStep(ctx, deps, interaction, user._id, 'enrol');
  await showEnrolment(ctx, deps, interaction, user._id, {});
}

/** The page: a passkey (when the browser can), or an authenticator app with a fresh QR code and the field for its first code. */
export async function showEnrolment(ctx: Context, deps: AppDeps, interaction: Interaction, accountId: string, errors: Record<string, string>, status = 200): Promise<void> {
  const user = await deps.users.findById(accountId, { email: 1 }).lean<Pick<User, 'email'>>();
  if (!user) throw signInAgain();
  // A new secret each time the page is shown: the old one was never confirmed (startTotpEnrolment drops it).
  const enrolment = await startTotpEnrolment(deps.factors, accountId, { issuer: new URL(deps.config.issuer).host, account: user.email });
  const t = translator(localeOf(ctx));
  const qrLabel = t('steps.enrol.app.qrLabel').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  render(ctx, 'enrol', {
    title: t('steps.enrol.title'),
    uid: interaction.uid,
    appName: appNameOf(ctx),
    enrolmentId: enrolment.enrolmentId,
    qrSvg: enrolment.qrSvg.replace(/^<svg /, `<svg role="img" aria-label="${qrLabel}" width="200" height="200" `),
    otpauthUri: enrolment.otpauthUri,
    secretGroups: enrolment.secretBase32.match(/.{1,4}/g)!.join(' '),
    minutes: ENROLMENT_MS / 60_000,
    errors,
  }, status);
}

const signInAgain = () => new HttpError(400, 'errors.step.signInAgain.title', 'errors.step.expired');

/** The pending enrolment of this sign-in and its account, or a "sign in again" page. */
async function enrolling(deps: AppDeps, interaction: Interaction): Promise<{ step: PendingSecondStep; user: User }> {
  const step = interaction.prompt.name === 'login' ? await pendingSecondFactor(deps, interaction.uid) : null;
  if (!step || step.kind !== 'enrol') throw signInAgain();
  const user = await deps.users.findById(step.accountId).lean<User>();
  if (!user || user.status !== 'active') throw signInAgain();
  return { step, user };
}

/** POST /enrol/totp: the first code from the new app. Right: the app is the account's, and the sign-in goes on. */
export async function submitEnrolTotp(ctx: Context, deps: AppDeps, interaction: Interaction): Promise<void> {
  const { user } = await enrolling(deps, interaction);
  const form = parseForm(codeForm, ctx);
  if (!form.ok) return showEnrolment(ctx, deps, interaction, user._id, form.errors.enrolmentId ? { form: CODE_FAILED.not_found } : form.errors, 400);
  await consumeSignInThrottle(ctx, deps, user.email);
  const result = await confirmTotpEnrolment(deps.factors, user._id, form.data.enrolmentId, form.data.code, requestContext(ctx));
  if (!result.ok) {
    const errors: Record<string, string> = result.reason === 'wrong_code' ? { code: CODE_FAILED.wrong_code } : { form: CODE_FAILED[result.reason] };
    return showEnrolment(ctx, deps, interaction, user._id, errors, 400);
  }
  await complete(ctx, deps, interaction, user, mfaLogin(user._id, 'totp'), 'totp');
}

/** POST /enrol/passkey/options: a registration challenge bound to this sign-in. */
export async function enrolPasskeyOptions(ctx: Context, deps: AppDeps, interaction: Interaction): Promise<void> {
  const { user } = await enrolling(deps, interaction);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = await passkeyRegistrationOptions(deps.factors, user._id, bindingOf(interaction));
}

/** POST /enrol/passkey: the new passkey. Created with user verification, it is both factors at once. */
export async function submitEnrolPasskey(ctx: Context, deps: AppDeps, interaction: Interaction): Promise<void> {
  const { user } = await enrolling(deps, interaction);
  const form = parseForm(passkeyForm, ctx);
  const result = form.ok
    ? await registerPasskey(deps.factors, {
      userId: user._id, binding: bindingOf(interaction), response: form.data.credential,
      name: passkeyName(undefined, 'Passkey'), context: requestContext(ctx),
    })
    : null;
  if (!result?.ok) return showEnrolment(ctx, deps, interaction, user._id, { passkey: PASSKEY_FAILED }, 400);
  await complete(ctx, deps, interaction, user, passkeyLogin(user._id, result.synced ? 'swk' : 'hwk', { afterPassword: true }), 'passkey');
}

async function complete(ctx: Context, deps: AppDeps, interaction: Interaction, user: User, login: LoginResult, method: 'totp' | 'passkey'): Promise<void> {
  // Used once: the step cannot be replayed into another finish.
  if (!(await completeSecondStep(deps.db, interaction.uid))) throw new HttpError(400, 'errors.step.signInAgain.title', 'errors.step.used');
  await deps.audit.record('signin.succeeded', user._id, requestContext(ctx), { secondFactor: method, enrolled: true });
  rememberBrowser(ctx, user._id, { days: deps.config.policy.device.cookieDays, secure: deps.config.secure });
  if (user.mustChangePassword) return startForcedChange(ctx, deps, interaction, user, login);
  await finish(ctx, deps.provider, login);
}
