// The delivery loop. Every instance runs one; only the instance holding the
// lease "webhooks" (jobs/lease.ts) delivers, renewing it as it goes, and hands it
// back when it stops so another takes over at once. Step by step, each pass:
//
//   1. reads the due deliveries (pending, nextAttemptAt passed), in seq order;
//   2. groups them by endpoint and account: each group is sent one at a time, in
//      order, and a group whose earlier delivery is still pending (waiting for a
//      retry) waits for it, so an account's events never overtake each other;
//   3. claims each delivery before sending it (a conditional write with a token and
//      claimUntil, past the attempt's timeout), so no other sender touches it;
//   4. sends it, and records the outcome with a write conditioned on that claim:
//      delivered; or a retry after an exponential backoff (with jitter); or, once
//      the delivery's day is over, failed, with the last answer kept.
//   5. An endpoint that gave no answer at all (no connection, a timeout) is down:
//      its other groups wait until that delivery's retry instead of each paying a
//      connection attempt or a timeout, so one dead endpoint does not hold up the
//      deliveries to the others. An HTTP error is the delivery's own (the receiver
//      may refuse one event and take the next): only that account's group waits.
//
// Exactly once per endpoint while instances live: a delivery is sent only under a
// claim, and never again once recorded as delivered. An instance that dies after
// the receiver answered but before recording it leaves a claim that runs out: the
// delivery is then sent again with the same webhook-id, which receivers can use to
// notice (at-least-once). Only an operator's redelivery sends a delivered one again.
import { randomBytes } from 'node:crypto';
import type { Db } from 'mongodb';
import type { Logger } from '../log.ts';
import { LEASES, takeLease, type LeaseDoc } from '../jobs/lease.ts';
import type { WebhookCollections, WebhookDeliveryDoc, WebhookEndpointDoc } from '../db/models/webhook.ts';
import type { DataVault } from '../secrets.ts';
import { isDatabaseUnavailable } from '../db/connection.ts';
import { attemptDelivery, DELIVERY_TIMEOUT_MS } from './delivery.ts';
import { endpointSecret, reencryptSecretIfNeeded } from './endpoints.ts';
import { KEEP_FINISHED_MS, RETRY_FOR_MS } from './outbox.ts';

export const LEASE_NAME = 'webhooks';

/** Timings of the loop; every one has a default for production, and tests make them short. */
export interface DeliveryTiming {
  /** One attempt, answer included (DELIVERY_TIMEOUT_MS: 10 s). */
  timeoutMs: number;
  /** The first retry's delay; each further one doubles it (10 s, 20 s, 40 s, ...). */
  retryBaseMs: number;
  /** The longest delay between two attempts (1 hour). */
  retryMaxMs: number;
  /** How long an event is retried before it is marked failed (RETRY_FOR_MS: a day). */
  retryForMs: number;
  /** How often an idle lease holder looks for due deliveries, and others try for the lease (JOB_POLL_MS). */
  pollMs: number;
  /** The lease's length (JOB_LEASE_MS) and how often the holder renews it (JOB_HEARTBEAT_MS). */
  leaseMs: number;
  heartbeatMs: number;
}

export const DEFAULT_TIMING: Omit<DeliveryTiming, 'pollMs' | 'leaseMs' | 'heartbeatMs'> = {
  timeoutMs: DELIVERY_TIMEOUT_MS,
  retryBaseMs: 10_000,
  retryMaxMs: 3_600_000,
  retryForMs: RETRY_FOR_MS,
};

/** Due deliveries read per pass. */
const PASS_SIZE = 200;
/** Groups (endpoint and account) sent at the same time. */
const CONCURRENCY = 8;
/** A claim outlives its attempt's timeout by this much, for recording the outcome. */
const CLAIM_GRACE_MS = 5_000;

