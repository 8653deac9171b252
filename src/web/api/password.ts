// The password APIs, for apps that keep their own UI: changing one's password
// with a bearer token, asking for a reset link, and setting a password with one.
// Each is a thin layer over the same domain functions the hosted pages use.
import type { Context } from 'koa';
import type { AppDeps } from '../../deps.ts';
import type { User } from '../../db/models/user.ts';
import type { LinkState } from '../../accounts/links.ts';
import type { PasswordIssue } from '../../accounts/password-policy.ts';
import type { ThrottleResult } from '../../accounts/throttle.ts';
import { changePassword } from '../../accounts/change-password.ts';
import { requestPasswordReset, setPasswordWithLink } from '../../accounts/password-links.ts';
import { requestContext } from '../forms.ts';
import { ApiProblem, type FieldError, type ProblemCode } from './problem.ts';
import { jsonBody } from './json-body.ts';
import { invalidToken, requireAccountToken } from './bearer.ts';
import { changePasswordRequest, passwordResetConfirmRequest, passwordResetRequest, PASSWORD_RESET_ACCEPTED } from './schemas.ts';

function throttled(result: ThrottleResult, detail: string): void {
  if (result.allowed) return;
  throw new ApiProblem('too-many-requests', detail, { headers: { 'Retry-After': String(result.retryAfterSeconds) } });
}

const policyProblem = (field: string, issues: PasswordIssue[]) =>
  new ApiProblem('password-policy', 'The new password does not meet the password policy.', {
    errors: issues.map((issue): FieldError => ({ field, code: issue.code, message: issue.message })),
  });

/** POST /api/account/password */
export async function changeOwnPassword(ctx: Context, deps: AppDeps): Promise<void> {
  const { issuer } = deps.config;
  const auth = await requireAccountToken(ctx, deps.provider, issuer);
  const body = await jsonBody(ctx, changePasswordRequest);

  const user = await deps.users.findById(auth.accountId).lean<User>();
  if (!user || user.status !== 'active') throw invalidToken(issuer, 'The account of this access token can no longer sign in.');
  // Checking the current password is a sign-in attempt: the sign-in throttle applies.
  throttled(await deps.throttle.consume(ctx.ip, user.email), 'Too many attempts. Wait before trying again.');

  const result = await changePassword(deps.flows, auth.accountId, {
    currentPassword: body.current_password,
    newPassword: body.new_password,
    signOutOtherSessions: body.sign_out_other_sessions,
    // "Other" sessions: the calling app keeps its grant (this token, its refresh token), and the
    // browser session the token came from stays signed in at the provider.
    keepSessionUid: auth.sessionUid ?? null,
    keepGrantId: auth.grantId,
  }, requestContext(ctx));

  if (result.ok) {
    ctx.status = 204;
    return;
  }
  switch (result.reason) {
    case 'wrong_current_password':
    case 'locked': // the same answer: a lock is not revealed to whoever is guessing
      throw new ApiProblem('wrong-current-password', 'The current password is not right.');
    case 'policy':
      throw policyProblem('new_password', result.issues);
    case 'not_found':
      throw invalidToken(issuer, 'The account of this access token can no longer sign in.');
  }
}

/** POST /api/password-resets: the same 202 for every address, the work done in the background. */
export async function requestReset(ctx: Context, deps: AppDeps): Promise<void> {
  const { email } = await jsonBody(ctx, passwordResetRequest);
  throttled(await deps.forgotThrottle.consume(ctx.ip, email), 'Too many reset requests. Wait before trying again.');
  requestPasswordReset(deps.flows, email, {}, requestContext(ctx));
  ctx.status = 202;
  ctx.body = PASSWORD_RESET_ACCEPTED;
}

const LINK_PROBLEMS: Record<Exclude<LinkState, 'valid'>, [ProblemCode, string]> = {
  expired: ['link-expired', 'This reset link has expired. Ask for a fresh one.'],
  superseded: ['link-expired', 'A newer reset link was sent; only the most recent one works.'],
  used: ['link-used', 'This reset link was already used.'],
  unknown: ['link-unknown', 'This reset link is not valid.'],
};

/** POST /api/password-resets/confirm */
export async function confirmReset(ctx: Context, deps: AppDeps): Promise<void> {
  const { token, password } = await jsonBody(ctx, passwordResetConfirmRequest);
  const result = await setPasswordWithLink(deps.flows, 'reset', token, password, requestContext(ctx));
  if (result.ok) {
    ctx.status = 204;
    return;
  }
  if (result.issues) throw policyProblem('password', result.issues);
  const [code, detail] = LINK_PROBLEMS[result.state as Exclude<LinkState, 'valid'>] ?? LINK_PROBLEMS.unknown;
  throw new ApiProblem(code, detail);
}
