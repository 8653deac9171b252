// The OpenAPI 3.1 document of the JSON APIs (password and admin), generated from the zod schemas
// the routes validate with (schemas.ts) and the problem types they answer with
// (problem.ts): what it says is what the code does.
import { z } from 'zod';
import { PROBLEM_CODES, PROBLEM_TYPES, problemTypeUri, type ProblemCode } from './problem.ts';
import { ADMIN_REQUEST_SCHEMAS, ADMIN_RESPONSE_SCHEMAS, REQUEST_SCHEMAS, RESPONSE_SCHEMAS, accountSearchQuery, auditQuery } from './schemas.ts';
import { JSON_LIMIT_BYTES } from './json-body.ts';
import { ACCOUNT_SCOPE } from './bearer.ts';
import { ADMIN_SCOPE } from './admin-auth.ts';

type Json = Record<string, unknown>;

/** Every request and response schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), referring to each other by component. */
function componentSchemas(): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  const all = { ...REQUEST_SCHEMAS, ...RESPONSE_SCHEMAS, ...ADMIN_REQUEST_SCHEMAS, ...ADMIN_RESPONSE_SCHEMAS };
  for (const [id, schema] of Object.entries(all)) registry.add(schema as z.ZodType, { id });
  // io "input": what a client sends (a field with a default is optional).
  const { schemas } = z.toJSONSchema(registry, { io: 'input', target: 'draft-2020-12', uri: (id) => `#/components/schemas/${id}` });
  const out: Record<string, Json> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _dialect, $id: _id, ...rest } = schema as Json;
    out[id] = rest;
  }
  return out;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** A query schema's fields as OpenAPI query parameters (lists repeat the parameter, or separate values with commas). */
function queryParameters(schema: z.ZodType): Json[] {
  const { properties = {}, required = [] } = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' }) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(properties).map(([name, { description, ...property }]) => ({
    name,
    in: 'query',
    required: required.includes(name),
    ...(description ? { description } : {}),
    schema: property,
    ...(property.type === 'array' ? { style: 'form', explode: true } : {}),
  }));
}

