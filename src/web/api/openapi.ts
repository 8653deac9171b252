// The OpenAPI 3.1 document of the JSON APIs, generated from the endpoint
// declarations (endpoint.ts), the zod schemas they validate with (schemas.ts) and
// the problem types they answer with (problem.ts): what it says is what the code does.
import { z } from 'zod';
import { PROBLEM_CODES, PROBLEM_TYPES, problemTypeUri, type ProblemCode } from './problem.ts';
import { ADMIN_REQUEST_SCHEMAS, ADMIN_RESPONSE_SCHEMAS, REQUEST_SCHEMAS, RESPONSE_SCHEMAS, WEBHOOK_REQUEST_SCHEMAS, WEBHOOK_RESPONSE_SCHEMAS } from './schemas.ts';
import { WEBHOOK_PATH_PARAMETERS, webhooksSection } from './webhooks.ts';
import { ADMIN_PATH_PARAMETERS } from './admin.ts';
import { SESSION_PATH_PARAMETERS } from './admin-sessions.ts';
import { ACCESS_PROBLEMS, BODY_PROBLEMS, QUERY_PROBLEMS, type Access, type Endpoint } from './endpoint.ts';
import { JSON_LIMIT_BYTES } from './json-body.ts';
import { ACCOUNT_SCOPE } from './bearer.ts';
import { ADMIN_SCOPE } from './admin-auth.ts';

type Json = Record<string, unknown>;

/** Every request and response schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), referring to each other by component. */
function componentSchemas(): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  const all = { ...REQUEST_SCHEMAS, ...RESPONSE_SCHEMAS, ...ADMIN_REQUEST_SCHEMAS, ...ADMIN_RESPONSE_SCHEMAS, ...WEBHOOK_REQUEST_SCHEMAS, ...WEBHOOK_RESPONSE_SCHEMAS };
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

/** The name each registered schema has under components.schemas. */
const SCHEMA_NAMES = new Map<z.ZodType, string>(
  Object.entries({ ...REQUEST_SCHEMAS, ...RESPONSE_SCHEMAS, ...ADMIN_REQUEST_SCHEMAS, ...ADMIN_RESPONSE_SCHEMAS, ...WEBHOOK_REQUEST_SCHEMAS, ...WEBHOOK_RESPONSE_SCHEMAS }).map(([name, schema]) => [schema as z.ZodType, name]),
);

function schemaName(schema: z.ZodType, where: string): string {
  const name = SCHEMA_NAMES.get(schema);
  if (!name) throw new Error(`${where}: its schema is not registered in schemas.ts`);
  return name;
}

/** How each path parameter is described (one place for every endpoint that has it). */
const PATH_PARAMETERS: Record<string, Json> = {
  id: { name: 'id', in: 'path', required: true, description: 'The account id (the `sub` of its ID tokens).', schema: { type: 'string', minLength: 1, maxLength: 200 } },
  code: { name: 'code', in: 'path', required: true, schema: { type: 'string', enum: PROBLEM_CODES } },
  ...WEBHOOK_PATH_PARAMETERS,
  ...ADMIN_PATH_PARAMETERS,
  ...SESSION_PATH_PARAMETERS,
};

/** The security requirement of each kind of access. */
const SECURITY: Record<Access, Json[]> = {
  public: [],
  account: [{ bearerAuth: [ACCOUNT_SCOPE] }],
  admin: [{ bearerAuth: [ADMIN_SCOPE] }, { adminClientCredentials: [ADMIN_SCOPE] }],
};

const noStore = { 'Cache-Control': { description: 'Always `no-store`.', schema: { type: 'string', const: 'no-store' } } };
const retryAfter = { 'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer', minimum: 1 } } };
const challenge = { 'WWW-Authenticate': { description: 'The RFC 6750 Bearer challenge, with `error` (and `scope`) when a token was sent.', schema: { type: 'string' } } };
/** Headers that come with a problem. */
const PROBLEM_HEADERS: Partial<Record<ProblemCode, Json>> = {
  'invalid-token': challenge,
  'insufficient-scope': challenge,
  forbidden: challenge,
  'two-step-sign-in-required': {
    'WWW-Authenticate': { description: 'The RFC 9470 step-up challenge: `error="insufficient_user_authentication"` with the `acr_values` to ask for.', schema: { type: 'string' } },
  },
  'wrong-current-password': challenge,
  'too-many-requests': retryAfter,
};

