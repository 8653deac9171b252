// The sign-in step of an account scheduled for deletion (accounts/deletion.ts, policy
// accountDeletion.graceDays). Only the right password gets here (login.ts: a wrong one
// reads as always, so nobody learns which accounts are scheduled):
//
// 1. The page says when the account goes, and offers "Restore it" or "Cancel" (which
//    ends the sign-in back at the app, as the sign-in page's own cancel does).
// 2. "Restore it" takes this sign-in's waiting restore (once), enables the account as it
//    was, and goes on with the sign-in where the password left it: the second step, the
//    setup of one, a forced password change, or back to the app.
import type { Context } from 'koa';
import type { AppDeps } from '../../deps.ts';
import type { User } from '../../db/models/user.ts';
import { awaitRestore, claimRestore, deletionScheduledFor, restoreAccount } from '../../accounts/deletion.ts';
import { accountSubject } from '../../accounts/lockout.ts';
import { translator } from '../../i18n/messages.ts';
import { rememberBrowser } from '../device-cookie.ts';
import { requestContext } from '../forms.ts';
import { HttpError } from '../http-error.ts';
import { localeOf } from '../locale.ts';
import { render } from '../render.ts';
import { formatDate } from '../account/page.ts';
import { afterPassword } from './after-password.ts';
import { appNameOf, appOf, type Interaction } from './interaction.ts';
import { showLogin } from './login-page.ts';

/**
 * After the right password of a disabled account: when it is disabled because it is
 * scheduled for deletion, this sign-in waits for "Restore it" and the page offers it (true).
 */
export async function offerRestore(ctx: Context, deps: AppDeps, interaction: Interaction, userId: string): Promise<boolean> {
  const on = await deletionScheduledFor(deps, userId);
  if (!on) return false;
  const user = await deps.users.findById(userId, { email: 1 }).lean<Pick<User, 'email'>>();
  if (!user) return false;
  await awaitRestore(deps.db, interaction.uid, userId, new Date(Date.now() + deps.config.policy.lifetimes.signInMinutes * 60_000));
  render(ctx, 'restore', {
    title: translator(localeOf(ctx))('restore.title'),
    uid: interaction.uid,
    appName: appNameOf(ctx),
    app: appOf(ctx),
    email: user.email,
    date: formatDate(on, localeOf(ctx)),
  });
  return true;
}

export async function submitRestore(ctx: Context, deps: AppDeps, interaction: Interaction): Promise<void> {
  if (interaction.prompt.name !== 'login') throw new HttpError(400, 'errors.step.done.title', 'errors.step.done');
  const accountId = await claimRestore(deps.db, interaction.uid);
  const context = requestContext(ctx);
  // Nothing waiting (a second click, an expired step), or erased meanwhile: the sign-in starts again.
  const restored = accountId ? await restoreAccount(deps, accountId, context) : false;
  const user = restored ? await deps.users.findById(accountId).lean<User>() : null;
  if (!user || user.status !== 'active') return showLogin(ctx, deps, interaction, { errors: { form: 'signin.error.failed' }, status: 401 });

  // The sign-in goes on as login.ts does after the right password. Scheduling the deletion
  // forgot every trusted browser, so the second step is never skipped here.
  await afterPassword(ctx, deps, interaction, user, {
    secondFactor: await deps.signInDeps.hasSecondFactor(user._id),
    succeeded: async () => {
      // The password step counted the disabled account's attempt as a failure: this sign-in succeeded.
      await deps.lockout.reset(accountSubject(user._id));
      await deps.audit.record('signin.succeeded', user._id, context, { restored: true });
      rememberBrowser(ctx, user._id, { days: deps.config.policy.device.cookieDays, secure: deps.config.secure });
    },
  });
}
