// The domain's refusals (AccountError) as problems, for every endpoint: the
// endpoint runner answers any AccountError a handler lets through with this
// table, so a handler need not catch them and a known refusal never becomes a
// 500. A Record: a code added to the domain must be given an answer here.
import { AccountError, type AccountErrorCode } from '../../accounts/errors.ts';
import type { PasswordIssue } from '../../accounts/password-policy.ts';
import { ApiProblem, type FieldError } from './problem.ts';
import { BODY } from './json-body.ts';

export const invalidRequest = (detail: string, errors: FieldError[]) => new ApiProblem('invalid-request', detail, { errors });

/** The password policy's issues with `field`, each as an error of the problem. */
export const policyProblem = (field: string, issues: readonly PasswordIssue[]) =>
  new ApiProblem('password-policy', 'The password does not meet the password policy.', {
    errors: issues.map((issue): FieldError => ({ field, code: issue.code, message: issue.message })),
  });

export const accountNotFound = () => new ApiProblem('not-found', 'There is no account with this id.');

const aboutTheBody = (error: AccountError) => invalidRequest(error.message, [{ field: BODY, code: 'invalid_value', message: error.message }]);

const DOMAIN_PROBLEMS: Record<AccountErrorCode, (error: AccountError) => ApiProblem> = {
  not_found: accountNotFound,
  email_taken: () => new ApiProblem('email-taken', 'An account with this email address already exists.'),
  disabled: () => new ApiProblem('account-disabled', 'The account is disabled. Enable it first.'),
  not_invited: (error) => new ApiProblem('account-state', error.message),
  invalid_email: (error) => invalidRequest(error.message, [{ field: 'email', code: 'invalid_format', message: error.message }]),
  invalid_name: (error) => invalidRequest(error.message, [{ field: 'name', code: 'invalid_value', message: error.message }]),
  invalid_request: aboutTheBody,
  password_policy: (error) => policyProblem('password', error.issues),
  // An import's file problems: not reachable through the API today, answered as what they are.
  bad_csv: aboutTheBody,
  bad_header: aboutTheBody,
  empty: aboutTheBody,
  upload: aboutTheBody,
  last_admin: (error) => new ApiProblem('account-state', error.message),
};

/** An AccountError as its problem; anything else unchanged (a bug stays a 500). */
export function asProblem(error: unknown): unknown {
  return error instanceof AccountError ? DOMAIN_PROBLEMS[error.code](error) : error;
}
