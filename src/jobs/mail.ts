// Emails sent by a job (bulk set-password or reset links, a console import's
// invitations): each recipient at most once, across instances that die mid-run.
//
// Recipients come from a source in a fixed order, and are sent in small batches:
//   1. the batch's recipients who get an email are recorded as in flight, with the
//      job's lease (a write only the holder can make);
//   2. for each, a link is issued and the email handed to this run's own mailer,
//      at the job's rate;
//   3. once the mailer is idle, every one of them has been accepted by the SMTP
//      server or given up on (then its link is discarded: a later run sends again);
//   4. the batch is committed: tallies, the position of its last recipient, and no
//      more in flight.
//
// If the instance dies between 1 and 4, the next run starts again at the last
// committed position and meets the in-flight recipients again. For each, the link
// says what happened before the death: no valid link, so no email left (it was never
// handed over, or the mail server refused it): it is sent now. A valid link, so the
// email was handed to a mailer that died with it, and it may or may not have
// reached the mail server: it is not sent again, and counted as "uncertain" with its
// address in the report (an operator can resend one from the console). We prefer an
// invitation that perhaps never arrived, said so, over one that arrives twice; at
// most one batch (BATCH) is uncertain per death.
//
// Tokens never rest in the database (only their hashes, in one_time_links): a
// resumed run issues new links, it never re-sends stored ones.
import { join } from 'node:path';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { User, UserModel } from '../db/models/user.ts';
import type { OneTimeLinks } from '../accounts/links.ts';
import { Mailer } from '../mail/mailer.ts';
import type { MessageData, MessageName } from '../mail/messages.ts';
import type { RequestContext } from '../accounts/audit.ts';
import { resendInvitation, sendPasswordReset, type PasswordFlowDeps } from '../accounts/password-links.ts';
import { AccountError } from '../accounts/errors.ts';

/** Recipients sent together between two commits: the mailer's default concurrency, so one round. */
export const BATCH = 4;
/** Addresses listed in a job's report, per kind (the counts cover all). */
export const MAX_LISTED = 1_000;
/**
 * Stopping: how long the batch in flight may still take (the mail server answering,
 * or a retry after a 4xx) before the run gives up on knowing, and leaves the batch
 * for the next run to resolve by its links.
 */
const STOP_GRACE_MS = 5_000;

export interface MailTally {
  /** Recipients the run will go through (known at the start for bulk mail; growing during an import). */
  total: number;
  /** Recipients gone through: sent + skipped + uncertain. */
  done: number;
  /** Emails handed to the mail server (failed ones included). */
  sent: number;
  /** Of those, refused for good by the mail server (their links were discarded: a re-run sends them again). */
  failed: number;
  /** Not sent: a link of that kind is still valid (sent earlier), or the account changed (a password was chosen). */
  skipped: number;
  /** Handed to a mailer whose instance died before it said what happened: perhaps delivered, not sent again. */
  uncertain: number;
}

export interface MailState extends MailTally {
  /** The source's position of the last recipient committed (null: from the start). */
  position: unknown;
  /** Recipients of the batch being sent (user ids), while it is in flight. */
  inFlight: { ids: string[]; since: Date } | null;
  /** The first MAX_LISTED addresses refused for good, and of uncertain fate. */
  failedTo: string[];
  uncertainTo: string[];
}

export function newMailState(total = 0): MailState {
  return { total, done: 0, sent: 0, failed: 0, skipped: 0, uncertain: 0, position: null, inFlight: null, failedTo: [], uncertainTo: [] };
}

export interface Recipient {
  /** Where the source resumes after this recipient. */
  position: unknown;
  userId: string;
  /** The account now (null: deleted since). */
  user: User | null;
}

/** What sending a job's emails uses. */
export interface JobMailDeps {
  /** For the run's own mailer: the same mail server and sender as the instance's. */
  config: Pick<Config, 'smtpUrl' | 'mailFrom' | 'dataDir' | 'issuer'>;
  log: Logger;
  passwords: PasswordFlowDeps;
  links: OneTimeLinks;
  users: UserModel;
}

export interface MailRun {
  services: JobMailDeps;
  purpose: 'invite' | 'reset';
  ratePerSecond: number;
  context: RequestContext;
  /** As committed by the last run (the job's field). */
  state: MailState;
  /** Recipients after `position`, in a fixed order. */
  recipients(position: unknown): AsyncIterable<Recipient>;
  /** Stores these fields of the state with the job's lease (throws when the lease is lost). */
  save(fields: Partial<MailState>): Promise<void>;
  /** Aborted when the instance stops: the run ends after committing its batch. */
  signal: AbortSignal;
}

/**
 * A mailer of the run's own: its idle() means "every email of this run has been
 * accepted or given up on", whatever the rest of the instance is sending, and it
 * remembers to whom it gave up.
 */
class RunMailer extends Mailer {
  readonly refused = new Set<string>();

