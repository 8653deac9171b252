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
import { WEBHOOK_EVENT_TYPES } from '../../webhooks/events.ts';
import { DESCRIPTION_MAX, URL_MAX } from '../../webhooks/endpoints.ts';
import { SESSION_RESPONSE_SCHEMAS } from './session-schemas.ts';
import { EMAIL_REQUEST_SCHEMAS, EMAIL_RESPONSE_SCHEMAS } from './email-schemas.ts';

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
  termsAccepted: z.object({
    version: z.string(),
    at: timestamp,
    clientId: z.string().nullable().meta({ description: 'The app whose sign-in asked; null: accepted at sign-up.' }),
  }).nullable().meta({ description: 'The organisation\'s terms (policy terms) the person accepted last; null: none yet.' }),
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
  ...EMAIL_REQUEST_SCHEMAS,
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
  ...SESSION_RESPONSE_SCHEMAS,
  ...EMAIL_RESPONSE_SCHEMAS,
} as const;

// ---------------------------------------------------------------------------
// Webhooks (/api/admin/webhooks, web/api/webhooks.ts; the domain in src/webhooks).
// The URL and secret rules are the domain's (webhooks/endpoints.ts): these schemas
// check shapes and sizes, the domain the rest, and both answer invalid-request.

const webhookEventType = z.enum(WEBHOOK_EVENT_TYPES);
const webhookEventChoice = z.array(z.enum([...WEBHOOK_EVENT_TYPES, 'all'])).min(1).max(WEBHOOK_EVENT_TYPES.length)
  .meta({ description: `The events to send: any of ${WEBHOOK_EVENT_TYPES.join(', ')}; or ["all"] for every one of them.` });
const webhookUrl = z.string().min(1).max(URL_MAX)
  .meta({ description: 'Where events are POSTed: an https URL (plain http only to this machine — localhost, 127.0.0.1, [::1] — and only outside production). No user name or password in it, no #fragment. Redirects are not followed.' });
const webhookDescription = z.string().max(DESCRIPTION_MAX).meta({ description: 'What the endpoint is for, for people (at most 200 characters).' });

export const webhookCreateRequest = z.strictObject({
  url: webhookUrl,
  events: webhookEventChoice,
  description: webhookDescription.optional(),
  secret: z.string().max(200).optional()
    .meta({ description: 'A signing secret of your own: whsec_ followed by 24 to 64 random bytes in base64. Leave it out to have one made (recommended); either way it is shown in this answer only.' }),
}).meta({
  title: 'WebhookCreateRequest',
  examples: [{ url: 'https://crm.example.com/hooks/latchkey', events: ['account.created', 'account.disabled', 'account.deleted'], description: 'CRM sync' }],
});

export const webhookUpdateRequest = z.strictObject({
  url: webhookUrl.optional(),
  events: webhookEventChoice.optional(),
  description: webhookDescription.optional(),
}).meta({ title: 'WebhookUpdateRequest', description: 'At least one field; the fields given replace the current values.', minProperties: 1 });

export const webhookDeliveryQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'failed']).optional().meta({ description: 'Only deliveries in this state.' }),
  limit: z.coerce.number().int().min(1).max(500).default(50).meta({ description: 'At most this many (1–500), newest first.' }),
});

export const webhookEndpoint = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(webhookEventType),
  description: z.string(),
  createdAt: timestamp,
  updatedAt: timestamp,
  createdBy: z.string().meta({ description: 'Who registered it: admin:<account id>, client:<client id> or cli.' }),
}).meta({ title: 'WebhookEndpoint', description: 'A registered endpoint (never its secret).' });

export const webhookEndpointCreated = z.object({
  endpoint: webhookEndpoint,
  secret: z.string().meta({ description: 'The signing secret (whsec_...): shown this once. Keep it with the receiver; it verifies the webhook-signature header.' }),
}).meta({ title: 'WebhookEndpointCreated' });

export const webhookEndpointList = z.object({ items: z.array(webhookEndpoint) }).meta({ title: 'WebhookEndpointList' });

export const webhookSecret = z.object({
  secret: z.string().meta({ description: 'The new signing secret, shown this once; the old one no longer signs.' }),
}).meta({ title: 'WebhookSecret' });

export const webhookEvent = z.object({
  id: z.string().meta({ description: 'The event\'s id, also sent as the webhook-id header: the same on every retry and redelivery, so a receiver can tell an event it already handled.' }),
  type: webhookEventType,
  time: timestamp.meta({ description: 'When the change happened.' }),
  accountId: z.string().nullable().meta({ description: 'The account the event is about (its `sub`); null for import.finished.' }),
  actor: z.string().meta({ description: 'Who made the change: self, admin:<account id>, client:<client id>, cli, import, system (a lockout), or the SCIM client.' }),
  data: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
    .meta({ description: 'Small facts about the change as the audit trail has them (the fields changed, counts, a reason). Never a password, hash, token or secret.' }),
}).meta({
  title: 'WebhookEvent',
  description: 'The JSON body of every webhook request.',
  examples: [{ id: 'msg_4f0c1f7a9d2b4e6a8c3d5e7f9a1b3c5d', type: 'account.disabled', time: '2026-12-02T15:04:05.000Z', accountId: '6d1f0c5e-2b7a-4c3e-9f1a-8b2d4e6f0a1c', actor: 'admin:0b6c2a8e-1d4f-4a7b-9c3e-5f1a2b3c4d5e', data: {} }],
});

export const webhookDelivery = z.object({
  id: z.string(),
  eventId: z.string(),
  endpointId: z.string(),
  type: webhookEventType,
  accountId: z.string().nullable(),
  status: z.enum(['pending', 'delivered', 'failed']).meta({ description: 'pending: not delivered yet (retried with exponential backoff for a day); delivered: the endpoint answered 2xx; failed: given up on after a day.' }),
  attempts: z.int().min(0),
  createdAt: timestamp,
  nextAttemptAt: timestamp.nullable(),
  deliveredAt: timestamp.nullable(),
  redeliveries: z.int().min(0).meta({ description: 'Times it was sent again by hand.' }),
  lastResponse: z.object({
    at: timestamp,
    status: z.int().nullable().meta({ description: 'The HTTP status the endpoint answered; null when it did not answer.' }),
    body: z.string().meta({ description: 'The first 2 kB of its answer.' }),
    error: z.string().nullable().meta({ description: 'Why there was no usable answer (no connection, no answer in time, a redirect).' }),
    durationMs: z.int().min(0),
  }).nullable(),
  payload: webhookEvent,
}).meta({ title: 'WebhookDelivery' });

export const webhookDeliveryList = z.object({ items: z.array(webhookDelivery).meta({ description: 'Newest first.' }) }).meta({ title: 'WebhookDeliveryList' });

export const WEBHOOK_REQUEST_SCHEMAS = {
  WebhookCreateRequest: webhookCreateRequest,
  WebhookUpdateRequest: webhookUpdateRequest,
} as const;

export const WEBHOOK_RESPONSE_SCHEMAS = {
  WebhookEndpoint: webhookEndpoint,
  WebhookEndpointCreated: webhookEndpointCreated,
  WebhookEndpointList: webhookEndpointList,
  WebhookSecret: webhookSecret,
  WebhookEvent: webhookEvent,
  WebhookDelivery: webhookDelivery,
  WebhookDeliveryList: webhookDeliveryList,
} as const;