/** `/api/admin/accounts/:id` → `/api/admin/accounts/{id}` and its parameter names. */
export function documentedPath(path: string): { path: string; parameters: string[] } {
  const parameters: string[] = [];
  const documented = path.replace(/:(\w+)/g, (_match, name: string) => {
    parameters.push(name);
    return `{${name}}`;
  });
  return { path: documented, parameters };
}

/** Every problem an endpoint can answer, in order: its access's, its input's, its own. */
export function endpointProblems(endpoint: Endpoint): ProblemCode[] {
  return [...new Set([
    ...ACCESS_PROBLEMS[endpoint.access],
    ...(endpoint.body ? BODY_PROBLEMS : []),
    ...(endpoint.query ? QUERY_PROBLEMS : []),
    ...(endpoint.problems ?? []),
  ])];
}

export function openApiDocument(issuer: string, endpoints: readonly Endpoint[]): Json {
  const problemResponse = (codes: ProblemCode[]) => {
    const headers = Object.assign({}, ...codes.map((code) => PROBLEM_HEADERS[code] ?? {}));
    return {
      description: codes.map((code) => `\`${code}\` (${problemTypeUri(issuer, code)}): ${PROBLEM_TYPES[code].title}.`).join(' '),
      content: {
        'application/problem+json': {
          schema: ref('Problem'),
          examples: Object.fromEntries(codes.map((code) => [code, {
            value: { type: problemTypeUri(issuer, code), title: PROBLEM_TYPES[code].title, status: PROBLEM_TYPES[code].status, detail: PROBLEM_TYPES[code].description },
          }])),
        },
      },
      ...(Object.keys(headers).length ? { headers } : {}),
    };
  };
  const json = (schema: z.ZodType, where: string) => ({ 'application/json': { schema: ref(schemaName(schema, where)) } });

  function operation(endpoint: Endpoint): Json {
    const where = `${endpoint.method} ${endpoint.path}`;
    const { parameters } = documentedPath(endpoint.path);
    const byStatus = new Map<number, ProblemCode[]>();
    for (const code of endpointProblems(endpoint)) {
      const status = PROBLEM_TYPES[code].status;
      byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
    }
    const { success } = endpoint;
    const content = success.schema ? json(success.schema, where) : success.documentedAs ? { 'application/json': { schema: success.documentedAs } } : undefined;
    return {
      operationId: endpoint.operationId,
      summary: endpoint.summary,
      ...(endpoint.description ? { description: endpoint.description } : {}),
      security: SECURITY[endpoint.access],
      ...(parameters.length || endpoint.query ? {
        parameters: [
          ...parameters.map((name) => {
            const parameter = PATH_PARAMETERS[name];
            if (!parameter) throw new Error(`${where}: no description of the path parameter "${name}" in openapi.ts`);
            return parameter;
          }),
          ...(endpoint.query ? queryParameters(endpoint.query) : []),
        ],
      } : {}),
      ...(endpoint.body ? { requestBody: { required: !endpoint.optionalBody, content: json(endpoint.body, where) } } : {}),
      responses: {
        [endpoint.status]: { description: success.description, headers: { ...noStore, ...success.headers }, ...(content ? { content } : {}) },
        ...Object.fromEntries([...byStatus].map(([status, codes]) => [status, problemResponse(codes)])),
        ...Object.fromEntries(Object.entries(endpoint.plainProblems ?? {}).map(([status, description]) => [status, {
          description, content: { 'application/problem+json': { schema: ref('Problem') } },
        }])),
      },
    };
  }

  const paths: Record<string, Record<string, Json>> = {};
  for (const endpoint of endpoints) {
    const { path } = documentedPath(endpoint.path);
    (paths[path] ??= {})[endpoint.method.toLowerCase()] = operation(endpoint);
  }

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
        'The `webhooks` section describes the signed events Latchkey POSTs to endpoints registered under /api/admin/webhooks.',
      ].join(' '),
    },
    servers: [{ url: issuer }],
    paths,
    // What Latchkey sends to registered webhook endpoints, per event (web/api/webhooks.ts).
    webhooks: webhooksSection(),
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
