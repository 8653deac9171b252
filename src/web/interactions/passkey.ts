// Signing in with a passkey (accounts/passkeys.ts), from two pages of a sign-in:
// - the sign-in page: a passkey alone (a discoverable credential; the browser also
//   offers passkeys in the email field). User verification is required, so it is a
//   multi-factor sign-in by itself.
// - the second step after a password: one of that account's passkeys.
// Both ask /options for a challenge bound to this sign-in (its interaction uid), and
// send the browser's answer to /passkey in a form; the answer is verified once.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import type { User } from '../../db/models/user.ts';
import { passkeySignInOptions, verifyPasskeySignIn, type Binding } from '../../accounts/passkeys.ts';
import { completeSecondStep } from '../../accounts/second-step.ts';
import { passkeyLogin } from '../../oidc/authentication.ts';
import { rememberBrowser } from '../device-cookie.ts';
import { HttpError } from '../http-error.ts';
import { parseForm, requestContext } from '../forms.ts';
import { finish, type Interaction } from './interaction.ts';
import { showLogin } from './login-page.ts';
import { pendingSecondFactor, showSecondFactor } from './second-factor.ts';
import { startForcedChange } from './change-password.ts';

const PASSKEY_FAILED = 'signin.error.passkey';
const credentialForm = z.object({ credential: z.string({ error: 'No passkey was sent.' }).min(2, 'No passkey was sent.').max(12_000, 'That answer is too long.') });

const bindingOf = (interaction: Interaction): Binding => `interaction:${interaction.uid}`;

function signingIn(interaction: Interaction): void {
  if (interaction.prompt.name !== 'login') throw new HttpError(400, 'errors.step.done.title', 'errors.step.done');
}

/** POST /options: the challenge for this sign-in, as JSON for the page's script. */
export async function passkeyOptions(ctx: Context, deps: AppDeps, interaction: Interaction): Promise<void> {
  signingIn(interaction);
  const step = await pendingSecondFactor(deps, interaction.uid);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = await passkeySignInOptions(deps.factors, bindingOf(interaction), step?.accountId ?? null);
}

/** POST /passkey: the browser's answer. Right: signed in (or on to the forced password change). Wrong: the same page again. */
export async function submitPasskey(ctx: Context, deps: AppDeps, interaction: Interaction): Promise<void> {
  signingIn(interaction);
  const step = await pendingSecondFactor(deps, interaction.uid);
  const again = (status: number) => (step ? showSecondFactor(ctx, deps, interaction, step.accountId, { passkey: PASSKEY_FAILED }, status) : showLogin(ctx, deps, interaction, { errors: { passkey: PASSKEY_FAILED }, status }));

  const form = parseForm(credentialForm, ctx);
  if (!form.ok) return again(400);
  // Answers are not guessable, but each costs a verification: the per-address budget of sign-ins.
  await consumeAddressThrottle(ctx, deps);

  const context = requestContext(ctx);
  const result = await verifyPasskeySignIn(deps.factors, { binding: bindingOf(interaction), response: form.data.credential, userId: step?.accountId ?? null });
  const accountId = result.ok ? result.userId : step?.accountId;
  // What cannot be a passkey response is unreadable input, like a malformed form: no attempt at the account.
  if (!result.ok && result.reason === 'malformed') return again(400);
  if (!result.ok) {
    if (accountId) await deps.audit.record('signin.failed', accountId, context, { reason: `passkey_${result.reason}`, during: step ? 'second_factor' : 'passkey' });
    return again(401);
  }
  const user = await deps.users.findById(result.userId).lean<User>();
  // A disabled (or not yet active) account signs in no way at all.
  if (!user || user.status !== 'active') {
    await deps.audit.record('signin.failed', result.userId, context, { reason: 'inactive', during: 'passkey' });
    return again(401);
  }
  if (step && !(await completeSecondStep(deps.db, interaction.uid))) {
    throw new HttpError(400, 'errors.step.signInAgain.title', 'errors.step.used');
  }
  await deps.audit.record('factor.verified', user._id, context, { method: 'passkey', factorId: result.passkeyId });
  await deps.audit.record('signin.succeeded', user._id, context, { method: step ? 'password+passkey' : 'passkey' });
  rememberBrowser(ctx, user._id, { days: deps.config.policy.device.cookieDays, secure: deps.config.secure });
  const login = passkeyLogin(user._id, result.amr, { afterPassword: Boolean(step) });
  // A temporary password was typed: it is changed before anything is issued, as after a code.
  if (step && user.mustChangePassword) return startForcedChange(ctx, deps, interaction, user, login);
  await finish(ctx, deps.provider, login);
}

async function consumeAddressThrottle(ctx: Context, deps: AppDeps): Promise<void> {
  const throttle = await deps.throttle.consumeAddress(ctx.ip);
  if (!throttle.allowed) {
    // Catalog keys (locales/<lang>/errors.json), said by the error page in the page's language.
    throw new HttpError(429, 'errors.interaction.throttled.title', 'errors.interaction.throttled.message', {
      'Retry-After': String(throttle.retryAfterSeconds),
    }, { minutes: Math.ceil(throttle.retryAfterSeconds / 60) });
  }
}
