// CSV imports from the admin console. The upload (multipart/form-data, one file
// of at most 50 MB) is stored in MongoDB as it arrives; the import then runs as a
// job (accounts/import-jobs.ts) on whichever instance claims it (this one first),
// resumed by another if that one dies, and the POST answers 303 to the job's page
// once the file is stored, without waiting for the import.
//
// The form's fields come before its file (_csrf, upsert, invite, then file): the
// CSRF token is checked before a byte of the file is stored.
import { PassThrough } from 'node:stream';
import busboy from 'busboy';
import type { Context } from 'koa';
import type { AppDeps } from '../../deps.ts';
import { getImportJob, listImportJobs, rejectedRowsCsv, runState, startImportJob, type ImportJob } from '../../accounts/import-jobs.ts';
import { IMPORT_COLUMNS } from '../../accounts/import.ts';
import { AccountError } from '../../accounts/errors.ts';
import { HttpError } from '../http-error.ts';
import { formExpired, type Csrf } from '../middleware/csrf.ts';
import { adminContext, adminOf, emailsOf, formatDateTime, renderAdmin, tAdmin } from './page.ts';

export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;
/** The form's own parts (boundaries, headers, _csrf, upsert) on top of the file. */
const FORM_OVERHEAD_BYTES = 64 * 1024;
/** Uploads being stored at once by this instance (the imports themselves are jobs, paced by the runner). */
const MAX_UPLOADS = 2;
const JOB_ID = /^[0-9a-f-]{36}$/;

const TOO_LARGE = () => new HttpError(413, 'admin.error.tooLarge.title', 'admin.error.tooLarge.message');
/** Catalog keys (locales/en/admin.json) of a job's status, of where a running job stands (the phase and who holds it), and of its phase. */
const STATUS_TEXT: Record<string, string> = { running: 'admin.import.status.running', done: 'admin.import.status.done', failed: 'admin.import.status.failed' };
const RUN_TEXT: Record<NonNullable<ReturnType<typeof runState>>, string> = {
  uploading: 'admin.import.run.uploading',
  waiting: 'admin.import.run.waiting',
  running: 'admin.import.run.running',
  interrupted: 'admin.import.run.interrupted',
};
const PHASE_TEXT: Record<string, string> = { upload: 'admin.import.phase.upload', rows: 'admin.import.phase.rows', invitations: 'admin.import.phase.invitations' };

/** "3 sent of 5, 1 not needed (…), 1 refused by the mail server": the counts that are not zero. */
function invitationsText(invitations: NonNullable<ImportJob['invitations']>): string {
  return [
    tAdmin('admin.import.invitations.sent', { sent: invitations.sent, total: invitations.total }),
    invitations.skipped ? tAdmin('admin.import.invitations.skipped', { count: invitations.skipped }) : null,
    invitations.failed ? tAdmin('admin.import.invitations.failed', { count: invitations.failed }) : null,
    invitations.uncertain ? tAdmin('admin.import.invitations.uncertain', { count: invitations.uncertain }) : null,
  ].filter(Boolean).join(', ');
}

function jobView(job: ImportJob, emails: Map<string, string>) {
  const run = runState(job);
  const invitations = job.invitations ?? null;
  return {
    id: job._id,
    status: job.status,
    statusText: STATUS_TEXT[job.status] ? tAdmin(STATUS_TEXT[job.status]!) : job.status,
    runText: run ? tAdmin(RUN_TEXT[run]) : null,
    phaseText: job.status === 'running' && job.phase && PHASE_TEXT[job.phase] ? tAdmin(PHASE_TEXT[job.phase]!) : null,
    sendInvitations: Boolean(job.sendInvitations),
    invitations: invitations && {
      total: invitations.total, sent: invitations.sent, failed: invitations.failed, skipped: invitations.skipped,
      uncertain: invitations.uncertain, failedTo: invitations.failedTo ?? [], uncertainTo: invitations.uncertainTo ?? [],
    },
    invitationsText: invitations ? invitationsText(invitations) : null,
    fileName: job.fileName,
    upsert: job.upsert,
    startedBy: emails.get(job.startedBy) ?? job.startedBy,
    startedAt: formatDateTime(new Date(job.startedAt)),
    finishedAt: job.finishedAt ? formatDateTime(new Date(job.finishedAt)) : null,
    rows: job.rows, created: job.created, updated: job.updated, unchanged: job.unchanged,
    rejectedCount: job.rejectedCount,
    error: job.error,
  };
}

