// Webhooks as one service for the surfaces (console, admin API, CLI): the
// endpoint registry, the outbox and the delivery loop, wired to the database,
// DATA_KEYS and the job timings. The audit trail feeds it (deps.ts).
import type { Db } from 'mongodb';
import type { Logger } from '../log.ts';
import type { DataVault } from '../secrets.ts';
import type { DeliveryStatus } from '../db/models/webhook.ts';
import { webhookCollections, type WebhookCollections } from '../db/models/webhook.ts';
import type { RecordedAuditEvent, WebhookPayload } from './events.ts';
import {
  createEndpoint, deleteEndpoint, getEndpoint, listEndpoints, rotateEndpointSecret, updateEndpoint,
  type EndpointDeps, type EndpointView, type NewEndpoint,
} from './endpoints.ts';
import { getDelivery, listDeliveries, recordEvents, recordPayloads, redeliver, type DeliveryView, type OutboxDeps } from './outbox.ts';
import { DEFAULT_TIMING, WebhookDispatcher, type DeliveryTiming } from './dispatcher.ts';

export interface WebhookOptions {
  db: Db;
  vault: Pick<DataVault, 'encrypt' | 'decrypt' | 'needsReencryption'>;
  log: Logger;
  production: boolean;
  owner: string;
  jobs: { pollMs: number; leaseMs: number; heartbeatMs: number };
}

export class Webhooks {
  readonly collections: WebhookCollections;
  /** The loop's timings: tests shorten them on a running server (they are read at each use). */
  readonly timing: DeliveryTiming;
  readonly dispatcher: WebhookDispatcher;
  readonly #log: Logger;
  readonly #endpointDeps: EndpointDeps;

  constructor(options: WebhookOptions) {
    this.collections = webhookCollections(options.db);
    this.timing = { ...DEFAULT_TIMING, ...options.jobs };
    this.#log = options.log;
    this.#endpointDeps = { collections: this.collections, vault: options.vault, production: options.production };
    this.dispatcher = new WebhookDispatcher({
      db: options.db, collections: this.collections, vault: options.vault, log: options.log, owner: options.owner, timing: this.timing,
    });
  }

  get #outbox(): OutboxDeps {
    return { collections: this.collections, retryForMs: this.timing.retryForMs };
  }

  /** The audit trail's follower: the webhook events of these records go into the outbox. Never throws. */
  async record(records: readonly RecordedAuditEvent[]): Promise<void> {
    try {
      if (await recordEvents(this.#outbox, records)) this.dispatcher.kick();
    } catch (error) {
      this.#log.error({ err: error, events: records.map((r) => r.event) }, 'webhook events not recorded in the outbox');
    }
  }

  /** Events that come from elsewhere than the audit trail (import.finished). Never throws. */
  async recordPayloads(events: readonly WebhookPayload[]): Promise<void> {
    try {
      if (await recordPayloads(this.#outbox, events)) this.dispatcher.kick();
    } catch (error) {
      this.#log.error({ err: error, events: events.map((e) => e.type) }, 'webhook events not recorded in the outbox');
    }
  }

  create(input: NewEndpoint, actor: string): Promise<{ endpoint: EndpointView; secret: string }> {
    return createEndpoint(this.#endpointDeps, input, actor);
  }

  list(): Promise<EndpointView[]> {
    return listEndpoints(this.#endpointDeps);
  }

  get(id: string): Promise<EndpointView> {
    return getEndpoint(this.#endpointDeps, id);
  }

  update(id: string, input: { url?: string; events?: readonly string[]; description?: string }): Promise<EndpointView> {
    return updateEndpoint(this.#endpointDeps, id, input);
  }

  remove(id: string): Promise<void> {
    return deleteEndpoint(this.#endpointDeps, id);
  }

  rotateSecret(id: string): Promise<string> {
    return rotateEndpointSecret(this.#endpointDeps, id);
  }

  async deliveries(endpointId: string, filter: { status?: DeliveryStatus; limit?: number } = {}): Promise<DeliveryView[]> {
    await this.get(endpointId);
    return listDeliveries(this.#outbox, endpointId, filter);
  }

  delivery(id: string): Promise<DeliveryView> {
    return getDelivery(this.#outbox, id);
  }

  async redeliver(id: string): Promise<DeliveryView> {
    const view = await redeliver(this.#outbox, id);
    this.dispatcher.kick();
    return view;
  }
}