/** The delay before retry number `attempts` (1 = the first retry): doubling, capped, ±20% jitter so retries of many events spread. */
export function retryDelay(attempts: number, timing: Pick<DeliveryTiming, 'retryBaseMs' | 'retryMaxMs'>, random = Math.random()): number {
  const plain = Math.min(timing.retryBaseMs * 2 ** Math.min(attempts - 1, 30), timing.retryMaxMs);
  return Math.round(plain * (0.8 + random * 0.4));
}

export interface DispatcherDeps {
  db: Db;
  collections: WebhookCollections;
  vault: Pick<DataVault, 'encrypt' | 'decrypt' | 'needsReencryption'>;
  log: Logger;
  /** The instance's id (the job runner's owner). */
  owner: string;
  timing: DeliveryTiming;
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, ms);
  timer.unref();
  signal.addEventListener('abort', () => {
    clearTimeout(timer);
    resolve();
  }, { once: true });
});

export class WebhookDispatcher {
  readonly #deps: DispatcherDeps;
  readonly #log: Logger;
  readonly #stopped = new AbortController();
  #wake: () => void = () => {};
  #loop: Promise<void> | undefined;
  #holding = false;
  /** Set by kick(): an event arrived during a pass, so look again before sleeping. */
  #kicked = false;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Endpoints that did not answer, and until when their deliveries wait (step 5). */
  readonly #downUntil = new Map<string, Date>();

