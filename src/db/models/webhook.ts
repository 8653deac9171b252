// Webhooks in MongoDB: the endpoints operators registered, and the outbox, one
// delivery per event and endpoint. Plain driver collections (like leases and
// jobs): every write the delivery loop makes is a conditional update it checks.
import type { Collection, Db } from 'mongodb';

export const WEBHOOK_ENDPOINTS = 'webhook_endpoints';
export const WEBHOOK_DELIVERIES = 'webhook_deliveries';
/** One counter document: the order events were recorded in, across instances. */
export const WEBHOOK_SEQUENCE = 'webhook_sequence';

export interface WebhookEndpointDoc {
  _id: string;
  url: string;
  /** The event types it receives. */
  events: string[];
  description: string;
  /** The signing secret (whsec_...), encrypted with DATA_KEYS (associated data "webhook:<id>"). */
  secret: string;
  createdAt: Date;
  updatedAt: Date;
  /** Who registered it (audit-style actor: admin:<id>, client:<id>, cli). */
  createdBy: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** What the receiver answered to the last attempt (its body cut to a few kB), or why there was no answer. */
export interface LastResponse {
  at: Date;
  status: number | null;
  body: string;
  error: string | null;
  durationMs: number;
}

export interface WebhookDeliveryDoc {
  _id: string;
  /** The event's id: the webhook-id header, the same for every attempt and redelivery (receivers deduplicate by it). */
  eventId: string;
  endpointId: string;
  type: string;
  accountId: string | null;
  /** Deliveries with the same endpoint and key are sent one at a time, in seq order (the account; the event itself when there is none). */
  orderKey: string;
  seq: number;
  /** The exact JSON sent, fixed when the event was recorded. */
  body: string;
  createdAt: Date;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  /** After a failed attempt past this time, the delivery is given up on (failed). */
  deadlineAt: Date;
  /** The attempt in progress: its token, and until when its sender may still be at it. */
  claim: string | null;
  claimUntil: Date;
  lastResponse: LastResponse | null;
  deliveredAt: Date | null;
  /** Redeliveries asked for by hand. */
  redeliveries: number;
  /** Set once delivered or failed: the sweep removes it then. */
  expiresAt: Date | null;
}

export interface WebhookCollections {
  endpoints: Collection<WebhookEndpointDoc>;
  deliveries: Collection<WebhookDeliveryDoc>;
  sequence: Collection<{ _id: string; value: number }>;
}

export function webhookCollections(db: Db): WebhookCollections {
  return {
    endpoints: db.collection<WebhookEndpointDoc>(WEBHOOK_ENDPOINTS),
    deliveries: db.collection<WebhookDeliveryDoc>(WEBHOOK_DELIVERIES),
    sequence: db.collection<{ _id: string; value: number }>(WEBHOOK_SEQUENCE),
  };
}

export async function ensureWebhookIndexes(db: Db): Promise<void> {
  const { endpoints, deliveries } = webhookCollections(db);
  // Which endpoints want an event type (multikey).
  await endpoints.createIndex({ events: 1 });
  // What is due; the head of each endpoint's per-account queue (the account first: the
  // embedded database answers from the index an equality on a field that leads one, and
  // the account is the narrower); an endpoint's history.
  await deliveries.createIndex({ status: 1, nextAttemptAt: 1 });
  await deliveries.createIndex({ orderKey: 1, endpointId: 1, seq: 1 });
  await deliveries.createIndex({ endpointId: 1, createdAt: -1 });
  await deliveries.createIndex({ eventId: 1 });
}
