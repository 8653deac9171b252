// The password APIs, for apps that keep their own UI: changing one's password
// with a bearer token, asking for a reset link, and setting a password with one.
// Each is a thin layer over the same domain functions the hosted pages use.
import type { User } from '../../db/models/user.ts';
import type { LinkState } from '../../accounts/links.ts';
import type { ThrottleResult } from '../../accounts/throttle.ts';
import { changePassword } from '../../accounts/change-password.ts';
import { requestPasswordReset, setPasswordWithLink } from '../../accounts/password-links.ts';
import { responseSent } from '../../background.ts';
import { ApiProblem, type ProblemCode } from './problem.ts';
import { policyProblem } from './domain-problems.ts';
import { ACCOUNT_SCOPE, invalidToken } from './bearer.ts';
import { defineEndpoint, type Endpoint } from './endpoint.ts';
import { changePasswordRequest, passwordResetAccepted, passwordResetConfirmRequest, passwordResetRequest, PASSWORD_RESET_ACCEPTED } from './schemas.ts';


function throttled(result: ThrottleResult, detail: string): void {
  if (result.allowed) return;
  throw new ApiProblem('too-many-requests', detail, { headers: { 'Retry-After': String(result.retryAfterSeconds) } });
}

const changeOwnPassword = defineEndpoint({
  method: 'POST', path: '/api/account/password', access: 'account', body: changePasswordRequest,
  operationId: 'changePassword', summary: 'Change the password of the token\'s account',
  description: `Needs an access token from this provider with the \`${ACCOUNT_SCOPE}\` scope. A wrong current password counts towards the account's lockout like a failed sign-in.`,
  status: 204, success: { description: 'The password was changed.' },
  problems: ['password-policy', 'wrong-current-password', 'too-many-requests'],
  async handle({ ctx, deps, caller, body, context }) {
    const { issuer } = deps.config;
    const user = await deps.users.findById(caller.accountId).lean<User>();
    if (!user || user.status !== 'active') throw invalidToken(issuer, 'The account of this access token can no longer sign in.');
    // Checking the current password is a sign-in attempt: the sign-in throttle applies.
    throttled(await deps.throttle.consume(ctx.ip, user.email), 'Too many attempts. Wait before trying again.');

    const result = await changePassword(deps.passwords, caller.accountId, {
      currentPassword: body.current_password,
      newPassword: body.new_password,
      signOutOtherSessions: body.sign_out_other_sessions,
      // "Other" sessions: the calling app keeps its grant (this token, its refresh token), and the
      // browser session the token came from stays signed in at the provider.
      keepSessionUid: caller.sessionUid ?? null,
      keepGrantId: caller.grantId,
    }, context);

    if (result.ok) return;
    switch (result.reason) {
      case 'wrong_current_password':
      case 'locked': // the same answer: a lock is not revealed to whoever is guessing
        throw new ApiProblem('wrong-current-password', 'The current password is not right.');
      case 'policy':
        throw policyProblem('new_password', result.issues);
      case 'not_found':
        throw invalidToken(issuer, 'The account of this access token can no longer sign in.');
    }
  },
});

/** The same 202 for every address, the work done in the background. */
const requestReset = defineEndpoint({
  method: 'POST', path: '/api/password-resets', access: 'public', body: passwordResetRequest,
  operationId: 'requestPasswordReset', summary: 'Email a password reset link',
  description: 'Answers the same for every valid address, whether or not it has an account; the link is sent in the background. An account still waiting for its first password, or for its address to be confirmed, gets that link instead.',
  status: 202, success: { description: 'Accepted (the same for every address).', schema: passwordResetAccepted },
  problems: ['too-many-requests'],
  async handle({ ctx, deps, body, context }) {
    throttled(await deps.emailFormThrottle.consume(ctx.ip, body.email), 'Too many reset requests. Wait before trying again.');
    requestPasswordReset(deps.passwords, body.email, {}, context, { after: responseSent(ctx.res) });
    return PASSWORD_RESET_ACCEPTED;
  },
});

const LINK_PROBLEMS: Record<Exclude<LinkState, 'valid'>, [ProblemCode, string]> = {
  expired: ['link-expired', 'This reset link has expired. Ask for a fresh one.'],
  superseded: ['link-expired', 'A newer reset link was sent; only the most recent one works.'],
  used: ['link-used', 'This reset link was already used.'],
  unknown: ['link-unknown', 'This reset link is not valid.'],
};

const confirmReset = defineEndpoint({
  method: 'POST', path: '/api/password-resets/confirm', access: 'public', body: passwordResetConfirmRequest,
  operationId: 'confirmPasswordReset', summary: 'Set a new password with an emailed reset token',
  description: 'Uses the link once. A password the policy refuses leaves the link usable. Success signs the person out everywhere (unless configured otherwise) and clears any lockout.',
  status: 204, success: { description: 'The password was set.' },
  problems: ['password-policy', 'link-unknown', 'link-expired', 'link-used'],
  async handle({ deps, body, context }) {
    const result = await setPasswordWithLink(deps.passwords, 'reset', body.token, body.password, context);
    if (result.ok) return;
    if (result.issues) throw policyProblem('password', result.issues);
    const [code, detail] = LINK_PROBLEMS[result.state as Exclude<LinkState, 'valid'>] ?? LINK_PROBLEMS.unknown;
    throw new ApiProblem(code, detail);
  },
});

/** The password API, in the order the document lists it. */
export const PASSWORD_ENDPOINTS: Endpoint[] = [changeOwnPassword, requestReset, confirmReset] as Endpoint[];
