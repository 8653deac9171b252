// SCIM 2.0 (RFC 7644) at /scim/v2: the service provider directory services such
// as Entra ID and Okta provision accounts through. Every path under /scim/v2 is
// answered here in SCIM's own terms: application/scim+json bodies (application/json
// accepted), errors as SCIM error messages with scimType, never an HTML page.
// The steps of each request: errors (outermost), the client's token (auth.ts),
// the body (bounded), then the domain (src/scim) with the client as actor.
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware } from 'koa';
import type { AppDeps } from '../../deps.ts';
import { groupModel } from '../../db/models/group.ts';
import { isDatabaseUnavailable } from '../../db/connection.ts';
import { asScimError, badRequest, notFound, ScimError } from '../../scim/errors.ts';
import {
  MAX_BODY_BYTES, RESOURCE_KINDS, SCHEMAS, URN, resourceTypeDocument, schemaDocument, serviceProviderConfig,
} from '../../scim/schemas.ts';
import { createScimUser, deleteScimUser, getUser, listUsers, patchScimUser, replaceScimUser } from '../../scim/users.ts';
import type { ScimDeps } from '../../scim/context.ts';
import type { Versioned } from '../../scim/versions.ts';
import { createGroup, deleteGroup, getGroup, listGroups, patchGroup, replaceGroup } from '../../scim/groups.ts';
import { projectAttributes, readProjection, type Projection } from '../../scim/projection.ts';
import { readSearchRequest, type ListRequest } from '../../scim/search.ts';
import type { JsonObject } from '../../scim/resource.ts';
import { requireScimClient, type ScimClient } from './auth.ts';

export const SCIM_PATH = '/scim/v2';
const SCIM_TYPE = 'application/scim+json; charset=utf-8';

const DATABASE_UNAVAILABLE = new ScimError(503, null, 'The database cannot be reached right now; try again in a minute.', { 'Retry-After': '30' });

/**
 * Every failure as a SCIM error (RFC 7644 §3.12): the domain's refusals by their table
 * (scim/errors.ts), a database that is away as a 503, anything else logged and answered
 * 500 without detail.
 */
function scimErrors(deps: AppDeps): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (caught) {
      const error = isDatabaseUnavailable(caught) ? DATABASE_UNAVAILABLE : asScimError(caught);
      const known = error instanceof ScimError;
      if (error === DATABASE_UNAVAILABLE) deps.log.warn({ reqId: ctx.state.requestId, path: ctx.path, err: (caught as Error).message }, 'database unavailable');
      else if (!known) deps.log.error({ err: error, reqId: ctx.state.requestId, path: ctx.path }, 'SCIM request failed');
      const status = known ? error.status : 500;
      ctx.status = status;
      ctx.set('Cache-Control', 'no-store');
      if (known) ctx.set(error.headers as Record<string, string>);
      ctx.type = SCIM_TYPE;
      ctx.body = {
        schemas: [URN.error],
        status: String(status),
        ...(known && error.scimType ? { scimType: error.scimType } : {}),
        detail: known ? error.message : 'The request could not be completed.',
      };
    }
  };
}

const parse = bodyParser({
  enableTypes: ['json'],
  extendTypes: { json: ['application/json', 'application/scim+json'] },
  parsedMethods: ['POST', 'PUT', 'PATCH', 'DELETE'],
  jsonLimit: MAX_BODY_BYTES,
  jsonStrict: true,
  onError: (error) => {
    const status = (error as { status?: number }).status;
    if (status === 413) throw new ScimError(413, null, `The body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MB.`);
    if (status === 415) throw new ScimError(415, null, 'The body\'s Content-Encoding is not supported.');
    throw badRequest('invalidSyntax', 'The body is not valid JSON.');
  },
});

