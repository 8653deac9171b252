// The sign-in step: email and password. Every failure reads the same.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { authenticate } from '../../accounts/signin.ts';
import { EMAIL_MAX } from '../../accounts/email.ts';
import { PASSWORD_MAX_BYTES } from '../../accounts/passwords.ts';
import { readDevice, writeDevice } from '../device-cookie.ts';
import { HttpError } from '../http-error.ts';
import { consumeSignInThrottle, type Interaction } from './interaction.ts';
import { text, parseForm, echo, requestContext } from '../forms.ts';
import { requiresMfa } from '../../oidc/provider.ts';
import { pendingSecondFactorOf, showSecondFactor } from './second-factor.ts';
import { showEnrolment } from './enrol.ts';
import { mustUseSecondFactor } from '../../accounts/mfa-policy.ts';
import { isTrustedBrowser } from '../../accounts/trusted-browsers.ts';
import { ACR } from '../../oidc/authentication.ts';
import { afterPassword } from './after-password.ts';
import { offerRestore } from './restore.ts';
import { showLogin } from './login-page.ts';

// Messages are catalog keys (locales/*/signin.json); the page translates them.
const SIGN_IN_FAILED = 'signin.error.failed';
const TEMPORARY_EXPIRED = 'signin.error.temporaryExpired';

const loginForm = z.object({
  email: text('signin.error.emailMissing').trim().min(1, 'signin.error.emailMissing').max(EMAIL_MAX, 'signin.error.emailTooLong'),
  password: text('signin.error.passwordMissing').min(1, 'signin.error.passwordMissing').max(PASSWORD_MAX_BYTES, 'signin.error.passwordTooLong'),
});

/** GET of a sign-in: its second step (or the setup of a first factor) when the password was given already, else the password page. */
export async function showSignIn(ctx: Context, deps: AppDeps, interaction: Interaction): Promise<void> {
  const step = await pendingSecondFactorOf(ctx, deps, interaction.uid);
  if (step?.kind === 'enrol') return showEnrolment(ctx, deps, interaction, step.accountId, {});
  if (step) return showSecondFactor(ctx, deps, interaction, step.accountId, {});
  return showLogin(ctx, deps, interaction);
}

export async function submitLogin(ctx: Context, deps: AppDeps, interaction: Interaction): Promise<void> {
  if (interaction.prompt.name !== 'login') throw new HttpError(400, 'errors.step.done.title', 'errors.step.done');

  const form = parseForm(loginForm, ctx);
  if (!form.ok) return showLogin(ctx, deps, interaction, { email: echo(ctx, 'email'), errors: form.errors, status: 400 });
  const { email, password } = form.data;

  await consumeSignInThrottle(ctx, deps, email);

  // Whether this sign-in must be two-step whatever the browser (the app requires it, or asks with acr_values).
  const appRequires = requiresMfa(ctx.state.client);
  const appAsks = String(interaction.params.acr_values ?? '').split(' ').includes(ACR.mfa);
  const trustDays = deps.config.policy.mfa.trustBrowserDays;
  const result = await authenticate(deps.signInDeps, {
    email, password, device: readDevice(ctx), context: requestContext(ctx),
    // A browser the person trusts skips the second step where nothing requires it (the sign-in reports amr pwd).
    secondStepWaived: trustDays > 0
      ? async (user, device) => !appRequires && !appAsks && !mustUseSecondFactor(user, deps.config.policy.mfa, false) && isTrustedBrowser(deps.factors, device, user)
      : undefined,
  });
  if (!result.ok) {
    // 'disabled' comes only after the right password: an account scheduled for deletion offers to restore it (restore.ts).
    if (result.reason === 'disabled' && result.userId && (await offerRestore(ctx, deps, interaction, result.userId))) return;
    // Only someone who knows the temporary password learns it expired; everyone else reads the same message.
    const message = result.reason === 'temporary_password_expired' ? TEMPORARY_EXPIRED : SIGN_IN_FAILED;
    return showLogin(ctx, deps, interaction, { email, errors: { form: message }, status: 401 });
  }

  // authenticate() recorded the success already; the browser gets its device cookie.
  await afterPassword(ctx, deps, interaction, result.user, {
    secondFactor: result.secondFactor,
    succeeded: () => writeDevice(ctx, result.device, { days: deps.config.policy.device.cookieDays, secure: deps.config.secure }),
  });
}
