// One zod schema per request body (and per response body): the routes validate
// with these and the OpenAPI document is generated from them, so the two cannot
// drift apart. Request bodies are strict objects: an unknown field, an operator
// object such as {"$ne": null}, an array or a number where a string belongs is
// refused before any of it reaches the domain.
import { z } from 'zod';
import { EMAIL_MAX } from '../../accounts/email.ts';
import { PASSWORD_MAX_BYTES } from '../../accounts/passwords.ts';
import { ACCOUNT_STATUSES, accountEditSchema } from '../../accounts/admin.ts';
import { AUDIT_EVENTS } from '../../accounts/audit.ts';

export const changePasswordRequest = z.strictObject({
  current_password: z.string().min(1).max(PASSWORD_MAX_BYTES)
    .meta({ description: 'The password the account has now.' }),
  new_password: z.string()
    .meta({ description: 'The password to set; checked against the password policy (length, common passwords, personal information, strength, reuse).' }),
  sign_out_other_sessions: z.boolean().default(true)
    .meta({ description: 'Revoke every other grant and token of the account and end its other sessions. The calling app keeps its grant (this access token and its refresh token stay valid) and the browser session the token came from stays signed in at the provider. Defaults to true.' }),
}).meta({
  title: 'ChangePasswordRequest',
  examples: [{ current_password: 'the old passphrase', new_password: 'a new and long passphrase', sign_out_other_sessions: true }],
});

export const passwordResetRequest = z.strictObject({
  email: z.email().max(EMAIL_MAX).meta({ description: 'The address to send a reset link to, if it belongs to an account.' }),
}).meta({
  title: 'PasswordResetRequest',
  examples: [{ email: 'person@example.com' }],
});

export const passwordResetConfirmRequest = z.strictObject({
  token: z.string().min(1).max(256).meta({ description: 'The `token` query parameter of the emailed reset link.' }),
  password: z.string().meta({ description: 'The new password; checked against the password policy.' }),
}).meta({
  title: 'PasswordResetConfirmRequest',
  examples: [{ token: 'kq3_Vx0b8oWm1YtN2fLc9ZpRj4HsE6uAiD7gQeT5wXy', password: 'a new and long passphrase' }],
});

/** The one answer to every reset request, whether or not the address has an account. */
export const passwordResetAccepted = z.strictObject({
  status: z.literal('accepted'),
  detail: z.string(),
}).meta({ title: 'PasswordResetAccepted' });

export const PASSWORD_RESET_ACCEPTED: z.infer<typeof passwordResetAccepted> = {
  status: 'accepted',
  detail: 'If this address belongs to an account, a link to reset its password is on its way.',
};

export const fieldError = z.object({
  field: z.string().meta({ description: 'The request field at fault ("(body)" for the body as a whole).' }),
  code: z.string().meta({ description: 'A stable code: for invalid requests required, unknown_field, invalid_type, too_short, too_long (strings and lists), too_small, too_big (numbers), invalid_format, invalid_value; for the password policy the policy\'s issue code (too_short, too_long, common, too_weak, contains_personal_info, reused, ...).' }),
  message: z.string().meta({ description: 'A sentence that can be shown to the person.' }),
}).meta({ title: 'FieldError' });

export const problem = z.object({
  type: z.string().meta({ description: 'A URI naming the kind of problem: `<issuer>/api/problems/<code>`, or "about:blank" for plain HTTP errors.' }),
  title: z.string(),
  status: z.int().min(100).max(599),
  detail: z.string(),
  errors: z.array(fieldError).optional().meta({ description: 'For invalid-request and password-policy problems: each failing field or policy issue.' }),
}).meta({ title: 'Problem', description: 'RFC 9457 problem details.' });

export const problemTypeDescription = z.object({
  type: z.string(),
  code: z.string(),
  status: z.int().min(100).max(599),
  title: z.string(),
  description: z.string(),
}).meta({ title: 'ProblemType' });

/** Every schema the OpenAPI document lists under components.schemas, by name. */
export const REQUEST_SCHEMAS = {
  ChangePasswordRequest: changePasswordRequest,
  PasswordResetRequest: passwordResetRequest,
  PasswordResetConfirmRequest: passwordResetConfirmRequest,
} as const;

export const RESPONSE_SCHEMAS = {
  PasswordResetAccepted: passwordResetAccepted,
  FieldError: fieldError,
  Problem: problem,
  ProblemType: problemTypeDescription,
} as const;

// ---------------------------------------------------------------------------
// The admin API (/api/admin). Request bodies reuse the domain's own rules
// (accountEditSchema in accounts/admin.ts) so the API cannot accept what the
// console would refuse; responses are parsed with the response schemas before
// they are sent, so an answer carries exactly the documented fields (never a
// password hash or anything else that might be on a stored document).

