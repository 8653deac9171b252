// Background jobs that outlive the instance running them. A job is a document in
// MongoDB; whichever instance claims it holds it under a lease and does the work
// in steps, each committed to the document with a write that only lands while
// the lease is still its own. If the instance dies, its lease runs out and
// another instance claims the job and resumes it from the last committed step.
//
// The life of a job, step by step:
//   1. Created with status 'running' and leaseUntil in the past: anyone may claim it
//      (or held at once by its creator, as an upload is while it arrives).
//   2. Claimed: one findOneAndUpdate on {status: 'running', leaseUntil < now} sets
//      owner (the instance, for people), lease (a token for this claim) and leaseUntil.
//      Two instances racing for one job: the database applies one update first, and
//      the other no longer matches.
//   3. Held: a heartbeat pushes leaseUntil forward every heartbeatMs. Every write of
//      the job's handler is conditioned on {_id, lease}: once another instance has
//      claimed the job, they match nothing, the handler is told (LeaseLost) and stops.
//   4. Finished: status 'done' or 'failed', lease cleared. Or released, when the
//      instance stops gracefully: lease cleared and leaseUntil in the past, so another
//      instance resumes at once instead of after the lease.
//
// What the runner cannot do for a handler: make a step's side effects happen once.
// A handler that dies between doing a step and committing it is replayed from the
// previous commit, so each step must be safe to replay (accounts/import.ts keys new
// accounts by an id fixed per job; jobs/mail.ts never re-sends an email whose fate
// is unknown).
//
// Clocks: leases compare the claimer's clock with the holder's. Keep instances'
// clocks in sync (NTP); a skew must stay well below leaseMs - heartbeatMs.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Collection, Filter, UpdateFilter } from 'mongodb';
import type { Logger } from '../log.ts';
import { isDatabaseUnavailable } from '../db/connection.ts';

/** What the runner keeps in every job document, beside the handler's own fields. */
export interface JobDoc {
  _id: string;
  /** 'running' until finished: claimable whenever leaseUntil has passed. */
  status: 'running' | 'done' | 'failed';
  /** The instance holding the job (host:pid:random), or null. */
  owner: string | null;
  /** This claim's token: every write of the holder is conditioned on it. */
  lease: string | null;
  leaseUntil: Date;
  heartbeatAt: Date | null;
  /** Claims that did not end in a release: a job that kills every instance it runs on is given up on. */
  attempts: number;
  updatedAt: Date;
  finishedAt: Date | null;
  /** Why a failed job stopped, in words safe to show. */
  error: string | null;
}

/** The runner's fields for a new job: running, claimable at once by anyone. */
export function newJobFields(now = new Date()): Pick<JobDoc, 'status' | 'owner' | 'lease' | 'leaseUntil' | 'heartbeatAt' | 'attempts' | 'updatedAt' | 'finishedAt' | 'error'> {
  return { status: 'running', owner: null, lease: null, leaseUntil: new Date(0), heartbeatAt: null, attempts: 0, updatedAt: now, finishedAt: null, error: null };
}

/** This instance no longer holds the job: another claimed it after our lease ran out. */
export class LeaseLost extends Error {
  override name = 'LeaseLost';
}

/** The instance is stopping: the handler committed what it had and hands the job back. */
export class JobStopped extends Error {
  override name = 'JobStopped';
}

/** Someone here cancelled the job (the CLI's Ctrl-C): the handler committed what it had, and the job ends as failed. */
export class JobCancelled extends Error {
  override name = 'JobCancelled';
}

export type JobOutcome<J extends JobDoc> = Partial<Omit<J, keyof JobDoc>> & { status: 'done' | 'failed'; error?: string | null };

export interface JobContext<J extends JobDoc> {
  /** The job as claimed (its checkpoint is where to resume). */
  readonly job: J;
  readonly owner: string;
  /** Aborted when the instance stops (reason JobStopped), the job is cancelled here (JobCancelled) or the lease is lost (LeaseLost). */
  readonly signal: AbortSignal;
  /** A write to the job that lands only while this claim holds it; throws LeaseLost otherwise. */
  update(update: UpdateFilter<J>): Promise<void>;
  /** Throws the signal's reason once the instance is stopping or the lease is lost. */
  check(): void;
}

export interface JobKind<J extends JobDoc> {
  /** Also the label in logs. */
  name: string;
  collection: Collection<J>;
  /**
   * Runs the job, or resumes it from its checkpoint. Resolves with the fields that
   * finish it; throws the signal's reason to hand it back when stopping. Any other
   * error fails the job with `failureMessage` (or is retried later when the
   * database was unreachable).
   */
  run(context: JobContext<J>): Promise<JobOutcome<J>>;
  /** Shown for a job stopped by an unexpected error. */
  failureMessage: string;
  /** After the job is finished (done or failed), by whoever finished it: drop what it kept (uploads). */
  cleanUp?(job: J): Promise<void>;
}