  constructor(deps: DispatcherDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ component: 'webhooks' });
  }

  /** Whether this instance holds the lease now (tests look). */
  get holdsLease(): boolean {
    return this.#holding;
  }

  start(): void {
    if (this.#loop || this.#stopped.signal.aborted) return;
    this.#loop = this.#run();
  }

  /** An event was just recorded here: look now rather than at the next poll. */
  kick(): void {
    this.#kicked = true;
    this.#wake();
  }

  /** Finishes the attempts in flight, then hands the lease back. */
  async stop(): Promise<void> {
    this.#stopped.abort();
    this.#wake();
    await this.#loop;
    clearInterval(this.#heartbeat);
    if (this.#holding) {
      this.#holding = false;
      await this.#deps.db.collection<LeaseDoc>(LEASES).updateOne({ _id: LEASE_NAME, owner: this.#deps.owner }, { $set: { until: new Date(0) } })
        .catch((error: unknown) => this.#log.warn({ err: (error as Error).message }, 'webhook lease not handed back'));
    }
  }

  async #run(): Promise<void> {
    const { signal } = this.#stopped;
    while (!signal.aborted) {
      let busy = false;
      this.#kicked = false;
      try {
        if (await this.#holdLease()) busy = await this.pass();
      } catch (error) {
        if (!isDatabaseUnavailable(error)) this.#log.error({ err: error }, 'webhook delivery pass failed');
      }
      if (busy || this.#kicked || signal.aborted) continue;
      // ±20% so instances started together do not poll in step.
      const delay = Math.round(this.#deps.timing.pollMs * (0.8 + Math.random() * 0.4));
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        void sleep(delay, signal).then(resolve);
      });
      this.#wake = () => {};
    }
  }

  /** Takes the lease, or renews it when held; keeps it renewed while passes run. */
  async #holdLease(): Promise<boolean> {
    const { db, owner, timing } = this.#deps;
    if (this.#holding) {
      this.#holding = await this.#renew();
      if (!this.#holding) this.#log.info('webhook lease lost to another instance');
    } else if (await takeLease(db, LEASE_NAME, owner, timing.leaseMs)) {
      this.#holding = true;
      this.#log.debug('webhook lease taken');
      clearInterval(this.#heartbeat);
      this.#heartbeat = setInterval(() => {
        if (!this.#holding) return clearInterval(this.#heartbeat);
        void this.#renew().then((held) => {
          this.#holding &&= held;
        }, (error: unknown) => this.#log.warn({ err: (error as Error).message }, 'webhook lease not renewed'));
      }, timing.heartbeatMs);
      this.#heartbeat.unref();
    }
    return this.#holding;
  }

  async #renew(): Promise<boolean> {
    const { db, owner, timing } = this.#deps;
    const result = await db.collection<LeaseDoc>(LEASES).updateOne(
      { _id: LEASE_NAME, owner, until: { $gt: new Date() } }, { $set: { until: new Date(Date.now() + timing.leaseMs) } },
    );
    return result.matchedCount === 1;
  }

  /** One pass over the due deliveries; true when it sent something (look again at once). */
  async pass(): Promise<boolean> {
    const { deliveries } = this.#deps.collections;
    const now = new Date();
    const due = await deliveries.find({ status: 'pending', nextAttemptAt: { $lte: now } }).sort({ seq: 1 }).limit(PASS_SIZE).toArray();
    if (!due.length) return false;
    const groups = new Map<string, WebhookDeliveryDoc[]>();
    for (const delivery of due) {
      const key = `${delivery.endpointId}\n${delivery.orderKey}`;
      groups.set(key, [...(groups.get(key) ?? []), delivery]);
    }
    const endpoints = new Map<string, Promise<WebhookEndpointDoc | null>>();
    const endpointOf = (id: string) => endpoints.get(id) ?? endpoints.set(id, this.#deps.collections.endpoints.findOne({ _id: id })).get(id)!;
    let sent = 0;
    const queue = [...groups.values()];
    const worker = async () => {
      for (let group = queue.shift(); group; group = queue.shift()) sent += await this.#sendGroup(group, endpointOf);
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
    return sent > 0;
  }

  /** One endpoint's due deliveries for one account, in order; stops at the first that fails. Returns how many were attempted. */
  async #sendGroup(group: WebhookDeliveryDoc[], endpointOf: (id: string) => Promise<WebhookEndpointDoc | null>): Promise<number> {
    const { deliveries } = this.#deps.collections;
    const head = group[0]!;
    const down = this.#downUntil.get(head.endpointId);
    if (down && down.getTime() > Date.now()) {
      await this.#postpone(head, down, true);
      return 0;
    }
    // An earlier delivery of this account still waits for a retry (or is being sent): this group waits behind it.
    // orderKey first: the embedded database narrows by the first equality that leads an index.
    const earlier = await deliveries.findOne(
      { orderKey: head.orderKey, endpointId: head.endpointId, status: 'pending', seq: { $lt: head.seq } },
      { sort: { seq: 1 }, projection: { nextAttemptAt: 1 } },
    );
    if (earlier) {
      await this.#postpone(head, earlier.nextAttemptAt, true);
      return 0;
    }
    let attempted = 0;
    for (const delivery of group) {
      if (this.#stopped.signal.aborted || !this.#holding) break;
      const outcome = await this.#deliver(delivery, endpointOf);
      if (outcome === 'skipped') break;
      attempted++;
      if (outcome === 'retry') {
        const retried = await deliveries.findOne({ _id: delivery._id }, { projection: { nextAttemptAt: 1 } });
        if (retried) await this.#postpone(delivery, retried.nextAttemptAt);
        break;
      }
    }
    return attempted;
  }

  /**
   * The account's later deliveries to this endpoint (and `from` itself when `including`)
   * are not due before `until`, when the one they wait for is retried.
   */
  async #postpone(from: WebhookDeliveryDoc, until: Date, including = false): Promise<void> {
    if (until.getTime() <= Date.now()) return;
    await this.#deps.collections.deliveries.updateMany(
      { orderKey: from.orderKey, endpointId: from.endpointId, status: 'pending', seq: including ? { $gte: from.seq } : { $gt: from.seq }, nextAttemptAt: { $lt: until } },
      { $set: { nextAttemptAt: until } },
    );
  }

  async #deliver(delivery: WebhookDeliveryDoc, endpointOf: (id: string) => Promise<WebhookEndpointDoc | null>): Promise<'delivered' | 'retry' | 'failed' | 'skipped'> {
    const { collections: { deliveries }, timing } = this.#deps;
    const now = new Date();
    const claim = randomBytes(12).toString('base64url');
    const claimed = await deliveries.findOneAndUpdate(
      { _id: delivery._id, status: 'pending', nextAttemptAt: { $lte: now }, claimUntil: { $lt: now } },
      { $set: { claim, claimUntil: new Date(now.getTime() + timing.timeoutMs + CLAIM_GRACE_MS) } },
      { returnDocument: 'after' },
    );
    if (!claimed) return 'skipped';
    const mine = { _id: delivery._id, claim };
    const endpoint = await endpointOf(delivery.endpointId);
    if (!endpoint) {
      // Deleted meanwhile (deleting removes its outbox; this one was read just before).
      await deliveries.deleteOne(mine);
      return 'skipped';
    }
    let secret: string;
    try {
      secret = endpointSecret(this.#deps, endpoint);
      await reencryptSecretIfNeeded(this.#deps, endpoint, secret).catch((error: unknown) => this.#log.warn({ endpoint: endpoint._id, err: (error as Error).message }, 'webhook secret not re-encrypted'));
    } catch (error) {
      this.#log.error({ endpoint: endpoint._id, err: (error as Error).message }, 'webhook secret cannot be decrypted (DATA_KEYS changed?)');
      const lastResponse = { at: now, status: null, body: '', error: 'the endpoint\'s secret cannot be decrypted with the configured DATA_KEYS', durationMs: 0 };
      return this.#recordFailure(claimed, mine, lastResponse);
    }
    const result = await attemptDelivery({ url: endpoint.url, secret, eventId: claimed.eventId, body: claimed.body, timeoutMs: timing.timeoutMs });
    const { ok, ...lastResponse } = result;
    if (ok) {
      this.#downUntil.delete(endpoint._id);
      const at = new Date();
      const recorded = await deliveries.updateOne(mine, {
        $set: { status: 'delivered', deliveredAt: at, lastResponse, claim: null, claimUntil: new Date(0), expiresAt: new Date(at.getTime() + KEEP_FINISHED_MS) },
        $inc: { attempts: 1 },
      });
      if (!recorded.matchedCount) this.#log.warn({ delivery: delivery._id }, 'webhook delivered after its claim ran out');
      return 'delivered';
    }
    this.#log.warn({ delivery: delivery._id, endpoint: endpoint._id, status: lastResponse.status, error: lastResponse.error, attempt: claimed.attempts + 1 }, 'webhook attempt failed');
    const outcome = await this.#recordFailure(claimed, mine, lastResponse);
    if (lastResponse.status === null && outcome === 'retry') {
      const retried = await deliveries.findOne({ _id: delivery._id }, { projection: { nextAttemptAt: 1 } });
      if (retried) this.#downUntil.set(endpoint._id, retried.nextAttemptAt);
    }
    return outcome;
  }

  async #recordFailure(delivery: WebhookDeliveryDoc, mine: { _id: string; claim: string }, lastResponse: WebhookDeliveryDoc['lastResponse']): Promise<'retry' | 'failed'> {
    const { collections: { deliveries }, timing } = this.#deps;
    const attempts = delivery.attempts + 1;
    const at = Date.now();
    const nextAttemptAt = new Date(at + retryDelay(attempts, timing));
    if (nextAttemptAt > delivery.deadlineAt) {
      await deliveries.updateOne(mine, {
        $set: { status: 'failed', attempts, lastResponse, claim: null, claimUntil: new Date(0), expiresAt: new Date(at + KEEP_FINISHED_MS) },
      });
      this.#log.warn({ delivery: delivery._id, endpoint: delivery.endpointId, attempts }, 'webhook delivery failed for good');
      return 'failed';
    }
    await deliveries.updateOne(mine, { $set: { attempts, nextAttemptAt, lastResponse, claim: null, claimUntil: new Date(0) } });
    return 'retry';
  }
}
