// What follows the right password, whichever step checked it (login.ts, or restore.ts for
// an account taken back from its scheduled deletion): the account's second step; else the
// setup of one where this sign-in must be two-step; else the sign-in counts (the caller
// records it and remembers the browser), then a forced password change or back to the app.
import type { Context } from 'koa';
import type { AppDeps } from '../../deps.ts';
import type { User } from '../../db/models/user.ts';
import { mustUseSecondFactor } from '../../accounts/mfa-policy.ts';
import { passwordLogin } from '../../oidc/authentication.ts';
import { requiresMfa } from '../../oidc/provider.ts';
import { startForcedChange } from './change-password.ts';
import { startEnrolment } from './enrol.ts';
import { finish, type Interaction } from './interaction.ts';
import { startSecondFactor } from './second-factor.ts';

export async function afterPassword(
  ctx: Context, deps: AppDeps, interaction: Interaction, user: User,
  options: { secondFactor: boolean; succeeded: () => Promise<void> | void },
): Promise<void> {
  // With a second factor, its step next (second-factor.ts), with no device cookie before it.
  if (options.secondFactor) return startSecondFactor(ctx, deps, interaction, user);
  // Must be two-step (the app, an operator or the policy says so) and has no factor yet: set one up now.
  if (mustUseSecondFactor(user, deps.config.policy.mfa, requiresMfa(ctx.state.client))) return startEnrolment(ctx, deps, interaction, user);
  await options.succeeded();
  // A temporary password proves who this is, but no token is issued until a new password is chosen.
  if (user.mustChangePassword) return startForcedChange(ctx, deps, interaction, user);
  await finish(ctx, deps.provider, passwordLogin(user._id));
}
