// The second step of a sign-in, for an account with a second factor: after the
// right password, a code from the authenticator app or a recovery code. Until it
// succeeds there is no session, no device cookie and no code for the app, and the
// account's failure counter is not cleared: wrong codes count on the same lockout
// as wrong passwords (accounts/factors.ts verifySecondFactor). Which account passed
// the password is kept in MongoDB under the interaction's uid, which only the
// browser holding the interaction cookie can use.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import type { User } from '../../db/models/user.ts';
import { secondStepMethods, verifySecondFactor } from '../../accounts/factors.ts';
import { awaitSecondStep, completeSecondStep, pendingSecondStep, type PendingSecondStep, type SecondStepKind } from '../../accounts/second-step.ts';
import { mfaLogin } from '../../oidc/authentication.ts';
import { trustBrowser } from '../../accounts/trusted-browsers.ts';
import { readDevice, rememberBrowser } from '../device-cookie.ts';
import { HttpError } from '../http-error.ts';
import { render } from '../render.ts';
import { parseForm, requestContext, text } from '../forms.ts';
import { appNameOf, consumeSignInThrottle, finish, type Interaction } from './interaction.ts';
import { startForcedChange } from './change-password.ts';
import { translator } from '../../i18n/messages.ts';
import { localeOf } from '../locale.ts';

// Messages are catalog keys (locales/*/steps.json, errors.json); the pages translate them.
const CODE_FAILED = 'steps.secondFactor.error.failed';
const codeForm = z.object({
  code: text('steps.secondFactor.error.codeMissing').trim().min(1, 'steps.secondFactor.error.codeMissing').max(32, 'steps.error.codeTooLong'),
  // "Don't ask again on this browser": only where the policy offers it (mfa.trustBrowserDays).
  trust: z.literal('yes').optional().catch(undefined),
});

// Set, for this sign-in's pages only, once a second step is owed: the sign-in page's GET
// (every sign-in passes there) looks for a pending step only in a browser holding it. A hint,
// never the proof: the record in MongoDB decides, so a forged cookie costs its sender a read,
// and a browser without it sees the password page, whose right answer owes the step again.
const STEP_OWED_COOKIE = 'lk_step';
const stepCookiePath = (uid: string) => `/interaction/${uid}`;

/** The account that passed the password in this sign-in and now owes its second step, if any. */
export function pendingSecondFactor(deps: AppDeps, uid: string): Promise<PendingSecondStep | null> {
  return pendingSecondStep(deps.db, uid);
}

/** The same, read only where this browser was told a step is owed (the sign-in page: see STEP_OWED_COOKIE). */
export function pendingSecondFactorOf(ctx: Context, deps: AppDeps, uid: string): Promise<PendingSecondStep | null> {
  return ctx.cookies.get(STEP_OWED_COOKIE) === '1' ? pendingSecondStep(deps.db, uid) : Promise.resolve(null);
}

/** After the right password: this sign-in owes its second step (a factor the account has, or setting one up). */
export async function oweSecondStep(ctx: Context, deps: AppDeps, interaction: Interaction, accountId: string, kind: SecondStepKind): Promise<void> {
  const minutes = deps.config.policy.lifetimes.signInMinutes;
  await awaitSecondStep(deps.db, interaction.uid, accountId, new Date(Date.now() + minutes * 60_000), kind);
  ctx.cookies.set(STEP_OWED_COOKIE, '1', {
    path: stepCookiePath(interaction.uid), httpOnly: true, sameSite: 'lax', secure: deps.config.secure, maxAge: minutes * 60_000, overwrite: true,
  });
}

/** After the right password of an account with a second factor: remember it for this sign-in, and ask. */
export async function startSecondFactor(ctx: Context, deps: AppDeps, interaction: Interaction, user: Pick<User, '_id'>): Promise<void> {
  await oweSecondStep(ctx, deps, interaction, user._id, 'verify');
  await showSecondFactor(ctx, deps, interaction, user._id, {});
}

/** The second step's page, offering what the account has: a passkey, a code from its app, a recovery code. */
export async function showSecondFactor(ctx: Context, deps: AppDeps, interaction: Interaction, accountId: string, errors: Record<string, string>, status = 200): Promise<void> {
  const methods = await secondStepMethods(deps.factors, accountId);
  render(ctx, 'second-factor', {
    title: translator(localeOf(ctx))('steps.secondFactor.title'),
    uid: interaction.uid,
    appName: appNameOf(ctx),
    methods,
    trustDays: deps.config.policy.mfa.trustBrowserDays,
    errors,
  }, status);
}

export async function submitSecondFactor(ctx: Context, deps: AppDeps, interaction: Interaction): Promise<void> {
  const step = interaction.prompt.name === 'login' ? await pendingSecondFactor(deps, interaction.uid) : null;
  // An account setting up its first factor has none to verify (enrol.ts takes that step).
  if (!step || step.kind === 'enrol') throw new HttpError(400, 'errors.step.signInAgain.title', 'errors.step.expired');
  const form = parseForm(codeForm, ctx);
  if (!form.ok) return showSecondFactor(ctx, deps, interaction, step.accountId, form.errors, 400);

  const user = await deps.users.findById(step.accountId).lean<User>();
  if (!user || user.status !== 'active') throw new HttpError(400, 'errors.step.signInAgain.title', 'errors.step.signInAgain');
  // Guessing codes is guessing a sign-in: the same throttle.
  await consumeSignInThrottle(ctx, deps, user.email);

  const device = readDevice(ctx);
  const result = await verifySecondFactor(deps.factors, { userId: user._id, device, code: form.data.code, context: requestContext(ctx) });
  if (!result.ok) return showSecondFactor(ctx, deps, interaction, step.accountId, { form: CODE_FAILED }, 401);

  // Used once: the step cannot be replayed into another finish.
  if (!(await completeSecondStep(deps.db, interaction.uid))) {
    throw new HttpError(400, 'errors.step.signInAgain.title', 'errors.step.used');
  }
  await deps.audit.record('signin.succeeded', user._id, requestContext(ctx), { secondFactor: result.method, trustedDevice: device?.userId === user._id });
  const thisDevice = rememberBrowser(ctx, user._id, { days: deps.config.policy.device.cookieDays, secure: deps.config.secure });
  const trustDays = deps.config.policy.mfa.trustBrowserDays;
  if (trustDays > 0 && form.data.trust === 'yes') {
    await trustBrowser(deps.factors, thisDevice, trustDays);
    await deps.audit.record('browser.trusted', user._id, requestContext(ctx), { days: trustDays });
  }
  const login = mfaLogin(user._id, result.method);
  if (user.mustChangePassword) return startForcedChange(ctx, deps, interaction, user, login);
  await finish(ctx, deps.provider, login);
}
