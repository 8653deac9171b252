// The admin API for webhooks (/api/admin/webhooks): register, change, delete
// endpoints, rotate a secret, read an endpoint's deliveries and redeliver one. The
// same domain functions as the console and CLI (src/webhooks); the caller is the
// endpoint's createdBy. Also the OpenAPI document's `webhooks` section: one entry
// per event, what our requests to a registered endpoint look like.
import type { Context } from 'koa';
import { WEBHOOK_EVENTS, WEBHOOK_EVENT_TYPES } from '../../webhooks/events.ts';
import { WebhookError, type WebhookErrorCode } from '../../webhooks/endpoints.ts';
import { RESPONSE_KEEP_BYTES, DELIVERY_TIMEOUT_MS } from '../../webhooks/delivery.ts';
import { DEFAULT_TIMING } from '../../webhooks/dispatcher.ts';
import { ApiProblem, PlainProblem } from './problem.ts';
import { defineEndpoint, type Endpoint } from './endpoint.ts';
import {
  emptyRequest, webhookCreateRequest, webhookDelivery, webhookDeliveryList, webhookDeliveryQuery, webhookEndpoint, webhookEndpointCreated,
  webhookEndpointList, webhookSecret, webhookUpdateRequest,
} from './schemas.ts';

/** The domain's refusals, each as this API answers it (a Record: a new code must be given an answer). */
const WEBHOOK_PROBLEMS: Record<WebhookErrorCode, (error: WebhookError) => Error> = {
  invalid_url: (error) => invalidField(error),
  invalid_events: (error) => invalidField(error),
  invalid_secret: (error) => invalidField(error),
  invalid_description: (error) => invalidField(error),
  not_found: (error) => new PlainProblem(404, 'Not Found', error.message),
  not_redeliverable: (error) => new PlainProblem(409, 'Conflict', error.message),
};

function invalidField(error: WebhookError): ApiProblem {
  return new ApiProblem('invalid-request', error.message, { errors: [{ field: error.field ?? '(body)', code: 'invalid_value', message: error.message }] });
}

/** Runs a domain call, answering its refusals as problems. */
async function answering<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof WebhookError) throw WEBHOOK_PROBLEMS[error.code](error);
    throw error;
  }
}

const param = (ctx: Context, name: string) => ctx.params[name] ?? '';
const NOT_FOUND = { 404: 'No webhook endpoint (or delivery) with this id (type "about:blank").' };

const listEndpoints = defineEndpoint({
  method: 'GET', path: '/api/admin/webhooks', access: 'admin',
  operationId: 'adminListWebhooks', summary: 'Webhook endpoints', description: 'Every registered endpoint, oldest first. Never a secret.',
  status: 200, success: { description: 'The endpoints.', schema: webhookEndpointList },
  handle: async ({ deps }) => ({ items: await deps.webhooks.list() }),
});

const createEndpoint = defineEndpoint({
  method: 'POST', path: '/api/admin/webhooks', access: 'admin', body: webhookCreateRequest,
  operationId: 'adminCreateWebhook', summary: 'Register a webhook endpoint',
  description: 'Events recorded from now on are sent to it, signed with its secret (Standard Webhooks). The secret is in this answer only.',
  status: 201,
  success: {
    description: 'Registered.', schema: webhookEndpointCreated,
    headers: { Location: { description: 'The endpoint\'s URL in this API.', schema: { type: 'string', format: 'uri' } } },
  },
  async handle({ ctx, deps, body, context }) {
    const created = await answering(() => deps.webhooks.create(body, context.actor ?? 'admin'));
    ctx.set('Location', `${deps.config.issuer.replace(/\/$/, '')}/api/admin/webhooks/${encodeURIComponent(created.endpoint.id)}`);
    return created;
  },
});

const showEndpoint = defineEndpoint({
  method: 'GET', path: '/api/admin/webhooks/:endpointId', access: 'admin',
  operationId: 'adminGetWebhook', summary: 'A webhook endpoint',
  status: 200, success: { description: 'The endpoint.', schema: webhookEndpoint },
  plainProblems: NOT_FOUND,
  handle: ({ ctx, deps }) => answering(() => deps.webhooks.get(param(ctx, 'endpointId'))),
});

const updateEndpoint = defineEndpoint({
  method: 'PATCH', path: '/api/admin/webhooks/:endpointId', access: 'admin', body: webhookUpdateRequest,
  operationId: 'adminUpdateWebhook', summary: 'Change a webhook endpoint',
  description: 'The fields given replace the current values. Events already in the outbox still go to the endpoint, at its new URL.',
  status: 200, success: { description: 'The endpoint as it is now.', schema: webhookEndpoint },
  plainProblems: NOT_FOUND,
  async handle({ ctx, deps, body }) {
    if (!Object.keys(body).length) {
      throw new ApiProblem('invalid-request', 'Give at least one of url, events, description.', { errors: [{ field: '(body)', code: 'required', message: 'Give at least one of url, events, description.' }] });
    }
    return answering(() => deps.webhooks.update(param(ctx, 'endpointId'), body));
  },
});

const deleteEndpoint = defineEndpoint({
  method: 'DELETE', path: '/api/admin/webhooks/:endpointId', access: 'admin', body: emptyRequest, optionalBody: true,
  operationId: 'adminDeleteWebhook', summary: 'Delete a webhook endpoint',
  description: 'Nothing more is sent to it, including events not delivered yet; its delivery history goes with it.',
  status: 204, success: { description: 'Deleted.' },
  plainProblems: NOT_FOUND,
  async handle({ ctx, deps }) {
    await answering(() => deps.webhooks.remove(param(ctx, 'endpointId')));
  },
});