/** The request's JSON body: application/scim+json or application/json, at most MAX_BODY_BYTES. */
async function readBody(ctx: Context): Promise<unknown> {
  if (!ctx.request.length && !ctx.get('transfer-encoding')) throw badRequest('invalidSyntax', 'The request needs a JSON body.');
  if (!ctx.is('application/scim+json', 'application/json')) {
    throw new ScimError(415, null, 'Send the body as application/scim+json (or application/json).');
  }
  // Refused before reading, when the length is declared.
  if (ctx.request.length > MAX_BODY_BYTES) throw new ScimError(413, null, `The body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MB.`);
  await parse(ctx, async () => {});
  return ctx.request.body;
}

function answer(ctx: Context, status: number, body: Record<string, unknown>, etag?: string): void {
  ctx.status = status;
  ctx.type = SCIM_TYPE;
  ctx.set('Cache-Control', 'no-store');
  if (etag) ctx.set('ETag', etag);
  ctx.body = body;
}

const ID = /^[\w.-]{1,100}$/;
function idOf(ctx: Context): string {
  const id = ctx.params.id ?? '';
  if (!ID.test(id)) throw notFound();
  return id;
}

const ifMatch = (ctx: Context) => ctx.get('if-match') || null;

/** filter, startIndex, count (RFC 7644 §3.4.2), attributes, excludedAttributes: given once each, numbers as numbers. */
function listRequest(ctx: Context): ListRequest {
  const one = (name: string): string | undefined => {
    const value = ctx.query[name];
    if (Array.isArray(value)) throw badRequest('invalidValue', `Give ${name} once.`);
    return value === undefined || value === '' ? undefined : value;
  };
  const number = (name: string): number | undefined => {
    const value = one(name);
    if (value === undefined) return undefined;
    if (!/^-?\d{1,9}$/.test(value)) throw badRequest('invalidValue', `${name} must be an integer.`);
    return Number(value);
  };
  return { params: { filter: one('filter'), startIndex: number('startIndex'), count: number('count') }, projection: readProjection(ctx.query) };
}

/** What a handler gets: the client (the actor) and the attributes asked for, both checked before anything is done. */
interface Call {
  client: ScimClient;
  projection: Projection;
}
type Handler = (ctx: Context, call: Call) => Promise<void> | void;

