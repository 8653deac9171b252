// Errors of the JSON APIs as RFC 9457 problem details (application/problem+json):
// { type, title, status, detail } with a stable type URI per kind of error,
// `${issuer}/api/problems/<code>`, each of which resolves to a short description
// (GET /api/problems/<code>). Errors that carry nothing beyond their HTTP status
// (an unknown /api path, a wrong method, a server error) use "about:blank".
// A problem never carries a stack trace, and never the password or token sent.
import type { Context, Middleware } from 'koa';
import type { Logger } from '../../log.ts';
import { isDatabaseUnavailable } from '../../db/connection.ts';
import { DATABASE_UNAVAILABLE } from '../middleware/database-gate.ts';
import { inEnglish } from '../http-error.ts';

/** The documented problem types: code → status, title and what it means. */
export const PROBLEM_TYPES = {
  'invalid-request': {
    status: 400,
    title: 'Invalid request',
    description: 'The body is not valid JSON, or it (or the query string) does not have the fields this endpoint takes: a required field is missing, a field is unknown or given twice, or a value has the wrong type or form. The `errors` member names each failing field.',
  },
  'unsupported-media-type': {
    status: 415,
    title: 'Unsupported media type',
    description: 'The body must be JSON sent as Content-Type: application/json.',
  },
  'payload-too-large': {
    status: 413,
    title: 'Payload too large',
    description: 'The body is larger than the 16 kB this API accepts.',
  },
  'invalid-token': {
    status: 401,
    title: 'Invalid access token',
    description: 'No access token was sent, or it is unknown, expired, revoked, sender-constrained, or its account can no longer sign in. Send `Authorization: Bearer <access token>` with a token this provider issued.',
  },
  'insufficient-scope': {
    status: 403,
    title: 'Insufficient scope',
    description: 'The access token was not granted the scope this endpoint needs: `account` for /api/account (ask for it in the authorization request, scope=openid account), `admin` for /api/admin. The WWW-Authenticate header names the scope.',
  },
  forbidden: {
    status: 403,
    title: 'Forbidden',
    description: 'The access token is valid and has the scope, but may not use this endpoint: for /api/admin, its account is not an active administrator, it was issued to a third-party app, or (for client credentials) the client is not registered with the `admin` scope.',
  },
  'two-step-sign-in-required': {
    status: 403,
    title: 'Two-step sign-in required',
    description: 'The policy (mfa.require: admins or everyone) lets administrators use /api/admin only with an access token from a sign-in with a second factor (acr urn:latchkey:acr:mfa), and this token came from a sign-in with a password alone. Sign in again asking for acr_values=urn:latchkey:acr:mfa (set up an authenticator app or a passkey in the account portal first if you have none) and use the new token. Client credentials tokens are not affected.',
  },
  'wrong-current-password': {
    status: 403,
    title: 'Wrong current password',
    description: 'The current password is not right. Failures count towards the account lockout like failed sign-ins; a locked account gets the same answer.',
  },
  'password-policy': {
    status: 400,
    title: 'Password not accepted',
    description: 'The new password does not meet the password policy. The `errors` member lists each issue with a stable code and a message to show.',
  },
  'link-expired': {
    status: 410,
    title: 'Link expired',
    description: 'The reset link is too old (or a newer one was sent). Ask for a fresh one.',
  },
  'link-used': {
    status: 410,
    title: 'Link already used',
    description: 'Each reset link works once. Ask for a fresh one if needed.',
  },
  'link-unknown': {
    status: 404,
    title: 'Link not valid',
    description: 'The reset token is not one of ours (it may have been copied incompletely). Ask for a fresh one.',
  },
  'not-found': {
    status: 404,
    title: 'Not found',
    description: 'There is no account with this id.',
  },
  'email-taken': {
    status: 409,
    title: 'Email already in use',
    description: 'An account with this email address already exists (addresses are compared without regard to case).',
  },
  'account-disabled': {
    status: 409,
    title: 'Account disabled',
    description: 'The account is disabled; enable it before sending it a reset link.',
  },
  'account-state': {
    status: 409,
    title: 'Not possible in the account\'s state',
    description: 'The account changed meanwhile so that this no longer applies (for example, it chose its first password while an invitation was being sent again). Read it again and decide.',
  },
  'own-admin-access': {
    status: 409,
    title: 'Would remove your own admin access',
    description: 'An administrator cannot remove their own admin role or disable their own account through the API; another administrator (or the CLI) can.',
  },
  'too-many-requests': {
    status: 429,
    title: 'Too many requests',
    description: 'Too many attempts in a short time. Wait the number of seconds in the Retry-After header, then try again.',
  },
} as const satisfies Record<string, { status: number; title: string; description: string }>;