async function showImportsPage(ctx: Context, deps: AppDeps, errors: Record<string, string> = {}, status = 200): Promise<void> {
  const jobs = await listImportJobs(deps, 20);
  const emails = await emailsOf(deps, jobs.map((job) => job.startedBy));
  renderAdmin(ctx, 'imports', 'imports', {
    title: tAdmin('admin.imports.title'),
    jobs: jobs.map((job) => jobView(job, emails)),
    columns: IMPORT_COLUMNS,
    errors,
  }, status);
}

export function showImports(ctx: Context, deps: AppDeps): Promise<void> {
  return showImportsPage(ctx, deps);
}

async function findJob(ctx: Context, deps: AppDeps): Promise<ImportJob> {
  const id = ctx.params.id;
  const job = typeof id === 'string' && JOB_ID.test(id) ? await getImportJob(deps, id) : null;
  if (!job) throw new HttpError(404, 'admin.error.importNotFound.title', 'admin.error.importNotFound.message');
  return job;
}

export async function showJob(ctx: Context, deps: AppDeps): Promise<void> {
  const job = await findJob(ctx, deps);
  const emails = await emailsOf(deps, [job.startedBy]);
  renderAdmin(ctx, 'import', 'imports', {
    title: tAdmin('admin.import.heading'),
    job: jobView(job, emails),
    rejected: job.rejected.slice(0, 100),
    refresh: job.status === 'running',
  });
}

export async function downloadReport(ctx: Context, deps: AppDeps): Promise<void> {
  const job = await findJob(ctx, deps);
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Content-Disposition', `attachment; filename="import-${job._id}-rejected.csv"`);
  ctx.type = 'text/csv; charset=utf-8';
  ctx.body = rejectedRowsCsv(job.rejected);
}

type Outcome =
  | { kind: 'job'; id: string }
  | { kind: 'error'; error: unknown }
  | { kind: 'form'; errors: Record<string, string> };

const unreadable = () => new HttpError(400, 'errors.badRequest.title', 'admin.error.uploadUnreadable');

/** The form's fields beside its file. */
interface UploadFields {
  _csrf?: string;
  upsert?: string;
  invite?: string;
}

/**
 * POST /admin/imports: behind requireAdmin; reads its multipart body itself, so
 * the file streams into MongoDB instead of being buffered: refuse what cannot be
 * an upload, receive the form (CSRF checked before a byte of the file is
 * stored), then answer with the job's page.
 */
export function importUpload(deps: AppDeps, csrf: Pick<Csrf, 'accepts'>) {
  /** Uploads this instance is storing now: each holds a request and a GridFS stream open. */
  const receiving = { count: 0 };

  return async function submitImport(ctx: Context): Promise<void> {
    refuseBeforeReading(ctx, receiving.count);
    const csrfOk = (fields: UploadFields) => csrf.accepts(ctx, fields._csrf);
    const outcome = await receiveForm(ctx, openParser(ctx), csrfOk, async (fields, file, fileName, stored) => {
      if (!csrfOk(fields)) {
        stored.drop();
        return { kind: 'error', error: formExpired() };
      }
      return storeAsJob(deps, ctx, receiving, { fields, file, fileName, stored });
    });
    if (outcome.kind === 'form') return showImportsPage(ctx, deps, outcome.errors, 400);
    if (outcome.kind === 'error') throw outcome.error;
    ctx.status = 303;
    ctx.redirect(`/admin/imports/${outcome.id}`);
  };
}

/** Not multipart, announced larger than the limit, or this instance already busy storing uploads. */
function refuseBeforeReading(ctx: Context, receiving: number): void {
  if (!ctx.is('multipart/form-data')) throw new HttpError(415, 'errors.badRequest.title', 'admin.error.notAnUpload');
  const length = Number(ctx.get('content-length'));
  if (Number.isFinite(length) && length > MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES) throw TOO_LARGE();
  if (receiving >= MAX_UPLOADS) {
    throw new HttpError(429, 'admin.error.importsBusy.title', 'admin.error.importsBusy.message', { 'Retry-After': '10' });
  }
}