const accountName = accountEditSchema.shape.name.meta({ description: 'The person\'s name (at most 200 characters, trimmed).' });
const accountGroups = accountEditSchema.shape.groups.meta({ description: 'Group names (released as the `groups` claim): letters, digits, spaces and . _ : @ / -, at most 64 characters each, at most 50 groups. Replaces the current list.' });

export const adminCreateAccountRequest = z.strictObject({
  email: z.email().max(EMAIL_MAX).meta({ description: 'The new account\'s email address; it must not belong to another account.' }),
  name: accountName,
  groups: accountGroups,
  temporary_password: z.string().optional().meta({ description: 'A temporary password (checked against the password policy) that the person must change at their first sign-in; it expires after links.temporaryPasswordDays. Give this or `invite: true`.' }),
  invite: z.boolean().optional().meta({ description: 'true: create the account without a password and email an invitation to choose one. Give this or `temporary_password`.' }),
  client_id: z.string().min(1).max(200).optional().meta({ description: 'With `invite`: the registered client the invitation continues to once the password is chosen.' }),
}).meta({
  title: 'AdminCreateAccountRequest',
  description: 'Exactly one of `temporary_password` and `invite: true`; `client_id` only with `invite`.',
  oneOf: [
    { required: ['temporary_password'], not: { required: ['invite'], properties: { invite: { const: true } } } },
    { required: ['invite'], properties: { invite: { const: true } }, not: { required: ['temporary_password'] } },
  ],
  dependentSchemas: { client_id: { required: ['invite'], properties: { invite: { const: true } } } },
  examples: [
    { email: 'new.person@example.com', name: 'New Person', groups: ['staff'], invite: true },
    { email: 'temp.person@example.com', temporary_password: 'a temporary passphrase 42' },
  ],
});

export const adminEditAccountRequest = z.strictObject({
  name: accountName,
  groups: accountGroups,
  notes: accountEditSchema.shape.notes.meta({ description: 'Private notes for administrators (at most 2000 characters); never released to apps.' }),
}).meta({
  title: 'AdminEditAccountRequest',
  description: 'At least one field; the fields given replace the current values.',
  minProperties: 1,
  examples: [{ name: 'Renamed Person', groups: ['staff', 'finance'] }],
});

export const adminTemporaryPasswordRequest = z.strictObject({
  password: z.string().meta({ description: 'The temporary password; checked against the password policy. The person must change it at their next sign-in; every session and token of the account ends now.' }),
}).meta({
  title: 'AdminTemporaryPasswordRequest',
  examples: [{ password: 'a temporary passphrase 42' }],
});

/** The body of the admin actions that take none: nothing, or `{}`. */
export const emptyRequest = z.strictObject({}).meta({
  title: 'EmptyRequest',
  description: 'These actions take no parameters: send no body, or an empty JSON object.',
});

/** Query strings: every value arrives as a string (numbers are converted); an unknown parameter is refused. */
export const accountSearchQuery = z.strictObject({
  q: z.string().trim().max(100).optional().meta({ description: 'Words that start words of the email or the name (all must match; case does not matter).' }),
  status: z.enum(ACCOUNT_STATUSES).optional().meta({ description: 'Only accounts in this state (`locked`: locked out now; `must_change`: holding a temporary password).' }),
  page: z.coerce.number().int().min(1).max(10_000).default(1).meta({ description: 'Page number, from 1.' }),
  pageSize: z.coerce.number().int().min(1).max(200).default(25).meta({ description: 'Accounts per page (1–200).' }),
});

export const auditQuery = z.strictObject({
  user_id: z.string().min(1).max(200).optional().meta({ description: 'Only events about this account.' }),
  event: z.array(z.enum(AUDIT_EVENTS)).min(1).max(AUDIT_EVENTS.length).optional()
    .meta({ description: 'Only these events: repeat the parameter or separate names with commas.' }),
  since: z.iso.datetime({ offset: true }).optional().meta({ description: 'Events at or after this time (RFC 3339).' }),
  until: z.iso.datetime({ offset: true }).optional().meta({ description: 'Events before this time (RFC 3339); pass the oldest `at` of a page to get the next one.' }),
  limit: z.coerce.number().int().min(1).max(500).default(50).meta({ description: 'At most this many events (1–500), newest first.' }),
});

const timestamp = z.iso.datetime({ offset: true });

export const accountSummary = z.object({
  id: z.string().meta({ description: 'The account id: the `sub` of its ID tokens.' }),
  email: z.string(),
  name: z.string(),
  status: z.enum(['active', 'invited', 'unverified', 'disabled']).meta({ description: 'invited: no password chosen yet; unverified: signed up, address not confirmed.' }),
  mustChangePassword: z.boolean().meta({ description: 'Holds a temporary password to change at the next sign-in.' }),
  locked: z.boolean().meta({ description: 'Locked out now after failed sign-ins.' }),
  roles: z.array(z.string()),
  groups: z.array(z.string()),
  createdAt: timestamp.nullable(),
}).meta({ title: 'AccountSummary' });