const rotateSecret = defineEndpoint({
  method: 'POST', path: '/api/admin/webhooks/:endpointId/secret', access: 'admin', body: emptyRequest, optionalBody: true,
  operationId: 'adminRotateWebhookSecret', summary: 'Make a new signing secret',
  description: 'Every request from now on, retries included, is signed with the new secret; the old one stops at once. Shown in this answer only.',
  status: 200, success: { description: 'The new secret.', schema: webhookSecret },
  plainProblems: NOT_FOUND,
  handle: async ({ ctx, deps }) => ({ secret: await answering(() => deps.webhooks.rotateSecret(param(ctx, 'endpointId'))) }),
});

const listDeliveries = defineEndpoint({
  method: 'GET', path: '/api/admin/webhooks/:endpointId/deliveries', access: 'admin', query: webhookDeliveryQuery,
  operationId: 'adminListWebhookDeliveries', summary: 'An endpoint\'s deliveries',
  description: 'Newest first: each event sent or to be sent to the endpoint, its state, attempts and the last answer (its first 2 kB).',
  status: 200, success: { description: 'The deliveries.', schema: webhookDeliveryList },
  plainProblems: NOT_FOUND,
  handle: async ({ ctx, deps, query }) => ({ items: await answering(() => deps.webhooks.deliveries(param(ctx, 'endpointId'), query)) }),
});

const redeliver = defineEndpoint({
  method: 'POST', path: '/api/admin/webhooks/:endpointId/deliveries/:deliveryId/redeliver', access: 'admin', body: emptyRequest, optionalBody: true,
  operationId: 'adminRedeliverWebhook', summary: 'Send a delivered or failed event again',
  description: 'The same body and webhook-id, signed anew, with a fresh day of retries. Receivers that deduplicate by webhook-id will see it as the event they had.',
  status: 202, success: { description: 'Queued for delivery.', schema: webhookDelivery },
  plainProblems: { ...NOT_FOUND, 409: 'The delivery is still being attempted (type "about:blank").' },
  async handle({ ctx, deps }) {
    return answering(async () => {
      const delivery = await deps.webhooks.delivery(param(ctx, 'deliveryId'));
      if (delivery.endpointId !== param(ctx, 'endpointId')) throw new WebhookError('not_found', 'There is no webhook delivery with this id.');
      return deps.webhooks.redeliver(delivery.id);
    });
  },
});

export const WEBHOOK_ENDPOINTS: Endpoint[] = [
  listEndpoints, createEndpoint, showEndpoint, updateEndpoint, deleteEndpoint, rotateSecret, listDeliveries, redeliver,
] as Endpoint[];

/** How the path parameters are described in the document. */
export const WEBHOOK_PATH_PARAMETERS = {
  endpointId: { name: 'endpointId', in: 'path', required: true, description: 'The webhook endpoint\'s id (whe_...).', schema: { type: 'string', minLength: 1, maxLength: 100 } },
  deliveryId: { name: 'deliveryId', in: 'path', required: true, description: 'The delivery\'s id (dlv_...).', schema: { type: 'string', minLength: 1, maxLength: 100 } },
};

const seconds = (ms: number) => `${ms / 1000} s`;

/** OpenAPI 3.1 `webhooks`: one POST per event type, as a registered endpoint receives it. */
export function webhooksSection(): Record<string, unknown> {
  const header = (name: string, description: string) => ({ name, in: 'header', required: true, description, schema: { type: 'string' } });
  return Object.fromEntries(WEBHOOK_EVENT_TYPES.map((type) => [type, {
    post: {
      operationId: `webhook_${type.replace('.', '_')}`,
      summary: type,
      description: [
        WEBHOOK_EVENTS[type],
        'Sent to every endpoint registered for this event, signed as Standard Webhooks defines: verify webhook-signature',
        '(`v1,` then the base64 HMAC-SHA256, keyed with the base64 part of the endpoint\'s whsec_ secret, over `<webhook-id>.<webhook-timestamp>.<body>`),',
        'and refuse a webhook-timestamp more than a few minutes away from now.',
        `Answer 2xx within ${seconds(DELIVERY_TIMEOUT_MS)} to acknowledge it; anything else (redirects included, they are not followed) is retried with exponential backoff`,
        `from ${seconds(DEFAULT_TIMING.retryBaseMs)} up to an hour apart, for a day, then marked failed (an operator can redeliver it).`,
        'Each account\'s events arrive in the order they happened, each once per endpoint; a retry or redelivery carries the same webhook-id.',
        `Only the first ${RESPONSE_KEEP_BYTES / 1024} kB of the answer is kept, for the console.`,
      ].join(' '),
      parameters: [
        header('webhook-id', 'The event\'s id (the body\'s `id`): the same on every attempt. Use it to ignore an event already handled.'),
        header('webhook-timestamp', 'When this attempt was signed, in seconds since the epoch.'),
        header('webhook-signature', 'Space-separated signatures, each `v1,<base64>`.'),
      ],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: { allOf: [{ $ref: '#/components/schemas/WebhookEvent' }, { type: 'object', properties: { type: { const: type } } }] },
          },
        },
      },
      responses: {
        '2XX': { description: 'Received: not sent again (unless an operator redelivers it).' },
        default: { description: 'Not received: retried later.' },
      },
    },
  }]));
}
