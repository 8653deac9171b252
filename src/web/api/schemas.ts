// One zod schema per request body (and per response body): the routes validate
// with these and the OpenAPI document is generated from them, so the two cannot
// drift apart. Request bodies are strict objects: an unknown field, an operator
// object such as {"$ne": null}, an array or a number where a string belongs is
// refused before any of it reaches the domain.
import { z } from 'zod';
import { EMAIL_MAX } from '../../accounts/email.ts';
import { PASSWORD_MAX_BYTES } from '../../accounts/passwords.ts';

export const changePasswordRequest = z.strictObject({
  current_password: z.string().min(1).max(PASSWORD_MAX_BYTES)
    .meta({ description: 'The password the account has now.' }),
  new_password: z.string()
    .meta({ description: 'The password to set; checked against the password policy (length, common passwords, personal information, strength, reuse).' }),
  sign_out_other_sessions: z.boolean().default(true)
    .meta({ description: 'Revoke every grant and token of the account (the one calling included) and end its other sessions; the browser session the access token came from stays signed in at the provider. Defaults to true.' }),
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
  code: z.string().meta({ description: 'A stable code: for invalid requests required, unknown_field, invalid_type, too_short, too_long, invalid_format, invalid_value; for the password policy the policy\'s issue code (too_short, too_long, common, too_weak, contains_personal_info, reused, ...).' }),
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
