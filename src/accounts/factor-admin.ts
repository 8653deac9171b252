// Second factors as operators govern them: who must sign in with one (the policy's
// `mfa.require`), and "require enrolment at next sign-in" for one account. The
// console, the admin API and the CLI call these; the sign-in reads the flag and leads
// the person to set up a factor right after the password (clearing it on enrolment).
import type { Policy } from '../config.ts';
import type { User, UserModel } from '../db/models/user.ts';
import type { AuditTrail, RequestContext } from './audit.ts';
import { AccountError } from './errors.ts';
import { hasSecondFactor } from './factors.ts';

/**
 * Whether administrators must have signed in with a second factor to use the
 * console and the admin API: under 'admins' and under 'everyone' alike.
 */
export function adminsNeedTwoStep(policy: Pick<Policy['mfa'], 'require'>): boolean {
  return policy.require !== 'none';
}

export interface EnrolmentRequirementDeps {
  users: UserModel;
  audit: AuditTrail;
  /** What hasSecondFactor reads (factors.ts). */
  factors: Parameters<typeof hasSecondFactor>[0];
}

export interface EnrolmentRequirement {
  /** False when the account was already required to enrol (nothing stored, nothing audited). */
  changed: boolean;
  /** Whether the account already has an authenticator app (it then keeps using it). */
  hasSecondFactor: boolean;
}

/**
 * Requires the account to set up a second factor at its next sign-in
 * (`mustEnrolSecondFactor`). Idempotent: only a change is stored and audited
 * (`factor.enrolment_required`). An unknown id is a not_found AccountError; the id
 * is only ever compared as a string, so an operator object cannot reach the query.
 */
export async function requireFactorEnrolment(deps: EnrolmentRequirementDeps, userId: unknown, context: RequestContext): Promise<EnrolmentRequirement> {
  if (typeof userId !== 'string' || !userId || userId.length > 200) throw new AccountError('not_found', 'No such account.');
  const user = await deps.users.findById(userId, { _id: 1 }).lean<Pick<User, '_id'>>();
  if (!user) throw new AccountError('not_found', 'No such account.');
  // Conditional, so two operators at once record one change, not two.
  const { modifiedCount } = await deps.users.updateOne({ _id: user._id, mustEnrolSecondFactor: { $ne: true } }, { $set: { mustEnrolSecondFactor: true } });
  const changed = modifiedCount === 1;
  if (changed) await deps.audit.record('factor.enrolment_required', user._id, context);
  return { changed, hasSecondFactor: await hasSecondFactor(deps.factors, user._id) };
}
