// The OpenAPI 3.1 document of the password APIs, generated from the zod schemas
// the routes validate with (schemas.ts) and the problem types they answer with
// (problem.ts): what it says is what the code does.
import { z } from 'zod';
import { PROBLEM_CODES, PROBLEM_TYPES, problemTypeUri, type ProblemCode } from './problem.ts';
import { REQUEST_SCHEMAS, RESPONSE_SCHEMAS } from './schemas.ts';
import { JSON_LIMIT_BYTES } from './json-body.ts';
import { ACCOUNT_SCOPE } from './bearer.ts';

type Json = Record<string, unknown>;

/** Every request and response schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), referring to each other by component. */
function componentSchemas(): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries({ ...REQUEST_SCHEMAS, ...RESPONSE_SCHEMAS })) registry.add(schema as z.ZodType, { id });
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

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Latchkey password API',
      version: '1.0.0',
      description: [
        'Password endpoints for apps that keep their own UI. Request bodies are JSON objects',
        `(Content-Type: application/json, at most ${JSON_LIMIT_BYTES / 1024} kB) with exactly the fields described: unknown fields,`,
        'and values of the wrong type, are refused. Errors are RFC 9457 problem details whose `type` is one of',
        `${PROBLEM_CODES.map((code) => `\`${code}\``).join(', ')} under ${issuer}/api/problems/. No answer is cached.`,
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
          description: `An access token this provider issued (authorization code flow) whose scope includes \`${ACCOUNT_SCOPE}\`. Sender-constrained (DPoP, mTLS) tokens are not accepted.`,
        },
      },
    },
  };
}
