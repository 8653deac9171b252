// The forced change on first sign-in: after the right temporary password the
// interaction shows this page, and only a new password that passes the policy
// lets the flow continue to the app. The proof that the temporary password was
// given is a first-login link token held in a cookie scoped to this interaction.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import type { User } from '../../db/models/user.ts';
import { passwordIssues, storePassword } from '../../accounts/set-password.ts';
import { describeIssues } from '../../accounts/password-policy.ts';
import { strengthWords } from '../password/strength-words.ts';
import { HttpError } from '../http-error.ts';
import { render } from '../render.ts';
import { parseForm, requestContext, text } from '../forms.ts';
import { finish, type Interaction } from './interaction.ts';
import { loginResult, passwordLogin, type LoginResult } from '../../oidc/authentication.ts';
import { translator } from '../../i18n/messages.ts';
import { localeOf } from '../locale.ts';

const COOKIE = 'lk_first_login';
// Messages are catalog keys (locales/*/steps.json, errors.json); the page translates them.
const changeForm = z.object({ password: text('steps.changePassword.error.missing').min(1, 'steps.changePassword.error.missing') });

const cookiePath = (uid: string) => `/interaction/${uid}`;

/**
 * After the right temporary password (and the second step, for an account with one):
 * the page for a new password. `login` is how the person signed in, which the sign-in
 * reports once the new password is set.
 */
export async function startForcedChange(ctx: Context, deps: AppDeps, interaction: Interaction, user: User, login: LoginResult = passwordLogin(user._id)): Promise<void> {
  const { token, expiresAt } = await deps.links.issue(user._id, 'first_login', { interactionUid: interaction.uid, amr: login.login.amr });
  ctx.cookies.set(COOKIE, token, {
    signed: true, httpOnly: true, sameSite: 'lax', secure: deps.config.secure, path: cookiePath(interaction.uid), expires: expiresAt, overwrite: true,
  });
  showChange(ctx, deps, interaction, user, {});
}

function showChange(ctx: Context, deps: AppDeps, interaction: Interaction, user: Pick<User, 'email'>, errors: Record<string, string>, status = 200): void {
  const t = translator(localeOf(ctx));
  render(ctx, 'change-password', {
    title: t('steps.changePassword.title'),
    uid: interaction.uid,
    email: user.email,
    // The policy's rules and the strength hint in the page's language (locales/<lang>/password.json).
    rules: deps.policy.describeFor(t),
    strength: strengthWords(t),
    errors,
  }, status);
}

export async function submitForcedChange(ctx: Context, deps: AppDeps, interaction: Interaction): Promise<void> {
  const token = ctx.cookies.get(COOKIE, { signed: true });
  const { state, link } = await deps.links.inspect(token, 'first_login');
  if (state !== 'valid' || link!.interactionUid !== interaction.uid) {
    throw new HttpError(400, 'errors.step.signInAgain.title', 'errors.changePassword.expired');
  }
  const user = await deps.users.findById(link!.userId).lean<User>();
  if (!user || user.status === 'disabled' || !user.mustChangePassword) throw new HttpError(400, 'errors.step.signInAgain.title', 'errors.step.signInAgain');

  const form = parseForm(changeForm, ctx);
  if (!form.ok) return showChange(ctx, deps, interaction, user, form.errors, 400);
  // The current (temporary) password always counts as used, whatever the history setting.
  const issues = await passwordIssues(deps.passwords, user, form.data.password);
  if (issues.length) return showChange(ctx, deps, interaction, user, { password: describeIssues(translator(localeOf(ctx)), issues) }, 400);

  if (!(await deps.links.consume(token, 'first_login'))) {
    throw new HttpError(400, 'errors.step.signInAgain.title', 'errors.changePassword.used');
  }
  await storePassword(deps.passwords, user, form.data.password);
  ctx.cookies.set(COOKIE, null, { signed: true, path: cookiePath(interaction.uid) });
  await deps.audit.record('password.changed', user._id, requestContext(ctx), { reason: 'first_login' });
  await finish(ctx, deps.provider, link!.amr?.length ? loginResult(user._id, link!.amr) : passwordLogin(user._id));
}
