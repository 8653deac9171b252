// The domain's refusals, as a closed set of codes. Each surface (pages, admin
// API, console, CLI) answers them through a table over AccountErrorCode that the
// compiler checks for completeness, so a known refusal never becomes a 500 or a
// vague answer, and a code added here must be given an answer everywhere.
import type { PasswordIssue } from './password-policy.ts';

/** Every code, with what it means. */
export const ACCOUNT_ERRORS = {
  not_found: 'there is no such account',
  email_taken: 'an account with this email address already exists',
  disabled: 'the account is disabled',
  not_invited: 'the account is no longer waiting for its first password',
  invalid_email: 'the email address is not valid',
  invalid_name: 'the name is not valid',
  invalid_request: 'the request asks for two things that exclude each other, or for neither',
  password_policy: 'the password does not meet the password policy (issues says why)',
  bad_csv: 'the import file is not CSV this import can read',
  bad_header: 'the import file\'s header row is missing or names unknown columns',
  empty: 'the import file holds no rows',
  upload: 'the import file could not be received (too large, cut off, or not a file)',
  last_admin: 'the account is the last active administrator',
} as const;

export type AccountErrorCode = keyof typeof ACCOUNT_ERRORS;

export class AccountError extends Error {
  override name = 'AccountError';
  readonly code: AccountErrorCode;
  /** For password_policy: every issue, in the policy's words. */
  readonly issues: readonly PasswordIssue[];

  constructor(code: AccountErrorCode, message: string, issues: readonly PasswordIssue[] = []) {
    super(message);
    this.code = code;
    this.issues = issues;
  }
}