export interface RunnerOptions {
  log: Logger;
  leaseMs: number;
  heartbeatMs: number;
  pollMs: number;
  /** Jobs this instance runs at once (default 2). */
  concurrency?: number;
  /** Claims that ended without a release before the job is failed (default 5). */
  maxAttempts?: number;
}

/** A job this instance created and holds until it lets others run it (createHeld). */
export interface HeldJob<J extends JobDoc> {
  id: string;
  /** A write that lands only while this instance still holds the job. */
  update(update: UpdateFilter<J>): Promise<void>;
  /** Lets any instance run it now, setting these fields with the release. */
  release(set?: Partial<J>): Promise<void>;
  /** Finishes it without running it (the upload failed). */
  finish(outcome: JobOutcome<J>): Promise<void>;
}

/** host:pid:random — unique per runner, and says where to look. */
export function instanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => {
    clearTimeout(timer);
    resolve();
  }, { once: true });
});

export class JobRunner {
  readonly owner = instanceId();
  readonly #options: Required<RunnerOptions>;
  readonly #log: Logger;
  readonly #kinds = new Map<string, JobKind<any>>();
  /** Jobs running here, by id, with what settles once each is finished or handed back. */
  readonly #running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #started = false;
  #stopping = false;
  readonly #stopped = new AbortController();

  constructor(options: RunnerOptions) {
    this.#options = { concurrency: 2, maxAttempts: 5, ...options };
    this.#log = options.log.child({ component: 'jobs', owner: this.owner });
  }

  register<J extends JobDoc>(kind: JobKind<J>): this {
    this.#kinds.set(kind.name, kind);
    return this;
  }

