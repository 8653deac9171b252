// CSV imports started from the admin console, as jobs (src/jobs) that outlive the
// instance that runs them. The life of one:
//   1. upload: the instance receiving the file creates the job, holding it, and
//      stores the file in MongoDB (jobs/files.ts) as it arrives; then it lets go,
//      and any instance (itself first) claims it. An upload that fails (too large,
//      cut off) fails the job, with nothing imported.
//   2. rows: importUsers reads the stored file and commits after each batch of 500
//      rows, with the lease: counts, rejected rows, the last line done. Resumed by
//      another instance, it reads the file again from the start (for duplicates),
//      applies nothing before that line, and replays the one batch that may have
//      been half stored (accounts/import.ts says how that counts each row once).
//   3. invitations (when asked): the accounts created without a password get their
//      set-password links, each at most once (jobs/mail.ts); the accounts to invite
//      are stored per batch in `import_job_invites` as the rows are committed.
// Progress and outcome live in `import_jobs`, so the job page shows them from any
// instance; the page refreshes while the job runs.
import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Collection, Db } from 'mongodb';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { User } from '../db/models/user.ts';
import type { RequestContext } from './audit.ts';
import { importUsers, type BatchIntent, type ImportDeps, type RejectedRow } from './import.ts';
import { AccountError } from './errors.ts';
import type { JobDoc, JobKind, JobRunner } from '../jobs/runner.ts';
import { deleteJobFile, readJobFile, storeJobFile } from '../jobs/files.ts';
import { newMailState, sendJobMail, type JobMailDeps, type MailState, type Recipient } from '../jobs/mail.ts';

export const IMPORT_JOBS = 'import_jobs';
/** Per committed batch of an import that sends invitations: the accounts it created without a password. */
export const IMPORT_INVITES = 'import_job_invites';
export const IMPORT_JOB_KIND = 'import';
/** Jobs and their row reports are kept this long, then swept. */
export const JOB_RETENTION_MS = 30 * 86_400_000;
/** Rejected rows kept with a job (and so in its report); the count covers them all. */
export const MAX_REJECTED_KEPT = 10_000;
/**
 * Jobs written before imports had leases (no leaseUntil): a running one not updated
 * for this long belonged to a process that is gone, and reads as failed.
 */
export const STALE_AFTER_MS = 10 * 60_000;

export type ImportJobStatus = 'running' | 'done' | 'failed';
export type ImportPhase = 'upload' | 'rows' | 'invitations';

export interface ImportJob extends JobDoc {
  /** The admin's user id. */
  startedBy: string;
  startedAt: Date;
  /** When the sweeper removes the job and its report. */
  expiresAt: Date;
  fileName: string | null;
  upsert: boolean;
  /** Rows without a password keep theirs in the old system (ImportOptions.legacyPasswords); absent on older jobs. */
  legacyPasswords?: boolean;
  /** Email a set-password link to every account created without a password. */
  sendInvitations: boolean;
  /** Who and where, for the audit records of the import (actor admin:<id>), whichever instance runs it. */
  context: RequestContext;
  phase: ImportPhase;
  /** Bytes of the stored file. */
  size: number;
  /** Rows read so far (the final count once done). */
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  rejectedCount: number;
  rejected: RejectedRow[];
  /**
   * Where a resumed run starts: the last line done, how many import_job_invites documents
   * the job has written, and what the batch that may be half stored was about to update.
   */
  checkpoint: { line: number; inviteBatches: number; unfinished: BatchIntent | null };
  /** The invitations' progress (sendInvitations only). */
  invitations: MailState | null;
}

interface InviteBatch {
  _id: string;
  job: string;
  batch: number;
  accounts: Array<{ id: string; email: string }>;
  expiresAt: Date;
}

export function importJobs(db: Db): Collection<ImportJob> {
  return db.collection<ImportJob>(IMPORT_JOBS);
}

function invites(db: Db): Collection<InviteBatch> {
  return db.collection<InviteBatch>(IMPORT_INVITES);
}

/** The indexes the jobs' pages and clean-up use. */
export async function ensureImportJobIndexes(db: Db): Promise<void> {
  await importJobs(db).createIndex({ startedAt: -1 });
  await invites(db).createIndex({ job: 1 });
}

/** A job as its page shows it: one whose process stopped before leases reads as failed (never written). */
function asRead(job: ImportJob, now = Date.now()): ImportJob {
  if (job.status === 'running' && job.leaseUntil === undefined && now - new Date(job.updatedAt).getTime() > STALE_AFTER_MS) {
    return { ...job, status: 'failed', error: job.error ?? 'the import stopped without finishing (the server may have restarted); rows read before that were imported' };
  }
  return job;
}

/** What console imports use: an import, its invitations, and the job runner. */
export interface ImportJobDeps extends ImportDeps, JobMailDeps {
  db: Db;
  log: Logger;
  jobs: JobRunner;
  config: JobMailDeps['config'] & Pick<Config, 'jobs'>;
}