export function scimRoutes(deps: AppDeps): Router {
  const router = new Router();
  const scim: ScimDeps = { admin: deps, groups: groupModel(deps.connection), baseUrl: `${deps.config.issuer}${SCIM_PATH}` };
  const errors = scimErrors(deps);
  const authed = (handler: Handler): Middleware[] => [errors, async (ctx) => {
    const client = await requireScimClient(ctx, deps);
    await handler(ctx, { client, projection: readProjection(ctx.query) });
  }];

  /** Registers the methods of one path, then a 405 with Allow for the others. */
  const path = (route: string, methods: Partial<Record<'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', Handler>>) => {
    const allow: string[] = [];
    for (const [method, handler] of Object.entries(methods)) {
      router.register(`${SCIM_PATH}${route}`, method === 'GET' ? ['GET', 'HEAD'] : [method], authed(handler!));
      allow.push(method);
    }
    router.all(`${SCIM_PATH}${route}`, errors, () => {
      throw new ScimError(405, null, `This endpoint accepts ${allow.join(', ')} only.`, { Allow: allow.join(', ') });
    });
  };
  const send = (ctx: Context, { projection }: Call, status: number, result: Versioned) => {
    answer(ctx, status, projectAttributes(result.resource, projection), result.etag);
    if (status === 201) ctx.set('Location', String((result.resource.meta as { location?: string }).location));
  };
  const listed = (ctx: Context, projection: Projection, list: JsonObject) => {
    const resources = (list.Resources as JsonObject[]).map((resource) => projectAttributes(resource, projection));
    answer(ctx, 200, { ...list, Resources: resources });
  };
  /** Groups without members when the client excludes them: no member lookups at all. */
  const groupOptions = (projection: Projection) => ({ members: !projection.excludes('members') });
  const searchUsers = async (ctx: Context, { params, projection }: ListRequest) => listed(ctx, projection, await listUsers(scim, params));
  const searchGroups = async (ctx: Context, { params, projection }: ListRequest) => listed(ctx, projection, await listGroups(scim, params, groupOptions(projection)));

  // Discovery (RFC 7644 §4).
  path('/ServiceProviderConfig', { GET: (ctx) => answer(ctx, 200, serviceProviderConfig(scim.baseUrl, deps.config.issuer)) });
  path('/ResourceTypes', {
    GET: (ctx) => answer(ctx, 200, { schemas: [URN.list], totalResults: RESOURCE_KINDS.length, startIndex: 1, itemsPerPage: RESOURCE_KINDS.length, Resources: RESOURCE_KINDS.map((kind) => resourceTypeDocument(kind, scim.baseUrl)) }),
  });
  path('/ResourceTypes/:id', {
    GET: (ctx) => {
      const kind = RESOURCE_KINDS.find((candidate) => candidate.name === ctx.params.id);
      if (!kind) throw notFound('No such resource type.');
      answer(ctx, 200, resourceTypeDocument(kind, scim.baseUrl));
    },
  });
  path('/Schemas', {
    GET: (ctx) => answer(ctx, 200, { schemas: [URN.list], totalResults: SCHEMAS.length, startIndex: 1, itemsPerPage: SCHEMAS.length, Resources: SCHEMAS.map((schema) => schemaDocument(schema, scim.baseUrl)) }),
  });
  path('/Schemas/:id', {
    GET: (ctx) => {
      const schema = SCHEMAS.find((candidate) => candidate.id === ctx.params.id);
      if (!schema) throw notFound('No such schema.');
      answer(ctx, 200, schemaDocument(schema, scim.baseUrl));
    },
  });

  path('/Users', {
    GET: (ctx) => searchUsers(ctx, listRequest(ctx)),
    POST: async (ctx, call) => send(ctx, call, 201, await createScimUser(scim, await readBody(ctx), call.client.context)),
  });
  path('/Users/.search', { POST: async (ctx) => searchUsers(ctx, readSearchRequest(await readBody(ctx))) });
  path('/Users/:id', {
    GET: async (ctx, call) => send(ctx, call, 200, await getUser(scim, idOf(ctx))),
    PUT: async (ctx, call) => send(ctx, call, 200, await replaceScimUser(scim, idOf(ctx), await readBody(ctx), ifMatch(ctx), call.client.context)),
    PATCH: async (ctx, call) => send(ctx, call, 200, await patchScimUser(scim, idOf(ctx), await readBody(ctx), ifMatch(ctx), call.client.context)),
    DELETE: async (ctx, call) => {
      await deleteScimUser(scim, idOf(ctx), ifMatch(ctx), call.client.context);
      ctx.status = 204;
    },
  });
  path('/Groups', {
    GET: (ctx) => searchGroups(ctx, listRequest(ctx)),
    POST: async (ctx, call) => send(ctx, call, 201, await createGroup(scim, await readBody(ctx), call.client.context, groupOptions(call.projection))),
  });
  path('/Groups/.search', { POST: async (ctx) => searchGroups(ctx, readSearchRequest(await readBody(ctx))) });
  path('/Groups/:id', {
    GET: async (ctx, call) => send(ctx, call, 200, await getGroup(scim, idOf(ctx), groupOptions(call.projection))),
    PUT: async (ctx, call) => send(ctx, call, 200, await replaceGroup(scim, idOf(ctx), await readBody(ctx), ifMatch(ctx), call.client.context, groupOptions(call.projection))),
    PATCH: async (ctx, call) => send(ctx, call, 200, await patchGroup(scim, idOf(ctx), await readBody(ctx), ifMatch(ctx), call.client.context, groupOptions(call.projection))),
    DELETE: async (ctx, call) => {
      await deleteGroup(scim, idOf(ctx), ifMatch(ctx), call.client.context);
      ctx.status = 204;
    },
  });
  // Not offered (ServiceProviderConfig says so): bulk; and /Me has no meaning for a client.
  router.all(`${SCIM_PATH}/Bulk`, errors, () => {
    throw new ScimError(501, null, 'Bulk operations are not supported.');
  });
  router.all(`${SCIM_PATH}{/*rest}`, errors, () => {
    throw notFound('There is no SCIM endpoint at this path.');
  });
  return router;
}
