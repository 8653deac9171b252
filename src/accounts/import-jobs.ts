// CSV imports started from the admin console, as jobs: the import runs after the
// upload's response, and its progress and outcome live in `import_jobs` so the
// job page (any server, any reload) can show them. A job whose process died
// stops being updated; reading it then says it failed.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Collection, Db } from 'mongodb';
import type { Services } from '../deps.ts';
import type { RequestContext } from './audit.ts';
import { importUsers, type RejectedRow } from './import.ts';
import { AccountError } from './users.ts';

export const IMPORT_JOBS = 'import_jobs';
/** Jobs and their row reports are kept this long, then swept. */
export const JOB_RETENTION_MS = 30 * 86_400_000;
/** Rejected rows kept with a job (and so in its report); the count covers them all. */
export const MAX_REJECTED_KEPT = 10_000;
/** A running job not updated for this long belongs to a process that is gone. */
export const STALE_AFTER_MS = 10 * 60_000;
/** Progress is written at most this often. */
const PROGRESS_EVERY_MS = 500;
/** While a job runs, its updatedAt is refreshed this often even when no row finishes (a slow upload). */
const HEARTBEAT_MS = 60_000;

export type ImportJobStatus = 'running' | 'done' | 'failed';

export interface ImportJob {
  _id: string;
  /** The admin's user id. */
  startedBy: string;
  startedAt: Date;
  /** The last write of any kind: progress, heartbeat or the outcome. */
  updatedAt: Date;
  finishedAt: Date | null;
  /** When the sweeper removes the job and its report. */
  expiresAt: Date;
  status: ImportJobStatus;
  fileName: string | null;
  upsert: boolean;
  /** Rows read so far (the final count once done). */
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  rejectedCount: number;
  rejected: RejectedRow[];
  /** Why a failed job stopped, in words safe to show. */
  error: string | null;
}

export function importJobs(db: Db): Collection<ImportJob> {
  return db.collection<ImportJob>(IMPORT_JOBS);
}

const indexed = new WeakSet<Db>();
async function ensureIndex(db: Db): Promise<void> {
  if (indexed.has(db)) return;
  await importJobs(db).createIndex({ startedAt: -1 });
  indexed.add(db);
}

/** A running job whose process stopped updating it is reported as failed (computed here, never written). */
function asRead(job: ImportJob, now = Date.now()): ImportJob {
  if (job.status === 'running' && now - new Date(job.updatedAt).getTime() > STALE_AFTER_MS) {
    return { ...job, status: 'failed', error: job.error ?? 'the import stopped without finishing (the server may have restarted); rows read before that were imported' };
  }
  return job;
}

export async function getImportJob(services: Pick<Services, 'db'>, id: string): Promise<ImportJob | null> {
  const job = await importJobs(services.db).findOne({ _id: id });
  return job ? asRead(job) : null;
}

/** The newest jobs, without their rejected rows. */
export async function listImportJobs(services: Pick<Services, 'db'>, limit = 20): Promise<ImportJob[]> {
  await ensureIndex(services.db);
  const jobs = await importJobs(services.db).find({}, { projection: { rejected: 0 } }).sort({ startedAt: -1 }).limit(limit).toArray();
  const now = Date.now();
  return jobs.map((job) => asRead({ ...job, rejected: [] }, now));
}

export interface StartImportOptions {
  startedBy: string;
  upsert?: boolean;
  fileName?: string | null;
  /** Who and where, for the audit records of the import (actor admin:<id>). */
  context?: RequestContext;
}

/**
 * Records a running job and starts importing `input` into it. Returns once the job
 * exists; `done` settles (never rejects) when the import has finished or failed.
 */
export async function startImportJob(services: Services, input: Readable, options: StartImportOptions): Promise<{ id: string; done: Promise<ImportJob> }> {
  await ensureIndex(services.db);
  const jobs = importJobs(services.db);
  const now = new Date();
  const job: ImportJob = {
    _id: randomUUID(), startedBy: options.startedBy, startedAt: now, updatedAt: now, finishedAt: null, status: 'running',
    expiresAt: new Date(now.getTime() + JOB_RETENTION_MS),
    fileName: options.fileName?.slice(0, 200) ?? null, upsert: Boolean(options.upsert),
    rows: 0, created: 0, updated: 0, unchanged: 0, rejectedCount: 0, rejected: [], error: null,
  };
  await jobs.insertOne(job);
  return { id: job._id, done: run(services, job, input, options) };
}

async function run(services: Services, job: ImportJob, input: Readable, options: StartImportOptions): Promise<ImportJob> {
  const jobs = importJobs(services.db);
  const { log } = services;
  const running = { _id: job._id, status: 'running' as const };
  let rowsDone = 0;
  let lastWrite = 0;
  let writing: Promise<unknown> | null = null;
  const write = (set: Partial<ImportJob>) => jobs.updateOne(running, { $set: { ...set, updatedAt: new Date() } })
    .catch((error: unknown) => log.warn({ err: error, job: job._id }, 'import job progress not saved'));

  const onProgress = (rows: number) => {
    rowsDone = rows;
    const now = Date.now();
    if (writing || now - lastWrite < PROGRESS_EVERY_MS) return;
    lastWrite = now;
    writing = write({ rows }).finally(() => {
      writing = null;
    });
  };
  const heartbeat = setInterval(() => void write({ rows: rowsDone }), HEARTBEAT_MS);
  heartbeat.unref();

  let outcome: Partial<ImportJob>;
  try {
    const report = await importUsers(services, input, { upsert: options.upsert, context: options.context, onProgress });
    outcome = {
      status: 'done', rows: report.rows, created: report.created, updated: report.updated, unchanged: report.unchanged,
      rejectedCount: report.rejected.length, rejected: report.rejected.slice(0, MAX_REJECTED_KEPT),
    };
  } catch (error) {
    const known = error instanceof AccountError;
    if (!known) log.error({ err: error, job: job._id }, 'import job failed');
    outcome = { status: 'failed', rows: rowsDone, error: known ? error.message : 'the import stopped because of an unexpected error; rows read before that were imported' };
  } finally {
    clearInterval(heartbeat);
  }
  await writing;
  const finishedAt = new Date();
  await jobs.updateOne({ _id: job._id }, { $set: { ...outcome, finishedAt, updatedAt: finishedAt, expiresAt: new Date(finishedAt.getTime() + JOB_RETENTION_MS) } })
    .catch((error: unknown) => log.error({ err: error, job: job._id }, 'import job outcome not saved'));
  return { ...job, ...outcome, finishedAt, updatedAt: finishedAt };
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