export async function getImportJob(services: Pick<ImportJobDeps, 'db'>, id: string): Promise<ImportJob | null> {
  const job = await importJobs(services.db).findOne({ _id: id });
  return job ? asRead(job) : null;
}

/** The newest jobs, without their rejected rows. */
export async function listImportJobs(services: Pick<ImportJobDeps, 'db'>, limit = 20): Promise<ImportJob[]> {
  const jobs = await importJobs(services.db).find({}, { projection: { rejected: 0 } }).sort({ startedAt: -1 }).limit(limit).toArray();
  const now = Date.now();
  return jobs.map((job) => asRead({ ...job, rejected: [] }, now));
}

/** What a job page says about who runs it. */
export function runState(job: ImportJob, now = Date.now()): 'uploading' | 'waiting' | 'running' | 'interrupted' | null {
  if (job.status !== 'running') return null;
  if (job.leaseUntil === undefined) return 'running'; // written before leases: run by the process that took the upload
  if (job.phase === 'upload') return 'uploading';
  if (!job.owner) return 'waiting';
  return new Date(job.leaseUntil).getTime() < now ? 'interrupted' : 'running';
}

export interface StartImportOptions {
  startedBy: string;
  upsert?: boolean;
  legacyPasswords?: boolean;
  sendInvitations?: boolean;
  fileName?: string | null;
  /** Who and where, for the audit records of the import (actor admin:<id>). */
  context?: RequestContext;
}

/**
 * Creates a job held by this instance and stores `input` as its file; then any
 * instance may run it (this one looks at once). Resolves with the job's id once the
 * file is stored. If the input fails (its error is an AccountError saying why, such
 * as "too large"), the job fails with that message, nothing imported, and the error
 * is thrown; `onCreated` has then already been told the id.
 */
export async function startImportJob(services: ImportJobDeps, input: Readable, options: StartImportOptions, onCreated: (id: string) => void = () => {}): Promise<string> {
  const now = new Date();
  const fileName = options.fileName?.slice(0, 200) ?? null;
  const held = await services.jobs.createHeld<ImportJob>(IMPORT_JOB_KIND, {
    _id: randomUUID(), startedBy: options.startedBy, startedAt: now, expiresAt: new Date(now.getTime() + JOB_RETENTION_MS),
    fileName, upsert: Boolean(options.upsert), legacyPasswords: Boolean(options.legacyPasswords), sendInvitations: Boolean(options.sendInvitations), context: options.context ?? {},
    phase: 'upload', size: 0, rows: 0, created: 0, updated: 0, unchanged: 0, rejectedCount: 0, rejected: [],
    checkpoint: { line: 0, inviteBatches: 0, unfinished: null }, invitations: options.sendInvitations ? newMailState(0) : null,
  });
  onCreated(held.id);
  let size: number;
  try {
    size = await storeJobFile(services.db, held.id, fileName ?? 'upload.csv', input);
  } catch (error) {
    const message = error instanceof AccountError ? error.message : 'the upload could not be stored; nothing was imported';
    if (!(error instanceof AccountError)) services.log.error({ err: error, job: held.id }, 'import upload not stored');
    await held.finish({ status: 'failed', error: message }).catch((e: unknown) => services.log.error({ err: e, job: held.id }, 'import job outcome not saved'));
    throw error;
  }
  await held.release({ phase: 'rows', size });
  return held.id;
}

/** A new account's id: the same for a row's email in every run of one job (so a replayed insert finds its own). */
function accountIdFor(jobId: string, emailNormalized: string): string {
  const hex = createHash('sha256').update(`${jobId}\n${emailNormalized}`).digest('hex');
  // Shaped as a UUID (version 8, "custom"), like every other account id.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function prefixed(field: string, values: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [`${field}.${key}`, value]));
}

/** The job kind every instance's runner knows. */
export function importJobKind(services: ImportJobDeps): JobKind<ImportJob> {
  const { db } = services;
  return {
    name: IMPORT_JOB_KIND,
    collection: importJobs(db),
    failureMessage: 'the import stopped because of an unexpected error; rows read before that were imported',
    async cleanUp(job) {
      await deleteJobFile(db, job._id);
      await invites(db).deleteMany({ job: job._id });
    },
    async run(context) {
      const job = { ...context.job };
      if (job.phase === 'upload') {
        // Its instance died while the file arrived: there is no whole file to import.
        return { status: 'failed', error: 'the upload did not finish (the server receiving it stopped); nothing was imported' };
      }
      if (job.phase === 'rows') {
        const failed = await importRows(services, job, context.update, context.signal);
        if (failed) return failed;
        job.phase = job.sendInvitations ? 'invitations' : job.phase;
        await context.update({ $set: { phase: job.phase, updatedAt: new Date() } });
        await deleteJobFile(db, job._id); // read for the last time
      }
      if (job.phase === 'invitations' && job.invitations) {
        const batches = job.checkpoint.inviteBatches;
        await sendJobMail({
          services,
          purpose: 'invite',
          ratePerSecond: services.config.jobs.mailRatePerSecond,
          context: job.context,
          state: job.invitations,
          recipients: (position) => invitesAfter(services, job._id, batches, position),
          save: (fields) => context.update({ $set: { ...prefixed('invitations', fields), updatedAt: new Date() } }),
          signal: context.signal,
        });
      }
      return { status: 'done', expiresAt: new Date(Date.now() + JOB_RETENTION_MS) };
    },
  };
}

