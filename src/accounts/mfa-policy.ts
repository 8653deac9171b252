// Who must sign in with a second factor: one rule for the sign-in page (which leads a
// person without one to set one up right after the password) and the provider's
// prompt check (which asks a password-only session again).
import type { Policy } from '../config.ts';
import type { User } from '../db/models/user.ts';
import { isAdmin } from './admin.ts';
import { hasSecondFactor, type FactorDeps } from './factors.ts';

/**
 * True when this sign-in must be two-step: the app's registration requires it
 * (require_mfa), an operator asked the person to enrol (mustEnrolSecondFactor), or the
 * policy requires it of everyone, or of administrators and this is one.
 */
export function mustUseSecondFactor(
  user: Pick<User, 'roles' | 'status' | 'mustEnrolSecondFactor'>,
  policy: Pick<Policy['mfa'], 'require'>,
  appRequiresIt: boolean,
): boolean {
  return appRequiresIt
    || user.mustEnrolSecondFactor === true
    || policy.require === 'everyone'
    || (policy.require === 'admins' && isAdmin(user));
}

/**
 * For the provider's prompt check on a session that was not two-step: whether the
 * account has a second factor (a step-up can ask for it) and whether it must use one
 * whatever the app asks (an unknown or inactive account: neither).
 */
export async function secondFactorStatus(
  deps: Pick<FactorDeps, 'users' | 'factors' | 'passkeys'>, accountId: string, policy: Pick<Policy['mfa'], 'require'>,
): Promise<{ has: boolean; required: boolean }> {
  const user = await deps.users.findById(accountId, { roles: 1, status: 1, mustEnrolSecondFactor: 1 }).lean<Pick<User, 'roles' | 'status' | 'mustEnrolSecondFactor'>>();
  if (!user || user.status !== 'active') return { has: false, required: false };
  return { has: await hasSecondFactor(deps, accountId), required: mustUseSecondFactor(user, policy, false) };
}
