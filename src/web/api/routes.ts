// The JSON APIs under /api. Every path under /api is answered here, errors
// included (problem+json, never an HTML page): an unknown path is a 404, a known
// path with another method a 405 with Allow.
//
// No CORS: these endpoints are for apps' servers, not for browsers on other
// origins, so no Access-Control-* header is sent and a preflight gets nothing that
// would let a cross-origin page call them. Add CORS here (per client origin, as
// the provider's clientBasedCORS does) if browser apps ever need them.
import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AppDeps } from '../../deps.ts';
import { apiErrors, isProblemCode, PlainProblem, PROBLEM_TYPES, problemTypeUri } from './problem.ts';
import { openApiDocument } from './openapi.ts';
import { defineEndpoint, runEndpoint, type Endpoint, type Method } from './endpoint.ts';
import { problemTypeDescription } from './schemas.ts';
import { PASSWORD_ENDPOINTS } from './password.ts';
import { ADMIN_ENDPOINTS } from './admin.ts';
import { DELETE_ENDPOINTS } from './admin-delete.ts';
import { WEBHOOK_ENDPOINTS } from './webhooks.ts';
import { SESSION_ENDPOINTS } from './admin-sessions.ts';
import { EMAIL_ENDPOINTS } from './admin-email.ts';

/** The document depends only on the issuer and the declarations: made once per issuer. */
const documents = new Map<string, Record<string, unknown>>();
const documentFor = (issuer: string) => documents.get(issuer) ?? documents.set(issuer, openApiDocument(issuer, API_ENDPOINTS)).get(issuer)!;

/** The API describing itself. */
const META_ENDPOINTS: Endpoint[] = [
  defineEndpoint({
    method: 'GET', path: '/api/openapi.json', access: 'public',
    operationId: 'openApiDocument', summary: 'This document',
    status: 200, success: { description: 'The OpenAPI document.', documentedAs: { type: 'object' } },
    handle: ({ deps }) => documentFor(deps.config.issuer),
  }),
  defineEndpoint({
    method: 'GET', path: '/api/problems/:code', access: 'public',
    operationId: 'problemType', summary: 'What a problem type means',
    status: 200, success: { description: 'The problem type.', schema: problemTypeDescription },
    plainProblems: { 404: 'No such problem type (type "about:blank").' },
    handle({ ctx, deps }) {
      const code = ctx.params.code ?? '';
      if (!isProblemCode(code)) throw new PlainProblem(404, 'Not Found', 'There is no problem type of that name.');
      const { status, title, description } = PROBLEM_TYPES[code];
      return { type: problemTypeUri(deps.config.issuer, code), code, status, title, description };
    },
  }) as Endpoint,
];

/** Every JSON endpoint: the router and the OpenAPI document are made from this list. */
export const API_ENDPOINTS: readonly Endpoint[] = [...PASSWORD_ENDPOINTS, ...ADMIN_ENDPOINTS, ...DELETE_ENDPOINTS, ...SESSION_ENDPOINTS, ...EMAIL_ENDPOINTS, ...WEBHOOK_ENDPOINTS, ...META_ENDPOINTS];

export function apiRoutes(deps: AppDeps): Router {
  const router = new Router();
  const errors = apiErrors(deps.config.issuer, deps.log);
  const methods = (method: Method) => (method === 'GET' ? ['GET', 'HEAD'] : [method]);

  const byPath = new Map<string, Endpoint[]>();
  for (const endpoint of API_ENDPOINTS) byPath.set(endpoint.path, [...(byPath.get(endpoint.path) ?? []), endpoint]);
  for (const [path, endpoints] of byPath) {
    for (const endpoint of endpoints) {
      router.register(path, methods(endpoint.method), [errors, (ctx) => runEndpoint(endpoint, ctx, deps)] as Middleware[]);
    }
  }
  // Registered after every endpoint, so they only run for the other methods: 405 with Allow (OPTIONS: 204 with
  // Allow). After all of them, not path by path: /factors/:factorId (DELETE) must not answer 405 for a POST
  // that /factors/require-enrolment takes.
  for (const [path, endpoints] of byPath) {
    const allow = endpoints.flatMap((endpoint) => methods(endpoint.method)).join(', ');
    router.all(path, errors, (ctx) => {
      if (ctx.method === 'OPTIONS') {
        ctx.status = 204;
        ctx.set('Allow', allow);
        return;
      }
      throw new PlainProblem(405, 'Method Not Allowed', `This endpoint accepts ${allow} only.`, { Allow: allow });
    });
  }
  router.all('/api{/*rest}', errors, () => {
    throw new PlainProblem(404, 'Not Found', 'There is no API endpoint at this path.');
  });
  return router;
}