function openParser(ctx: Context): busboy.Busboy {
  try {
    return busboy({ headers: ctx.req.headers, limits: { fileSize: MAX_UPLOAD_BYTES, files: 1, fields: 5, fieldSize: 1024, parts: 8 } });
  } catch {
    throw unreadable();
  }
}

/** What storing the file gives: the job, or why there is none. */
type Store = (fields: UploadFields, file: PassThrough, fileName: string, stored: Storing) => Promise<Outcome>;

/** Control over the file being stored. */
interface Storing {
  /** Stores nothing more; the rest of the upload is read and dropped. */
  drop(): void;
  /** Whether the file went over the size limit. */
  tooLarge(): boolean;
}

/**
 * Reads the form: its fields, then its one file, handed to `store` as it arrives. The
 * storing can be stopped (too large, cut off), failing the job with nothing
 * imported, while the rest of the upload is still read and dropped. Resolves once
 * the whole request has been read.
 */
function receiveForm(ctx: Context, parser: busboy.Busboy, csrfOk: (fields: UploadFields) => boolean, store: Store): Promise<Outcome> {
  const fields: UploadFields = {};
  let started: Promise<Outcome> | null = null;
  let tooLarge = false;
  let malformed = false;

  return new Promise<Outcome>((resolve) => {
    const settle = async () => {
      if (started) {
        const outcome = await started;
        return resolve(outcome.kind === 'error' && tooLarge ? { kind: 'error', error: TOO_LARGE() } : outcome);
      }
      if (tooLarge) return resolve({ kind: 'error', error: TOO_LARGE() });
      if (malformed) return resolve({ kind: 'error', error: unreadable() });
      if (!csrfOk(fields)) return resolve({ kind: 'error', error: formExpired() });
      resolve({ kind: 'form', errors: { file: tAdmin('admin.imports.fileMissing') } });
    };

    parser.on('field', (name, value, info) => {
      if ((name === '_csrf' || name === 'upsert' || name === 'invite') && !info.valueTruncated) fields[name] = value;
    });
    for (const limit of ['partsLimit', 'filesLimit', 'fieldsLimit']) parser.on(limit, () => { malformed = true; });

    parser.on('file', (name, file, info) => {
      if (name !== 'file' || started || !info.filename) {
        file.resume();
        return;
      }
      const input = new PassThrough();
      file.pipe(input);
      const drop = () => {
        file.unpipe(input);
        file.resume();
      };
      const stop = (message: string) => {
        file.unpipe(input);
        input.destroy(new AccountError('upload', message));
        file.resume();
      };
      file.on('limit', () => {
        tooLarge = true;
        stop(tAdmin('admin.import.stopped.tooLarge'));
      });
      file.on('error', () => stop(tAdmin('admin.import.stopped.cutOff')));
      ctx.req.on('close', () => {
        if (!ctx.req.complete) stop(tAdmin('admin.import.stopped.interrupted'));
      });
      started = store(fields, input, info.filename, { drop, tooLarge: () => tooLarge });
    });

    // The body is all in once the request ends (the file stream buffers what the import has not read yet).
    // A turn later: the parser, fed the end after this listener, reports a malformed body first.
    ctx.req.on('end', () => setImmediate(() => void settle()));
    ctx.req.on('close', () => {
      if (!ctx.req.complete) void settle();
    });
    parser.on('error', () => {
      malformed = true;
      void settle();
    });
    ctx.req.pipe(parser);
  });
}

/** Stores the arriving file as a new import job of this admin; the job exists as soon as the upload starts. */
async function storeAsJob(
  deps: AppDeps,
  ctx: Context,
  receiving: { count: number },
  upload: { fields: UploadFields; file: PassThrough; fileName: string; stored: Storing },
): Promise<Outcome> {
  receiving.count++;
  let created: string | null = null;
  try {
    const id = await startImportJob(deps, upload.file, {
      startedBy: adminOf(ctx).user._id,
      upsert: upload.fields.upsert === 'yes',
      sendInvitations: upload.fields.invite === 'yes',
      fileName: upload.fileName,
      context: adminContext(ctx),
    }, (id) => (created = id));
    return { kind: 'job', id };
  } catch (error) {
    upload.stored.drop();
    // The job exists and says what happened (too large: answered 413).
    if (created && !upload.stored.tooLarge()) return { kind: 'job', id: created };
    return { kind: 'error', error };
  } finally {
    receiving.count--;
  }
}