  /** Indexes for claiming (status + leaseUntil); cheap to repeat. */
  async prepare(): Promise<void> {
    for (const kind of this.#kinds.values()) await kind.collection.createIndex({ status: 1, leaseUntil: 1 });
  }

  /** Looks for claimable jobs now and then every pollMs, until stop(). */
  start(): this {
    if (this.#started || this.#stopping) return this;
    this.#started = true;
    this.kick();
    return this;
  }

  /** Looks for work now (a job was just created here), then keeps the usual pace. */
  kick(): void {
    if (!this.#started || this.#stopping) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#polling ??= this.#poll().finally(() => {
      this.#polling = undefined;
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#stopping || this.#timer) return;
    // ±20% so instances started together do not poll in step.
    const delay = Math.round(this.#options.pollMs * (0.8 + Math.random() * 0.4));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.kick();
    }, delay);
    this.#timer.unref();
  }

  async #poll(): Promise<void> {
    for (const kind of this.#kinds.values()) {
      while (!this.#stopping && this.#running.size < this.#options.concurrency) {
        let claimed: JobDoc | null;
        try {
          claimed = await this.#claim(kind);
        } catch (error) {
          if (!isDatabaseUnavailable(error)) this.#log.error({ err: error, kind: kind.name }, 'claiming a job failed');
          return;
        }
        if (!claimed) break;
        this.#launch(kind, claimed);
      }
    }
  }

  /** Claims one claimable job of this kind (or this one job), or returns null. */
  async #claim<J extends JobDoc>(kind: JobKind<J>, id?: string): Promise<J | null> {
    const now = new Date();
    const filter = {
      status: 'running', leaseUntil: { $lt: now },
      ...(id ? { _id: id } : this.#running.size ? { _id: { $nin: [...this.#running.keys()] } } : {}),
    } as Filter<J>;
    const lease = randomBytes(12).toString('base64url');
    const job = await kind.collection.findOneAndUpdate(filter, {
      $set: { owner: this.owner, lease, leaseUntil: new Date(now.getTime() + this.#options.leaseMs), heartbeatAt: now },
      $inc: { attempts: 1 },
    } as unknown as UpdateFilter<J>, { sort: { leaseUntil: 1 }, returnDocument: 'after' });
    return (job as J | null) ?? null;
  }

  #launch<J extends JobDoc>(kind: JobKind<J>, job: J): Promise<void> {
    const abort = new AbortController();
    const done = this.#hold(kind, job, abort).finally(() => {
      this.#running.delete(job._id);
      // A slot is free: look for more work soon.
      if (!this.#stopping && this.#started) this.kick();
    });
    this.#running.set(job._id, { abort, done });
    return done;
  }

  /** Runs a claimed job to its end, or until stopped or outbid; never throws. */
  async #hold<J extends JobDoc>(kind: JobKind<J>, job: J, abort: AbortController): Promise<void> {
    const { collection } = kind;
    const log = this.#log.child({ job: job._id, kind: kind.name });
    const mine = { _id: job._id, lease: job.lease } as Filter<J>;
    let leaseUntil = job.leaseUntil.getTime();
    const lost = () => {
      if (!abort.signal.aborted) abort.abort(new LeaseLost(`job ${job._id} was claimed by another instance`));
    };

    const heartbeat = setInterval(() => {
      const now = Date.now();
      const until = new Date(now + this.#options.leaseMs);
      collection.updateOne(mine, { $set: { leaseUntil: until, heartbeatAt: new Date(now) } } as unknown as UpdateFilter<J>).then((result) => {
        if (result.matchedCount === 0) lost();
        else leaseUntil = until.getTime();
      }, (error: unknown) => {
        log.warn({ err: (error as Error).message }, 'job heartbeat failed');
        // Past our lease another instance may already run the job: stop touching it.
        if (Date.now() >= leaseUntil) lost();
      });
    }, this.#options.heartbeatMs);
    heartbeat.unref();

    const context: JobContext<J> = {
      job,
      owner: this.owner,
      signal: abort.signal,
      update: async (update) => {
        if (abort.signal.reason instanceof LeaseLost) throw abort.signal.reason;
        const result = await collection.updateOne(mine, update);
        if (result.matchedCount === 0) {
          lost();
          throw new LeaseLost(`job ${job._id} was claimed by another instance`);
        }
      },
      check: () => abort.signal.throwIfAborted(),
    };

    try {
      if (job.attempts > this.#options.maxAttempts) {
        log.error({ attempts: job.attempts }, 'job given up: every instance that ran it stopped without finishing');
        await this.#finish(kind, job, mine, { status: 'failed', error: `it stopped without finishing ${job.attempts - 1} times (the instances running it ended); it was not tried again` } as JobOutcome<J>);
        return;
      }
      log.info({ attempts: job.attempts }, 'job claimed');
      const outcome = await kind.run(context);
      clearInterval(heartbeat);
      await this.#finish(kind, job, mine, outcome);
      log.info({ status: outcome.status }, 'job finished');
    } catch (error) {
      clearInterval(heartbeat);
      const reason = error instanceof LeaseLost ? error : abort.signal.reason ?? error;
      if (reason instanceof LeaseLost) {
        log.warn('job lost to another instance (this one missed its lease); stopped');
      } else if (reason instanceof JobStopped) {
        await this.#release(collection, mine, 0, log);
        log.info('job handed back (instance stopping)');
      } else if (reason instanceof JobCancelled) {
        await this.#finish(kind, job, mine, { status: 'failed', error: reason.message } as JobOutcome<J>).catch((e: unknown) => log.error({ err: e }, 'job outcome not saved'));
        log.info('job cancelled');
      } else if (isDatabaseUnavailable(error)) {
        // Try again later, here or elsewhere; the attempt does not count.
        await this.#release(collection, mine, this.#options.pollMs, log);
        log.warn({ err: (error as Error).message }, 'job paused: the database is unreachable');
      } else {
        log.error({ err: error }, 'job failed');
        await this.#finish(kind, job, mine, { status: 'failed', error: kind.failureMessage } as JobOutcome<J>).catch((e: unknown) => log.error({ err: e }, 'job outcome not saved'));
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  async #finish<J extends JobDoc>(kind: JobKind<J>, job: J, mine: Filter<J>, outcome: JobOutcome<J>): Promise<void> {
    const now = new Date();
    const result = await kind.collection.updateOne(mine, {
      $set: { ...outcome, error: outcome.error ?? null, owner: null, lease: null, finishedAt: now, updatedAt: now },
    } as unknown as UpdateFilter<J>);
    if (result.matchedCount === 0) throw new LeaseLost(`job ${job._id} was claimed by another instance before it finished`);
    await kind.cleanUp?.(job).catch((error: unknown) => this.#log.warn({ err: error, job: job._id }, 'job clean-up failed'));
  }

  /** Hands a job back: claimable again after `delayMs`, and the claim does not count as an attempt. */
  async #release<J extends JobDoc>(collection: Collection<J>, mine: Filter<J>, delayMs: number, log: Logger): Promise<void> {
    await collection.updateOne(mine, {
      $set: { owner: null, lease: null, leaseUntil: new Date(Date.now() + delayMs) },
      $inc: { attempts: -1 },
    } as unknown as UpdateFilter<J>).catch((error: unknown) => log.warn({ err: (error as Error).message }, 'job not handed back; it is claimable when its lease runs out'));
  }

  /**
   * Sees one job through from here: runs it whenever it is claimable (new, handed
   * back, or its holder gone), otherwise waits while another instance runs it.
   * Resolves with the job once it is finished, or as it stands once stop() is called.
   * `onTick` sees the job at every look (progress).
   */
  async drive<J extends JobDoc>(kindName: string, id: string, onTick: (job: J) => void = () => {}, tickMs = 500): Promise<J> {
    const kind = this.#kinds.get(kindName) as JobKind<J> | undefined;
    if (!kind) throw new Error(`no job kind ${kindName}`);
    const read = async () => {
      const job = await kind.collection.findOne({ _id: id } as Filter<J>) as J | null;
      if (!job) throw new Error(`no job ${id}`);
      return job;
    };
    for (;;) {
      let job = await read();
      onTick(job);
      if (job.status !== 'running' || this.#stopping) return job;
      if (job.leaseUntil.getTime() < Date.now() && !this.#running.has(id)) {
        const claimed = await this.#claim(kind, id);
        if (claimed) {
          const done = this.#launch(kind, claimed);
          // Progress while it runs here.
          while (this.#running.has(id)) {
            await Promise.race([done, sleep(tickMs)]);
            job = await read();
            onTick(job);
          }
          continue;
        }
      }
      await sleep(Math.min(tickMs, this.#options.pollMs), this.#stopped.signal);
    }
  }

  /** Whether this instance is running that job now. */
  isRunning(id: string): boolean {
    return this.#running.has(id);
  }

  /** Ends a job running here after its current step, as failed with `reason`; false when it does not run here. */
  cancel(id: string, reason: string): boolean {
    const running = this.#running.get(id);
    if (!running) return false;
    if (!running.abort.signal.aborted) running.abort.abort(new JobCancelled(reason));
    return true;
  }

  /**
   * A new job held by this instance from the start, before any instance may run it
   * (an upload being stored). The heartbeat keeps it; `release()` lets any instance
   * claim it at once (this one first: it looks straight away); if this instance dies
   * first, the lease runs out and the next claimer finds the job as it was left.
   */
  async createHeld<J extends JobDoc>(kindName: string, fields: Omit<J, keyof JobDoc> & { _id: string }): Promise<HeldJob<J>> {
    const kind = this.#kinds.get(kindName) as JobKind<J> | undefined;
    if (!kind) throw new Error(`no job kind ${kindName}`);
    const now = new Date();
    const lease = randomBytes(12).toString('base64url');
    const doc = { ...newJobFields(now), ...fields, owner: this.owner, lease, leaseUntil: new Date(now.getTime() + this.#options.leaseMs), heartbeatAt: now, attempts: 1 } as unknown as J;
    await kind.collection.insertOne(doc as never);
    const mine = { _id: fields._id, lease } as Filter<J>;
    const heartbeat = setInterval(() => {
      const at = Date.now();
      void kind.collection.updateOne(mine, { $set: { leaseUntil: new Date(at + this.#options.leaseMs), heartbeatAt: new Date(at) } } as unknown as UpdateFilter<J>)
        .catch((error: unknown) => this.#log.warn({ err: (error as Error).message, job: fields._id }, 'job heartbeat failed'));
    }, this.#options.heartbeatMs);
    heartbeat.unref();
    const update = async (set: UpdateFilter<J>) => {
      const result = await kind.collection.updateOne(mine, set);
      if (result.matchedCount === 0) throw new LeaseLost(`job ${fields._id} is no longer held here`);
    };
    return {
      id: fields._id,
      update,
      release: async (set = {}) => {
        clearInterval(heartbeat);
        await update({ $set: { ...set, owner: null, lease: null, leaseUntil: new Date(0), attempts: 0, updatedAt: new Date() } } as unknown as UpdateFilter<J>);
        this.kick();
      },
      finish: async (outcome) => {
        clearInterval(heartbeat);
        const at = new Date();
        await update({ $set: { ...outcome, error: outcome.error ?? null, owner: null, lease: null, finishedAt: at, updatedAt: at } } as unknown as UpdateFilter<J>);
        await kind.cleanUp?.(doc).catch((error: unknown) => this.#log.warn({ err: error, job: fields._id }, 'job clean-up failed'));
      },
    };
  }

  /**
   * Graceful stop: no new claims; each running job commits what it has, and is handed
   * back so another instance resumes it at once. Resolves when all are.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#stopped.abort();
    clearTimeout(this.#timer);
    await this.#polling;
    for (const { abort } of this.#running.values()) {
      if (!abort.signal.aborted) abort.abort(new JobStopped('the instance is stopping'));
    }
    await Promise.all([...this.#running.values()].map(({ done }) => done));
  }
}