export const connectedApp = z.object({
  grantId: z.string(),
  clientId: z.string(),
  scopes: z.array(z.string()),
  grantedAt: timestamp.nullable(),
}).meta({ title: 'ConnectedApp' });

export const secondFactor = z.object({
  id: z.string(),
  kind: z.enum(['totp', 'recovery_codes', 'passkey']).meta({ description: 'totp: an authenticator app; recovery_codes: single-use recovery codes; passkey: a WebAuthn passkey (any number).' }),
  name: z.string().nullable().meta({ description: 'passkey: the name its owner gave it.' }),
  createdAt: timestamp,
  lastUsedAt: timestamp.nullable(),
  remainingCodes: z.int().min(0).nullable().meta({ description: 'recovery_codes: how many are left.' }),
  codeCount: z.int().min(0).nullable(),
}).meta({ title: 'SecondFactor' });

export const factorsReset = z.object({
  removed: z.int().min(0).meta({ description: 'Second factors removed (an authenticator app, recovery codes, each passkey).' }),
}).meta({ title: 'FactorsReset' });

export const accountDetail = accountSummary.extend({
  locale: z.string().nullable(),
  phoneNumber: z.string().nullable(),
  notes: z.string(),
  emailVerified: z.boolean(),
  hasPassword: z.boolean().meta({ description: 'Whether a password is set (never the password or its hash).' }),
  passwordChangedAt: timestamp.nullable(),
  lockout: z.object({
    failures: z.int(),
    totalFailures: z.int(),
    lockedUntil: timestamp.nullable(),
    lockCount: z.int(),
  }).nullable().meta({ description: 'The account\'s failure counter, when it has one.' }),
  apps: z.array(connectedApp).meta({ description: 'The apps the person let in (their grants).' }),
  factors: z.array(secondFactor).meta({ description: 'The second factors the account has (never a secret).' }),
  mustEnrolSecondFactor: z.boolean().meta({ description: 'An operator required a second factor to be set up at the next sign-in (cleared when one is set up).' }),
}).meta({ title: 'AccountDetail' });

export const enrolmentRequired = z.object({
  changed: z.boolean().meta({ description: 'False when the account was already required to set up a second factor (nothing changed, nothing audited).' }),
  hasSecondFactor: z.boolean().meta({ description: 'Whether the account already has an authenticator app.' }),
}).meta({ title: 'EnrolmentRequired' });

export const accountList = z.object({
  items: z.array(accountSummary),
  total: z.int().min(0),
  page: z.int().min(1),
  pageSize: z.int().min(1),
}).meta({ title: 'AccountList' });

export const resetSent = z.object({
  sent: z.enum(['reset', 'invite']).meta({ description: 'reset: a password reset link; invite: the invitation again (the account has not chosen a password yet).' }),
}).meta({ title: 'ResetSent' });

export const revokeResult = z.object({
  sessions: z.int().min(0).meta({ description: 'Browser sessions ended at the provider.' }),
  grants: z.int().min(0).meta({ description: 'Grants revoked, each with its refresh and access tokens.' }),
}).meta({ title: 'RevokeResult' });

export const auditRecord = z.object({
  id: z.string(),
  at: timestamp,
  event: z.string().meta({ description: `One of ${AUDIT_EVENTS.join(', ')}.` }),
  userId: z.string().nullable(),
  actor: z.string().meta({ description: 'self, admin:<account id>, client:<client id>, cli, import or system.' }),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
}).meta({ title: 'AuditRecord' });

export const auditList = z.object({
  items: z.array(auditRecord).meta({ description: 'Newest first.' }),
}).meta({ title: 'AuditList' });

export const ADMIN_REQUEST_SCHEMAS = {
  AdminCreateAccountRequest: adminCreateAccountRequest,
  AdminEditAccountRequest: adminEditAccountRequest,
  AdminTemporaryPasswordRequest: adminTemporaryPasswordRequest,
  EmptyRequest: emptyRequest,
} as const;

export const ADMIN_RESPONSE_SCHEMAS = {
  AccountSummary: accountSummary,
  AccountDetail: accountDetail,
  AccountList: accountList,
  ConnectedApp: connectedApp,
  ResetSent: resetSent,
  RevokeResult: revokeResult,
  SecondFactor: secondFactor,
  FactorsReset: factorsReset,
  EnrolmentRequired: enrolmentRequired,
  AuditRecord: auditRecord,
  AuditList: auditList,
} as const;