type Update = (update: Record<string, unknown>) => Promise<void>;

/** The rows, from the checkpoint on; resolves with a failure to record, or null once all are done. */
async function importRows(services: ImportJobDeps, job: ImportJob, update: Update, signal: AbortSignal): Promise<{ status: 'failed'; error: string } | null> {
  const totals = { rows: job.rows, created: job.created, updated: job.updated, unchanged: job.unchanged, rejectedCount: job.rejectedCount };
  let kept = job.rejected.length;
  let batches = job.checkpoint.inviteBatches;
  let invited = job.invitations?.total ?? 0;
  const input = readJobFile(services.db, job._id);
  try {
    await importUsers(services, input, {
      upsert: job.upsert,
      legacyPasswords: job.legacyPasswords === true,
      context: job.context,
      signal,
      job: {
        doneThroughLine: job.checkpoint.line,
        unfinished: job.checkpoint.unfinished,
        accountId: (email) => accountIdFor(job._id, email),
        beforeWrite: (intent) => update({ $set: { 'checkpoint.unfinished': intent, updatedAt: new Date() } }),
        afterBatch: async (outcome) => {
          if (job.sendInvitations && outcome.invited.length) {
            // Before the commit: a batch replayed after a death here writes the same document again.
            const _id = `${job._id}:${batches}`;
            await invites(services.db).replaceOne({ _id }, { job: job._id, batch: batches, accounts: outcome.invited, expiresAt: job.expiresAt }, { upsert: true });
          }
          const next = {
            rows: outcome.rows,
            created: totals.created + outcome.created,
            updated: totals.updated + outcome.updated,
            unchanged: totals.unchanged + outcome.unchanged,
            rejectedCount: totals.rejectedCount + outcome.rejected.length,
          };
          const keep = outcome.rejected.slice(0, Math.max(0, MAX_REJECTED_KEPT - kept));
          const invitedNext = invited + outcome.invited.length;
          await update({
            $set: {
              ...next,
              checkpoint: { line: outcome.lastLine, inviteBatches: batches + (outcome.invited.length && job.sendInvitations ? 1 : 0), unfinished: null },
              ...(job.sendInvitations ? { 'invitations.total': invitedNext } : {}),
              updatedAt: new Date(),
            },
            ...(keep.length ? { $push: { rejected: { $each: keep } } } : {}),
          });
          Object.assign(totals, next);
          kept += keep.length;
          invited = invitedNext;
          if (outcome.invited.length && job.sendInvitations) batches++;
        },
      },
    });
  } catch (error) {
    if (error instanceof AccountError) {
      await update({ $set: { rows: totals.rows } }).catch(() => {});
      return { status: 'failed', error: error.message };
    }
    throw error;
  } finally {
    input.destroy();
  }
  job.checkpoint = { ...job.checkpoint, inviteBatches: batches };
  if (job.invitations) job.invitations = { ...job.invitations, total: invited };
  return null;
}

/** The accounts to invite, in commit order, after `position` ({batch, index}). */
async function* invitesAfter(services: ImportJobDeps, jobId: string, batches: number, position: unknown): AsyncIterable<Recipient> {
  const after = position as { batch: number; index: number } | null;
  for (let batch = after?.batch ?? 0; batch < batches; batch++) {
    const doc = await invites(services.db).findOne({ _id: `${jobId}:${batch}` });
    if (!doc) continue;
    for (let index = batch === after?.batch ? after.index + 1 : 0; index < doc.accounts.length; index++) {
      const { id } = doc.accounts[index]!;
      const user = await services.users.collection.findOne({ _id: id } as never) as unknown as User | null;
      yield { position: { batch, index }, userId: id, user };
    }
  }
}

/** A cell a spreadsheet will not run as a formula, quoted when it needs to be (RFC 4180). */
export function csvCell(value: string | number | null | undefined): string {
  let text = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  if (/[",\r\n]/.test(text)) text = `"${text.replace(/"/g, '""')}"`;
  return text;
}

/** The rejected rows as CSV (line,email,reason), with a BOM so spreadsheets read it as UTF-8. */
export function rejectedRowsCsv(rows: RejectedRow[]): string {
  const lines = ['line,email,reason', ...rows.map((row) => [row.line, row.email, row.reason].map(csvCell).join(','))];
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}