export function openApiDocument(issuer: string): Json {
  const problemResponse = (codes: ProblemCode[], extra: { headers?: Json } = {}) => ({
    description: codes.map((code) => `\`${code}\` (${problemTypeUri(issuer, code)}): ${PROBLEM_TYPES[code].title}.`).join(' '),
    content: {
      'application/problem+json': {
        schema: ref('Problem'),
        examples: Object.fromEntries(codes.map((code) => [code, {
          value: { type: problemTypeUri(issuer, code), title: PROBLEM_TYPES[code].title, status: PROBLEM_TYPES[code].status, detail: PROBLEM_TYPES[code].description },
        }])),
      },
    },
    ...extra,
  });
  const noStore = { 'Cache-Control': { description: 'Always `no-store`.', schema: { type: 'string', const: 'no-store' } } };
  const retryAfter = { 'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer', minimum: 1 } } };
  const challenge = { 'WWW-Authenticate': { description: 'The RFC 6750 Bearer challenge, with `error` (and `scope`) when a token was sent.', schema: { type: 'string' } } };
  const bodyErrors = {
    400: problemResponse(['invalid-request']),
    413: problemResponse(['payload-too-large']),
    415: problemResponse(['unsupported-media-type']),
  };
  const jsonRequest = (schema: string) => ({ required: true, content: { 'application/json': { schema: ref(schema) } } });

  // --- The admin API -------------------------------------------------------
  const adminSecurity = [{ bearerAuth: [ADMIN_SCOPE] }, { adminClientCredentials: [ADMIN_SCOPE] }];
  const adminAuthErrors = {
    401: problemResponse(['invalid-token'], { headers: challenge }),
    403: problemResponse(['insufficient-scope', 'forbidden'], { headers: challenge }),
  };
  const idParameter = { name: 'id', in: 'path', required: true, description: 'The account id (the `sub` of its ID tokens).', schema: { type: 'string', minLength: 1, maxLength: 200 } };
  const json = (schema: string) => ({ 'application/json': { schema: ref(schema) } });
  const noBody = { required: false, content: json('EmptyRequest') };
  /** One admin operation on an account: auth, body and not-found errors included. */
  const accountAction = (operationId: string, summary: string, description: string, responses: Json, requestBody: Json = noBody) => ({
    operationId, summary, description, security: adminSecurity,
    parameters: [idParameter],
    requestBody,
    // Later keys win: an operation's own 400 (password-policy) or 409 replaces the generic one.
    responses: { ...bodyErrors, ...adminAuthErrors, 404: problemResponse(['not-found']), ...responses },
  });
  const adminPaths = (): Json => ({
    '/api/admin/accounts': {
      get: {
        operationId: 'adminListAccounts',
        summary: 'Search accounts',
        description: 'Accounts sorted by email, a page at a time.',
        security: adminSecurity,
        parameters: queryParameters(accountSearchQuery),
        responses: { 200: { description: 'A page of accounts.', headers: noStore, content: json('AccountList') }, 400: bodyErrors[400], ...adminAuthErrors },
      },
      post: {
        operationId: 'adminCreateAccount',
        summary: 'Create an account',
        description: 'With a temporary password the person must change at the first sign-in, or as an invitation (an email link to choose the first password). Recorded in the audit trail as account.created by the caller.',
        security: adminSecurity,
        requestBody: jsonRequest('AdminCreateAccountRequest'),
        responses: {
          201: {
            description: 'Created.',
            headers: { ...noStore, Location: { description: 'The new account\'s URL in this API.', schema: { type: 'string', format: 'uri' } } },
            content: json('AccountSummary'),
          },
          ...bodyErrors,
          ...adminAuthErrors,
          400: problemResponse(['invalid-request', 'password-policy']),
          409: problemResponse(['email-taken']),
        },
      },
    },
    '/api/admin/accounts/{id}': {
      get: {
        operationId: 'adminGetAccount',
        summary: 'An account in detail',
        description: 'Profile, state, lockout counters and connected apps. Never a password or its hash.',
        security: adminSecurity,
        parameters: [idParameter],
        responses: { 200: { description: 'The account.', headers: noStore, content: json('AccountDetail') }, ...adminAuthErrors, 404: problemResponse(['not-found']) },
      },
      patch: accountAction('adminEditAccount', 'Change name, groups or notes', 'The fields given replace the current values.', {
        204: { description: 'Changed.', headers: noStore },
      }, jsonRequest('AdminEditAccountRequest')),
    },
    '/api/admin/accounts/{id}/reset-email': {
      post: accountAction('adminSendReset', 'Email a password reset link', 'An account that has not chosen a password yet gets its invitation again. The email is sent in the background.', {
        202: { description: 'The link is on its way.', headers: noStore, content: json('ResetSent') },
        409: problemResponse(['account-disabled']),
      }),
    },
    '/api/admin/accounts/{id}/temporary-password': {
      post: accountAction('adminSetTemporaryPassword', 'Set a temporary password', 'The person must change it at the next sign-in; it expires. Every session, grant and token of the account ends, and its lockout is cleared.', {
        204: { description: 'Set.', headers: noStore },
        400: problemResponse(['invalid-request', 'password-policy']),
      }, jsonRequest('AdminTemporaryPasswordRequest')),
    },
    '/api/admin/accounts/{id}/revoke': {
      post: accountAction('adminForceSignIn', 'Sign the person out everywhere', 'Ends every session, grant, refresh and access token of the account at once: apps\' refresh tokens fail and introspection answers inactive.', {
        200: { description: 'What was ended.', headers: noStore, content: json('RevokeResult') },
      }),
    },
    '/api/admin/accounts/{id}/unlock': {
      post: accountAction('adminUnlock', 'Clear a lockout', 'Clears the account\'s failure counter and lock, its trusted-browser counters and its per-IP sign-in throttles.', {
        204: { description: 'Unlocked.', headers: noStore },
      }),
    },
    '/api/admin/accounts/{id}/disable': {
      post: accountAction('adminDisable', 'Disable the account', 'It can no longer sign in; every session, grant, token and emailed link of it ends. An administrator cannot disable their own account.', {
        204: { description: 'Disabled.', headers: noStore },
        409: problemResponse(['own-admin-access']),
      }),
    },
    '/api/admin/accounts/{id}/enable': {
      post: accountAction('adminEnable', 'Enable a disabled account', 'It becomes active again (or invited, if it never chose a password). Enabling an account that is not disabled changes nothing.', {
        204: { description: 'Enabled.', headers: noStore },
      }),
    },
    '/api/admin/accounts/{id}/roles/admin': {
      put: accountAction('adminGrantAdmin', 'Make the account an administrator', 'Idempotent.', {
        204: { description: 'Granted.', headers: noStore },
      }),
      delete: accountAction('adminRevokeAdmin', 'Remove the admin role', 'Idempotent; takes effect on the account\'s next API call. An administrator cannot remove their own role.', {
        204: { description: 'Removed.', headers: noStore },
        409: problemResponse(['own-admin-access']),
      }),
    },
    '/api/admin/audit': {
      get: {
        operationId: 'adminAuditTrail',
        summary: 'The audit trail',
        description: 'Security events, newest first. The actor of what administrators do through this API is `admin:<account id>`, and of client credentials `client:<client id>`.',
        security: adminSecurity,
        parameters: queryParameters(auditQuery),
        responses: { 200: { description: 'Events.', headers: noStore, content: json('AuditList') }, 400: bodyErrors[400], ...adminAuthErrors },
      },
    },
  });

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Latchkey API',
      version: '1.1.0',
      description: [
        'Password endpoints for apps that keep their own UI, and the admin API (/api/admin) for an organisation\'s own tools',
        'and automation. Request bodies are JSON objects',
        `(Content-Type: application/json, at most ${JSON_LIMIT_BYTES / 1024} kB) with exactly the fields described: unknown fields,`,
        'and values of the wrong type, are refused. Errors are RFC 9457 problem details whose `type` is one of',
        `${PROBLEM_CODES.map((code) => `\`${code}\``).join(', ')} under ${issuer}/api/problems/. Query parameters are checked as strictly:`,
        'an unknown parameter, or one given twice, is refused; an empty one counts as absent. No answer is cached.',
        'These endpoints are meant to be called from an app\'s server; they send no CORS headers.',
      ].join(' '),
    },
    servers: [{ url: issuer }],
    paths: {
      '/api/account/password': {
        post: {
          operationId: 'changePassword',
          summary: 'Change the password of the token\'s account',
          description: `Needs an access token from this provider with the \`${ACCOUNT_SCOPE}\` scope. A wrong current password counts towards the account's lockout like a failed sign-in.`,
          security: [{ bearerAuth: [ACCOUNT_SCOPE] }],
          requestBody: jsonRequest('ChangePasswordRequest'),
          responses: {
            204: { description: 'The password was changed.', headers: noStore },
            400: problemResponse(['invalid-request', 'password-policy']),
            401: problemResponse(['invalid-token'], { headers: challenge }),
            403: problemResponse(['insufficient-scope', 'wrong-current-password'], { headers: challenge }),
            413: bodyErrors[413],
            415: bodyErrors[415],
            429: problemResponse(['too-many-requests'], { headers: retryAfter }),
          },
        },
      },
      '/api/password-resets': {
        post: {
          operationId: 'requestPasswordReset',
          summary: 'Email a password reset link',
          description: 'Answers the same for every valid address, whether or not it has an account; the link is sent in the background. An account still waiting for its first password, or for its address to be confirmed, gets that link instead.',
          security: [],
          requestBody: jsonRequest('PasswordResetRequest'),
          responses: {
            202: { description: 'Accepted (the same for every address).', headers: noStore, content: { 'application/json': { schema: ref('PasswordResetAccepted') } } },
            ...bodyErrors,
            429: problemResponse(['too-many-requests'], { headers: retryAfter }),
          },
        },
      },
      '/api/password-resets/confirm': {
        post: {
          operationId: 'confirmPasswordReset',
          summary: 'Set a new password with an emailed reset token',
          description: 'Uses the link once. A password the policy refuses leaves the link usable. Success signs the person out everywhere (unless configured otherwise) and clears any lockout.',
          security: [],
          requestBody: jsonRequest('PasswordResetConfirmRequest'),
          responses: {
            204: { description: 'The password was set.', headers: noStore },
            400: problemResponse(['invalid-request', 'password-policy']),
            404: problemResponse(['link-unknown']),
            410: problemResponse(['link-expired', 'link-used']),
            413: bodyErrors[413],
            415: bodyErrors[415],
          },
        },
      },
      ...adminPaths(),
      '/api/openapi.json': {
        get: {
          operationId: 'openApiDocument',
          summary: 'This document',
          security: [],
          responses: { 200: { description: 'The OpenAPI document.', headers: noStore, content: { 'application/json': { schema: { type: 'object' } } } } },
        },
      },
      '/api/problems/{code}': {
        get: {
          operationId: 'problemType',
          summary: 'What a problem type means',
          security: [],
          parameters: [{ name: 'code', in: 'path', required: true, schema: { type: 'string', enum: PROBLEM_CODES } }],
          responses: {
            200: { description: 'The problem type.', headers: noStore, content: { 'application/json': { schema: ref('ProblemType') } } },
            404: { description: 'No such problem type (type "about:blank").', content: { 'application/problem+json': { schema: ref('Problem') } } },
          },
        },
      },
    },
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: `An access token this provider issued (authorization code flow) whose scope includes \`${ACCOUNT_SCOPE}\` (the account API) or \`${ADMIN_SCOPE}\` (the admin API: the token must come from a first-party app, and its account must be an active administrator). Sender-constrained (DPoP, mTLS) tokens are not accepted.`,
        },
        adminClientCredentials: {
          type: 'oauth2',
          description: `The admin API also accepts a client credentials token (sent as \`Authorization: Bearer <token>\`) with the \`${ADMIN_SCOPE}\` scope, for automation. Register the client with \`"grant_types": ["client_credentials"]\` and \`"scope": "${ADMIN_SCOPE}"\` (its registered scope must list \`${ADMIN_SCOPE}\`; a client registered without a scope is refused), then ask the token endpoint for scope=${ADMIN_SCOPE}. The audit trail records its actions as \`client:<client id>\`.`,
          flows: {
            clientCredentials: {
              tokenUrl: `${issuer.replace(/\/$/, '')}/token`,
              scopes: { [ADMIN_SCOPE]: 'Manage every account of this organisation.' },
            },
          },
        },
      },
    },
  };
}
