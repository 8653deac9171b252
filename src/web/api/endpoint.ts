// One declaration per JSON endpoint: method, path, who may call it, the request
// and response schemas, the problems it can answer, and its handler. The router
// (routes.ts) and the OpenAPI document (openapi.ts) are both generated from these
// declarations, so an endpoint cannot exist without an authentication choice, and
// what the document says is what the code does.
import type { Context } from 'koa';
import type { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import type { RequestContext } from '../../accounts/audit.ts';
import { requestContext } from '../forms.ts';
import type { ProblemCode } from './problem.ts';
import { jsonBody, queryParams } from './json-body.ts';
import { requireAccountToken, type BearerAuth } from './bearer.ts';
import { requireAdmin, type AdminAuth } from './admin-auth.ts';
import { asProblem } from './domain-problems.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Who may call an endpoint, chosen explicitly for each one:
 * - public: anyone (the answer must not depend on who asks);
 * - account: an access token of this provider with the `account` scope (bearer.ts);
 * - admin: an administrator's token or an admin client credentials token (admin-auth.ts).
 */
export type Access = 'public' | 'account' | 'admin';

/** The authenticated caller an endpoint's handler receives, by its access. */
export type Caller<A extends Access> = A extends 'account' ? BearerAuth : A extends 'admin' ? AdminAuth : null;

/** The problems every endpoint of an access can answer before its handler runs. */
export const ACCESS_PROBLEMS: Record<Access, ProblemCode[]> = {
  public: [],
  account: ['invalid-token', 'insufficient-scope'],
  admin: ['invalid-token', 'insufficient-scope', 'forbidden', 'two-step-sign-in-required'],
};

/** The problems any JSON body can cause before the handler runs (json-body.ts). */
export const BODY_PROBLEMS: ProblemCode[] = ['invalid-request', 'payload-too-large', 'unsupported-media-type'];
/** The problems a query string can cause (json-body.ts). */
export const QUERY_PROBLEMS: ProblemCode[] = ['invalid-request'];

export interface Success {
  description: string;
  /**
   * The response body's schema (registered in schemas.ts): what the handler returns is
   * parsed with it, so an answer carries exactly the documented fields (a mismatch is a
   * bug: a 500, logged). None: the handler returns nothing (204, or 202 without a body).
   */
  schema?: z.ZodType;
  /** A body documented by a plain JSON Schema instead (the OpenAPI document itself), sent as returned. */
  documentedAs?: Record<string, unknown>;
  /** Response headers beyond Cache-Control (always no-store). */
  headers?: Record<string, { description: string; schema: Record<string, unknown> }>;
}

export interface Call<A extends Access, B, Q> {
  ctx: Context;
  deps: AppDeps;
  caller: Caller<A>;
  /** The validated body (undefined when the endpoint takes none). */
  body: B;
  /** The validated query (undefined when the endpoint takes none). */
  query: Q;
  /** For the audit trail: the request, with the caller as actor where there is one. */
  context: RequestContext;
}

export interface Endpoint<A extends Access = Access, B extends z.ZodType | undefined = z.ZodType | undefined, Q extends z.ZodType | undefined = z.ZodType | undefined> {
  method: Method;
  /** Koa path syntax (`/api/admin/accounts/:id`); the document shows `{id}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  access: A;
  /** The JSON body's schema. `optionalBody`: an empty request is fine (actions that take no input). */
  body?: B;
  optionalBody?: boolean;
  query?: Q;
  /** Query parameters that may repeat (or hold comma-separated values). */
  queryLists?: readonly string[];
  /** The one success answer. */
  status: number;
  success: Success;
  /** What the handler itself can answer besides success (auth and body problems are implied). */
  problems?: ProblemCode[];
  /** Plain problems (type "about:blank", problem.ts) it can answer, by status: what each means here. */
  plainProblems?: Record<number, string>;
  /** Returns the response body (parsed with success.schema), or nothing. */
  handle(call: Call<A, B extends z.ZodType ? z.output<B> : undefined, Q extends z.ZodType ? z.output<Q> : undefined>): Promise<unknown> | unknown;
}

/** Declares an endpoint (an identity function that lets TypeScript infer the handler's types). */
export function defineEndpoint<A extends Access, B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined>(
  endpoint: Endpoint<A, B, Q>,
): Endpoint<A, B, Q> {
  return endpoint;
}

async function authenticate(access: Access, ctx: Context, deps: AppDeps): Promise<{ caller: BearerAuth | AdminAuth | null; actor?: string }> {
  switch (access) {
    case 'public':
      return { caller: null };
    case 'account':
      return { caller: await requireAccountToken(ctx, deps.provider, deps.config.issuer) };
    case 'admin': {
      const caller = await requireAdmin(ctx, deps);
      return { caller, actor: caller.actor };
    }
  }
}

/** Runs an endpoint for a request: authenticate, validate, handle, in that order. */
export async function runEndpoint(endpoint: Endpoint, ctx: Context, deps: AppDeps): Promise<void> {
  const { caller, actor } = await authenticate(endpoint.access, ctx, deps);
  const query = endpoint.query ? queryParams(ctx, endpoint.query, endpoint.queryLists) : undefined;
  const body = endpoint.body ? await jsonBody(ctx, endpoint.body) : undefined;
  const context = { ...requestContext(ctx), ...(actor ? { actor } : {}) };
  let value: unknown;
  try {
    value = await (endpoint.handle as (call: Call<Access, unknown, unknown>) => unknown)({ ctx, deps, caller: caller as never, body, query, context });
  } catch (error) {
    // A domain refusal the handler let through is answered as its problem (domain-problems.ts).
    throw asProblem(error);
  }
  ctx.status = endpoint.status;
  if (value === undefined) return;
  const { schema } = endpoint.success;
  // Dates become RFC 3339 strings first, as JSON has them.
  ctx.body = schema ? schema.parse(JSON.parse(JSON.stringify(value))) : value;
}
