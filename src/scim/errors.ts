// SCIM's refusals (RFC 7644 §3.12): an HTTP status, and for 400s (and 409s) the
// scimType that tells a directory service what to fix. The domain throws these;
// the web layer writes them as SCIM error responses.
import { AccountError, type AccountErrorCode } from '../accounts/errors.ts';

export type ScimType =
  | 'invalidFilter' | 'tooMany' | 'uniqueness' | 'mutability' | 'invalidSyntax'
  | 'invalidPath' | 'noTarget' | 'invalidValue' | 'invalidVers' | 'sensitive';

export class ScimError extends Error {
  override name = 'ScimError';
  readonly status: number;
  readonly scimType: ScimType | null;
  /** Response headers that belong to the answer (WWW-Authenticate, Allow, Retry-After). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, scimType: ScimType | null, detail: string, headers: Record<string, string> = {}) {
    super(detail);
    this.status = status;
    this.scimType = scimType;
    this.headers = headers;
  }
}

export const badRequest = (scimType: ScimType, detail: string) => new ScimError(400, scimType, detail);
export const notFound = (detail = 'No such resource.') => new ScimError(404, null, detail);
export const uniqueness = (detail: string) => new ScimError(409, 'uniqueness', detail);
export const preconditionFailed = () => new ScimError(412, null, 'The resource has changed since the version given in If-Match.');

/** The domain's refusals as SCIM errors: a Record, so a code added to the domain must be given an answer here. */
const ACCOUNT_REFUSALS: Record<AccountErrorCode, (error: AccountError) => ScimError> = {
  not_found: () => notFound('No such user.'),
  email_taken: () => uniqueness('A user with this userName already exists.'),
  disabled: (error) => new ScimError(409, null, error.message),
  not_invited: (error) => new ScimError(409, null, error.message),
  invalid_email: () => badRequest('invalidValue', 'userName must be an email address.'),
  invalid_name: (error) => badRequest('invalidValue', error.message),
  invalid_request: (error) => badRequest('invalidValue', error.message),
  password_policy: (error) => badRequest('invalidValue', `password: ${error.issues.map((issue) => issue.message).join(' ')}`),
  bad_csv: (error) => badRequest('invalidValue', error.message),
  bad_header: (error) => badRequest('invalidValue', error.message),
  empty: (error) => badRequest('invalidValue', error.message),
  upload: (error) => badRequest('invalidValue', error.message),
  last_admin: (error) => new ScimError(409, null, error.message),
};

/** An AccountError as its SCIM error; anything else unchanged. */
export function asScimError(error: unknown): unknown {
  return error instanceof AccountError ? ACCOUNT_REFUSALS[error.code](error) : error;
}