  override send(name: MessageName, data: MessageData, options: { onFailed?: () => Promise<void> } = {}): void {
    const to = String(data?.to ?? '').trim();
    super.send(name, data, {
      onFailed: async () => {
        this.refused.add(to);
        await options.onFailed?.();
      },
    });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until every email handed to `mailer` is accepted or given up on; once the
 * instance is stopping, for STOP_GRACE_MS at most, then throws the stop (the batch
 * is not committed: the next run sees it in flight).
 */
async function settled(mailer: Mailer, signal: AbortSignal): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let start = () => {};
  const gaveUp = new Promise<boolean>((resolve) => {
    start = () => {
      timer = setTimeout(() => resolve(true), STOP_GRACE_MS);
    };
  });
  if (signal.aborted) start();
  else signal.addEventListener('abort', start, { once: true });
  try {
    if (await Promise.race([mailer.idle().then(() => false), gaveUp])) signal.throwIfAborted();
  } finally {
    signal.removeEventListener('abort', start);
    clearTimeout(timer);
  }
}
const listed = (list: string[], more: string[]) => [...list, ...more].slice(0, MAX_LISTED);

/** Goes through the recipients from the committed position; returns the final state. */
export async function sendJobMail(run: MailRun): Promise<MailState> {
  const { services, purpose, signal } = run;
  const state: MailState = { ...newMailState(), ...run.state };
  const { config, log } = services;
  const mailer = new RunMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, outboxDir: join(config.dataDir, 'outbox'), issuer: config.issuer, log });
  const deps = { ...services.passwords, mailer };
  const status = purpose === 'invite' ? 'invited' : 'active';
  const gap = 1000 / Math.max(run.ratePerSecond, 0.01);
  let nextAt = Date.now();

  // A run that died with a batch in flight: who of it may have been emailed already.
  const uncertain = new Set<string>();
  if (state.inFlight) {
    for (const id of state.inFlight.ids) if (await services.links.hasValid(id, purpose)) uncertain.add(id);
    if (uncertain.size) log.warn({ count: uncertain.size, purpose }, 'job mail: emails of a run that stopped may or may not have gone out; not sent again');
  }

  const sendBatch = async (batch: Recipient[]) => {
    if (!batch.length) return;
    const tally = { sent: 0, failed: 0, skipped: 0, uncertain: 0 };
    const uncertainTo: string[] = [];
    const failedTo: string[] = [];
    const toSend: User[] = [];
    for (const { userId, user } of batch) {
      if (uncertain.delete(userId)) {
        tally.uncertain++;
        uncertainTo.push(user?.email ?? userId);
      } else if (!user || user.status !== status || (await services.links.hasValid(userId, purpose))) {
        tally.skipped++;
      } else {
        toSend.push(user);
      }
    }
    if (toSend.length) await run.save({ inFlight: { ids: toSend.map((u) => u._id), since: new Date() } });
    for (const user of toSend) {
      const wait = nextAt - Date.now();
      if (wait > 0) await sleep(wait);
      nextAt = Math.max(nextAt, Date.now()) + gap;
      try {
        // Each in the account's own language, else the default (not the language of whoever started the run).
        const context = { ...run.context, locale: null };
        if (purpose === 'invite') await resendInvitation(deps, user, {}, context);
        else await sendPasswordReset(deps, user, context);
        tally.sent++;
      } catch (error) {
        if (!(error instanceof AccountError)) throw error;
        tally.skipped++; // chose a password meanwhile
      }
    }
    await settled(mailer, signal);
    for (const user of toSend) {
      if (mailer.refused.delete(user.email.trim())) {
        tally.failed++;
        failedTo.push(user.email);
      }
    }
    state.sent += tally.sent;
    state.failed += tally.failed;
    state.skipped += tally.skipped;
    state.uncertain += tally.uncertain;
    state.done += batch.length;
    state.position = batch.at(-1)!.position;
    state.inFlight = null;
    state.failedTo = listed(state.failedTo, failedTo);
    state.uncertainTo = listed(state.uncertainTo, uncertainTo);
    await run.save(state);
  };

  try {
    let batch: Recipient[] = [];
    for await (const recipient of run.recipients(state.position)) {
      batch.push(recipient);
      if (batch.length >= BATCH) {
        signal.throwIfAborted();
        await sendBatch(batch);
        batch = [];
      }
    }
    signal.throwIfAborted();
    await sendBatch(batch);
    return state;
  } finally {
    await mailer.close();
  }
}

/** Accounts matching `filter`, by _id, after `position` (an _id): bulk mail's recipients. */
export async function* accountsAfter(services: Pick<JobMailDeps, 'users'>, filter: Record<string, unknown>, position: unknown): AsyncIterable<Recipient> {
  const query = typeof position === 'string' ? { ...filter, _id: { $gt: position } } : filter;
  const cursor = services.users.collection.find(query as never).sort({ _id: 1 });
  try {
    for await (const doc of cursor) {
      const user = doc as unknown as User;
      yield { position: user._id, userId: user._id, user };
    }
  } finally {
    await cursor.close();
  }
}
