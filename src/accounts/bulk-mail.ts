// Emailing many accounts: set-password links to every account without a password,
// or reset links to all active accounts (or one). Throttled, and a job in MongoDB
// (`mail_jobs`, run by src/jobs): whichever process runs it (the CLI that asked, or
// any server) holds it under a lease, and if that process dies another one resumes
// it where it stopped, never emailing anyone twice (jobs/mail.ts says how, and what
// "uncertain" means). Across runs: an account that still has a valid link of that
// kind is skipped, so a re-run emails no one twice.
import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import type { RequestContext } from './audit.ts';
import { normalizeEmail } from './email.ts';
import { newJobFields, type JobDoc, type JobKind, type JobRunner } from '../jobs/runner.ts';
import { accountsAfter, newMailState, sendJobMail, type JobMailDeps, type MailState } from '../jobs/mail.ts';

export const MAIL_JOBS = 'mail_jobs';
export const MAIL_JOB_KIND = 'bulk-mail';
/** Bulk mail jobs are kept this long (their report), then swept. */
export const MAIL_JOB_RETENTION_MS = 30 * 86_400_000;

export interface BulkProgress {
  total: number;
  /** Accounts gone through: sent + skipped + uncertain. */
  done: number;
  /** Emails handed to the mail server (refused ones included: see failed). */
  sent: number;
  skipped: number;
  /** Of those sent, refused for good by the mail server (their links were discarded: a re-run sends them again). */
  failed: number;
  /** The instance sending them stopped before it knew: perhaps delivered, not sent again (listed in uncertainTo). */
  uncertain: number;
}

export interface BulkResult extends BulkProgress {
  jobId: string;
  /** False when this process stopped before the job ended (it carries on elsewhere, or was cancelled). */
  finished: boolean;
  status: JobDoc['status'];
  error: string | null;
  failedTo: string[];
  uncertainTo: string[];
}

export interface BulkOptions {
  /** Messages per second at most. */
  ratePerSecond: number;
  context?: RequestContext;
  onProgress?: (progress: BulkProgress) => void;
}

type Target = { all: true } | { email: string };

export interface MailJob extends JobDoc {
  purpose: 'invite' | 'reset';
  /** 'invite:all', 'reset:all' or 'reset:<email>': a second request for the same joins a running job. */
  target: string;
  ratePerSecond: number;
  context: RequestContext;
  startedAt: Date;
  expiresAt: Date;
  mail: MailState;
}

export function mailJobs(db: Db): Collection<MailJob> {
  return db.collection<MailJob>(MAIL_JOBS);
}

function filterFor(target: string): Record<string, unknown> {
  if (target === 'invite:all') return { status: 'invited' };
  if (target === 'reset:all') return { status: 'active' };
  return { emailNormalized: target.slice('reset:'.length), status: 'active' };
}

/** The job kind the runner of every process knows. */
/** What bulk mail uses: the job's emails, its collection, and the job runner. */
export interface BulkMailDeps extends JobMailDeps {
  db: Db;
  jobs: JobRunner;
}

export function mailJobKind(services: BulkMailDeps): JobKind<MailJob> {
  return {
    name: MAIL_JOB_KIND,
    collection: mailJobs(services.db),
    failureMessage: 'the run stopped because of an unexpected error; accounts emailed before that have a valid link and are skipped by a re-run',
    async run(context) {
      const { job } = context;
      const filter = filterFor(job.target);
      const mail = await sendJobMail({
        services,
        purpose: job.purpose,
        ratePerSecond: job.ratePerSecond,
        context: job.context,
        state: job.mail,
        recipients: (position) => accountsAfter(services, filter, position),
        save: (fields) => context.update({ $set: { ...prefixed('mail', fields), updatedAt: new Date() } }),
        signal: context.signal,
      });
      return { status: 'done', mail };
    },
  };
}

function prefixed(field: string, values: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [`${field}.${key}`, value]));
}

/**
 * Queues a bulk mail job, or finds the one already running for the same target (a
 * re-run after a crash continues it rather than starting a second one).
 */
export async function enqueueBulkMail(services: BulkMailDeps, purpose: 'invite' | 'reset', target: Target, options: Pick<BulkOptions, 'ratePerSecond' | 'context'>): Promise<{ id: string; joined: boolean }> {
  const key = purpose === 'invite' ? 'invite:all' : 'all' in target ? 'reset:all' : `reset:${normalizeEmail(target.email)}`;
  const jobs = mailJobs(services.db);
  const running = await jobs.findOne({ status: 'running', target: key }, { sort: { startedAt: 1 } });
  if (running) return { id: running._id, joined: true };
  const now = new Date();
  const job: MailJob = {
    _id: randomUUID(), ...newJobFields(now), purpose, target: key, ratePerSecond: options.ratePerSecond,
    context: options.context ?? {}, startedAt: now, expiresAt: new Date(now.getTime() + MAIL_JOB_RETENTION_MS),
    mail: newMailState(await services.users.countDocuments(filterFor(key))),
  };
  await jobs.insertOne(job);
  return { id: job._id, joined: false };
}

const progressOf = (mail: MailState): BulkProgress => ({
  total: mail.total, done: mail.done, sent: mail.sent, skipped: mail.skipped, failed: mail.failed, uncertain: mail.uncertain,
});

/** Sees job `id` through from this process (services.jobs.drive), reporting progress; resolves when it ends or this process stops. */
export async function runBulkMail(services: BulkMailDeps, id: string, onProgress?: (progress: BulkProgress) => void): Promise<BulkResult> {
  const job = await services.jobs.drive<MailJob>(MAIL_JOB_KIND, id, (seen) => onProgress?.(progressOf(seen.mail)));
  return {
    ...progressOf(job.mail), jobId: id, finished: job.status !== 'running', status: job.status, error: job.error,
    failedTo: job.mail.failedTo, uncertainTo: job.mail.uncertainTo,
  };
}

async function run(services: BulkMailDeps, purpose: 'invite' | 'reset', target: Target, options: BulkOptions): Promise<BulkResult> {
  const { id } = await enqueueBulkMail(services, purpose, target, options);
  return runBulkMail(services, id, options.onProgress);
}

/** `password:set`: a set-password link to every account that has never chosen a password. */
export function sendSetPasswordLinks(services: BulkMailDeps, options: BulkOptions): Promise<BulkResult> {
  return run(services, 'invite', { all: true }, options);
}

/** `password:reset`: reset links to every active account, or to one address. */
export function sendResetLinks(services: BulkMailDeps, target: Target, options: BulkOptions): Promise<BulkResult> {
  return run(services, 'reset', target, options);
}