export type ProblemCode = keyof typeof PROBLEM_TYPES;

export const PROBLEM_CODES = Object.keys(PROBLEM_TYPES) as ProblemCode[];

export const isProblemCode = (value: string): value is ProblemCode => Object.hasOwn(PROBLEM_TYPES, value);

export const problemTypeUri = (issuer: string, code: ProblemCode): string => `${issuer.replace(/\/$/, '')}/api/problems/${code}`;

/** One failing field or password-policy issue, in a problem's `errors` member. */
export interface FieldError {
  field: string;
  code: string;
  message: string;
}

/** A problem a route throws on purpose; the API's error middleware renders it. */
export class ApiProblem extends Error {
  override name = 'ApiProblem';
  readonly code: ProblemCode;
  readonly headers: Record<string, string>;
  readonly errors: FieldError[] | undefined;
  constructor(code: ProblemCode, detail: string, options: { headers?: Record<string, string>; errors?: FieldError[] } = {}) {
    super(detail);
    this.code = code;
    this.headers = options.headers ?? {};
    this.errors = options.errors;
  }
}

/** Generic HTTP errors with no semantics of their own ("about:blank", RFC 9457 §4.2.1). */
export class PlainProblem extends Error {
  override name = 'PlainProblem';
  readonly status: number;
  readonly title: string;
  readonly headers: Record<string, string>;
  constructor(status: number, title: string, detail: string, headers: Record<string, string> = {}) {
    super(detail);
    this.status = status;
    this.title = title;
    this.headers = headers;
  }
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
}

function send(ctx: Context, body: ProblemBody, headers: Record<string, string>): void {
  ctx.status = body.status;
  ctx.set(headers);
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'application/problem+json';
  ctx.body = body;
}

/**
 * Wraps every API route: answers are never cached, and every error becomes a
 * problem document, whatever the client's Accept header says.
 */
export function apiErrors(issuer: string, log: Logger): Middleware {
  return async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
    } catch (error) {
      if (error instanceof ApiProblem) {
        const { status, title } = PROBLEM_TYPES[error.code];
        send(ctx, { type: problemTypeUri(issuer, error.code), title, status, detail: error.message, ...(error.errors ? { errors: error.errors } : {}) }, error.headers);
        return;
      }
      if (error instanceof PlainProblem) {
        send(ctx, { type: 'about:blank', title: error.title, status: error.status, detail: error.message }, error.headers);
        return;
      }
      // The database went away mid-request: the same 503 (with Retry-After) the gate answers, as a problem.
      if (isDatabaseUnavailable(error)) {
        log.warn({ reqId: ctx.state.requestId, path: ctx.path, err: (error as Error).message }, 'database unavailable');
        const { status, title, message, headers } = DATABASE_UNAVAILABLE;
        send(ctx, { type: 'about:blank', title: inEnglish(title), status, detail: inEnglish(message) }, headers);
        return;
      }
      // A client error raised by a library (http-errors with expose): its status, none of its text.
      const { status, expose } = error as { status?: unknown; expose?: unknown };
      if (expose === true && typeof status === 'number' && status >= 400 && status < 500) {
        send(ctx, { type: 'about:blank', title: 'Request not understood', status, detail: 'The request could not be processed.' }, {});
        return;
      }
      // Anything else is a bug or an outage: logged once here, answered without detail.
      log.error({ err: error, reqId: ctx.state.requestId, path: ctx.path }, 'request failed');
      send(ctx, { type: 'about:blank', title: 'Internal Server Error', status: 500, detail: 'We could not complete this request. Please try again in a moment.' }, {});
    }
  };
}
