// The outbox: one delivery document per event and subscribed endpoint, written
// right after the audit record of the change (accounts/audit.ts hands every
// record here), so an event survives any instance dying before it is sent.
//
// Each event takes the next number of one counter ($inc on a single document,
// atomic on every server), so the deliveries of one account go out in the order
// the changes were recorded, whichever instances recorded them.
import { randomBytes } from 'node:crypto';
import type { Filter } from 'mongodb';
import type { DeliveryStatus, LastResponse, WebhookCollections, WebhookDeliveryDoc } from '../db/models/webhook.ts';
import { webhookEventFor, type RecordedAuditEvent, type WebhookPayload } from './events.ts';
import { WebhookError } from './endpoints.ts';

/** How long an event is retried before it is marked failed. */
export const RETRY_FOR_MS = 86_400_000;
/** How long delivered and failed deliveries stay visible in the console. */
export const KEEP_FINISHED_MS = 30 * 86_400_000;

export interface OutboxDeps {
  collections: WebhookCollections;
  /** Overrides RETRY_FOR_MS (tests). */
  retryForMs?: number;
}

async function nextSequence(deps: OutboxDeps, count: number): Promise<number> {
  const doc = await deps.collections.sequence.findOneAndUpdate(
    { _id: 'events' }, { $inc: { value: count } }, { upsert: true, returnDocument: 'after' },
  );
  return doc!.value - count + 1;
}

/**
 * Writes the deliveries of these audit records' webhook events, for every endpoint
 * that wants them. Returns how many were written. Records that are no webhook
 * event cost nothing, events that no endpoint wants one read.
 */
export function recordEvents(deps: OutboxDeps, records: readonly RecordedAuditEvent[]): Promise<number> {
  return recordPayloads(deps, records.map(webhookEventFor).filter((event): event is WebhookPayload => event !== null));
}

/** Writes the deliveries of these events, for every endpoint that wants them. */
export async function recordPayloads(deps: OutboxDeps, events: readonly WebhookPayload[]): Promise<number> {
  if (!events.length) return 0;
  const types = [...new Set(events.map((event) => event.type))];
  const endpoints = await deps.collections.endpoints.find({ events: { $in: types } }, { projection: { _id: 1, events: 1 } }).toArray();
  const wanted = events.map((event) => ({ event, endpointIds: endpoints.filter((e) => e.events.includes(event.type)).map((e) => e._id) }))
    .filter(({ endpointIds }) => endpointIds.length);
  if (!wanted.length) return 0;
  let seq = await nextSequence(deps, wanted.length);
  const now = new Date();
  const deadlineAt = new Date(now.getTime() + (deps.retryForMs ?? RETRY_FOR_MS));
  const docs: WebhookDeliveryDoc[] = [];
  for (const { event, endpointIds } of wanted) {
    const body = JSON.stringify(event);
    for (const endpointId of endpointIds) {
      docs.push({
        _id: `dlv_${randomBytes(12).toString('base64url')}`, eventId: event.id, endpointId, type: event.type, accountId: event.accountId,
        orderKey: event.accountId ?? event.id, seq, body, createdAt: now, status: 'pending', attempts: 0, nextAttemptAt: now, deadlineAt,
        claim: null, claimUntil: new Date(0), lastResponse: null, deliveredAt: null, redeliveries: 0, expiresAt: null,
      });
    }
    seq++;
  }
  await deps.collections.deliveries.insertMany(docs, { ordered: false });
  return docs.length;
}

/** A delivery as the surfaces show it: the payload, its state and the last answer. */
export interface DeliveryView {
  id: string;
  eventId: string;
  endpointId: string;
  type: string;
  accountId: string | null;
  status: DeliveryStatus;
  attempts: number;
  createdAt: Date;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  redeliveries: number;
  lastResponse: LastResponse | null;
  payload: unknown;
}

export const deliveryView = (doc: WebhookDeliveryDoc): DeliveryView => ({
  id: doc._id, eventId: doc.eventId, endpointId: doc.endpointId, type: doc.type, accountId: doc.accountId, status: doc.status,
  attempts: doc.attempts, createdAt: doc.createdAt, nextAttemptAt: doc.status === 'pending' ? doc.nextAttemptAt : null,
  deliveredAt: doc.deliveredAt, redeliveries: doc.redeliveries, lastResponse: doc.lastResponse, payload: JSON.parse(doc.body),
});

/** An endpoint's deliveries, newest first, optionally in one state. */
export async function listDeliveries(deps: OutboxDeps, endpointId: string, filter: { status?: DeliveryStatus; limit?: number } = {}): Promise<DeliveryView[]> {
  const query: Filter<WebhookDeliveryDoc> = { endpointId, ...(filter.status ? { status: filter.status } : {}) };
  const docs = await deps.collections.deliveries.find(query).sort({ createdAt: -1, seq: -1 }).limit(Math.min(filter.limit ?? 50, 500)).toArray();
  return docs.map(deliveryView);
}

export async function getDelivery(deps: OutboxDeps, id: string): Promise<DeliveryView> {
  const doc = typeof id === 'string' && id.length <= 100 ? await deps.collections.deliveries.findOne({ _id: id }) : null;
  if (!doc) throw new WebhookError('not_found', 'There is no webhook delivery with this id.');
  return deliveryView(doc);
}

/**
 * Sends a delivered or failed event again, by hand: the same body and webhook-id
 * (receivers that deduplicate will recognise it), with a fresh day of retries.
 * It keeps its place in its account's order.
 */
export async function redeliver(deps: OutboxDeps, id: string): Promise<DeliveryView> {
  await getDelivery(deps, id);
  const now = new Date();
  const doc = await deps.collections.deliveries.findOneAndUpdate(
    { _id: id, status: { $in: ['delivered', 'failed'] } },
    {
      $set: {
        status: 'pending', attempts: 0, nextAttemptAt: now, deadlineAt: new Date(now.getTime() + (deps.retryForMs ?? RETRY_FOR_MS)),
        claim: null, claimUntil: new Date(0), expiresAt: null,
      },
      $inc: { redeliveries: 1 },
    },
    { returnDocument: 'after' },
  );
  if (!doc) throw new WebhookError('not_redeliverable', 'This delivery is still being attempted; it can be sent again by hand once it is delivered or has failed.');
  return deliveryView(doc);
}
