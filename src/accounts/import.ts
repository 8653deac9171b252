// Bulk provisioning from CSV: streamed, validated row by row, inserted in batches.
// Columns: email (required), name, password, password_hash, must_change, groups.
// Re-running a file changes nothing twice: existing accounts are left alone, or
// with --upsert updated only where a value differs; a password is only ever set
// on an account that has none.
import { parse, type CsvError } from 'csv-parse';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { User, UserModel } from '../db/models/user.ts';
import type { AuditTrail } from './audit.ts';
import type { OneTimeLinks } from './links.ts';
import type { PasswordHasher } from './passwords.ts';
import type { PasswordContext, PasswordIssue, PasswordPolicy } from './password-policy.ts';
import { PolicyWorker } from './policy-worker.ts';
import { emailSchema, normalizeEmail } from './email.ts';
import { isImportableHash } from './passwords.ts';
import { AccountError } from './errors.ts';
import { searchTermsFor } from './users.ts';
import type { RequestContext } from './audit.ts';

export const IMPORT_COLUMNS = ['email', 'name', 'password', 'password_hash', 'must_change', 'groups'] as const;
type Column = (typeof IMPORT_COLUMNS)[number];

export interface RejectedRow {
  line: number;
  email: string | null;
  reason: string;
}

export interface ImportReport {
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  rejected: RejectedRow[];
}

export interface ImportOptions {
  upsert?: boolean;
  /**
   * Rows without a password or hash keep theirs in the old system (policy legacyMigration):
   * created with passwordHeldByLegacy and no invitation; the first sign-in asks the old
   * system and keeps the password it verifies (accounts/legacy-migration.ts).
   */
  legacyPasswords?: boolean;
  context?: RequestContext;
  onProgress?: (rowsDone: number) => void;
  /**
   * Rows in flight at once: each waits for its policy verdict, then hashes with argon2 on
   * libuv's pool. 3 (measured on 2 cores with the checks on their worker: 2 and 4 no better).
   */
  hashConcurrency?: number;
  /** Stops the import between rows and before a batch's writes (the instance is stopping): importUsers throws its reason. */
  signal?: AbortSignal;
  /** The import runs as a job that may be resumed by another instance (accounts/import-jobs.ts). */
  job?: ImportJobHooks;
}

/**
 * What a job needs to resume an import where an earlier run stopped, counting every
 * row once. The job commits a checkpoint after each batch (afterBatch). A batch that
 * an instance was storing when it died may be partly stored; the next run replays it:
 * - its new accounts have ids fixed by the job (accountId), so an insert that went in
 *   before finds its own account: created, by this job, not "unchanged";
 * - its updates were announced before they were made (beforeWrite → unfinished), so an
 *   update that went in before still counts as updated, not "unchanged".
 * The returned report then covers only the rows after doneThroughLine; the job keeps the totals.
 */
export interface ImportJobHooks {
  /** Rows up to this line were imported and counted by an earlier run: read again (for duplicates), not applied. */
  doneThroughLine: number;
  /** What beforeWrite announced for the batch an earlier run left unfinished, if it did. */
  unfinished: BatchIntent | null;
  /** The id a row's new account gets: the same in every run of the job. */
  accountId(emailNormalized: string): string;
  /** Before a batch's writes: what it is about to update (the job stores it). Throwing stops the import. */
  beforeWrite(intent: BatchIntent): Promise<void>;
  /** After a batch (and once at the end of the file): what it did. Throwing stops the import. */
  afterBatch(outcome: BatchOutcome): Promise<void>;
}

export interface BatchIntent {
  /** The batch's last line. */
  lastLine: number;
  /** Accounts it updates. */
  updated: string[];
}

export interface BatchOutcome {
  /** Everything up to this line is done (the batch's last line, or the file's at the end). */
  lastLine: number;
  /** Rows read up to lastLine, from the start of the file. */
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  /** Rows refused since the previous outcome, up to lastLine, in line order. */
  rejected: RejectedRow[];
  /** Accounts created without a password (invited), for the invitations. */
  invited: Array<{ id: string; email: string }>;
}

const BATCH = 500;
const UPDATES_PER_WRITE = 50;
// Large enough for any real row (a 10 MB line is read, then refused by the field checks); bounds memory.
const MAX_LINE_BYTES = 16 * 1024 * 1024;
// A cell a spreadsheet would run as a formula when someone opens an export of it.
const FORMULA = /^[=+\-@\t\r]/;
const GROUP = /^[\w .:@/-]{1,64}$/;
const BOOLEAN: Record<string, boolean> = { '': false, true: true, false: false, yes: true, no: false, '1': true, '0': false, y: true, n: false };

export interface Row {
  line: number;
  email: string;
  emailNormalized: string;
  name: string | null;
  password: string | null;
  passwordHash: string | null;
  mustChange: boolean;
  groups: string[] | null;
}

/** One CSV record as a row to store, or the reason it is rejected (the rules of the import, without a database). */
export function validateRow(record: Partial<Record<Column, string>>, line: number): Row | RejectedRow {
  const reject = (reason: string): RejectedRow => ({ line, email: typeof record.email === 'string' ? record.email.slice(0, 254) : null, reason });
  for (const [column, value] of Object.entries(record)) {
    if (typeof value === 'string' && value.includes('\uFFFD')) return reject(`${column} is not valid UTF-8 (save the file as UTF-8)`);
  }
  const email = emailSchema.safeParse(record.email ?? '');
  if (!email.success) return reject(record.email ? 'email is not a valid address' : 'email is missing');
  const name = (record.name ?? '').trim();
  if (name.length > 200) return reject('name is longer than 200 characters');
  if (FORMULA.test(name)) return reject('name starts like a spreadsheet formula (=, +, -, @)');
  const flag = (record.must_change ?? '').trim().toLowerCase();
  if (!Object.hasOwn(BOOLEAN, flag)) return reject('must_change must be true or false');
  const mustChange = BOOLEAN[flag]!;
  const password = record.password ? record.password : null;
  const passwordHash = record.password_hash ? record.password_hash.trim() : null;
  if (password && passwordHash) return reject('give password or password_hash, not both');
  if (passwordHash && !isImportableHash(passwordHash)) return reject('password_hash is not an argon2 or bcrypt hash');
  if (mustChange && !password && !passwordHash) return reject('must_change needs a password');
  let groups: string[] | null = null;
  if (record.groups !== undefined && record.groups.trim() !== '') {
    groups = [...new Set(record.groups.split(/[;|]/).map((g) => g.trim()).filter(Boolean))];
    const bad = groups.find((g) => FORMULA.test(g) || !GROUP.test(g));
    if (bad !== undefined) return reject(`group "${bad.slice(0, 40)}" is not allowed (letters, digits, spaces and . _ : @ / - only)`);
    if (groups.length > 50) return reject('more than 50 groups');
  }
  return { line, email: email.data, emailNormalized: normalizeEmail(email.data), name: name || null, password, passwordHash, mustChange, groups };
}

const SKIP_REASONS: Record<string, string> = {
  CSV_MAX_RECORD_SIZE: `line longer than ${MAX_LINE_BYTES / 1024 / 1024} MiB`,
  CSV_RECORD_INCONSISTENT_COLUMNS: 'a different number of fields than the header',
  CSV_RECORD_INCONSISTENT_FIELDS_LENGTH: 'a different number of fields than the header',
  CSV_INVALID_CLOSING_QUOTE: 'a quote is not closed properly',
  CSV_QUOTE_NOT_CLOSED: 'a quote is never closed',
  INVALID_OPENING_QUOTE: 'a quote inside a field that is not quoted (quote the whole field and double inner quotes)',
  CSV_INVALID_OPENING_QUOTE: 'a quote inside a field that is not quoted (quote the whole field and double inner quotes)',
};

const isRejected = (row: Row | RejectedRow): row is RejectedRow => 'reason' in row;

/** Below this many passwords in a batch they are checked on this thread: a worker takes a few tenths of a second to start. */
const WORKER_MIN_PASSWORDS = 32;

/** Where an import's passwords are checked: on a worker thread (policy-worker.ts) from the first batch with many, else here. */
class PasswordChecks {
  readonly #policy: PasswordPolicy;
  #worker: PolicyWorker | null = null;

  constructor(policy: PasswordPolicy) {
    this.#policy = policy;
  }

  /** Starts checking the passwords; each verdict is awaited by the row's own task, in any order. */
  start(passwords: Array<{ password: string; context: PasswordContext }>): Array<() => Promise<PasswordIssue[]>> {
    if (!this.#worker && passwords.length < WORKER_MIN_PASSWORDS) {
      return passwords.map(({ password, context }) => async () => this.#policy.check(password, context));
    }
    this.#worker ??= new PolicyWorker(this.#policy.rules);
    return passwords.map(({ password, context }) => {
      const verdict = this.#worker!.check(password, context);
      verdict.catch(() => undefined); // a stopped import leaves some unread: not an unhandled rejection
      return () => verdict;
    });
  }

  async close(): Promise<void> {
    await this.#worker?.close();
  }
}

/** Runs `task` over `items` with at most `limit` at once. */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

/** What an import uses. */
export interface ImportDeps {
  users: UserModel;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  links: OneTimeLinks;
  audit: AuditTrail;
  /** How long an imported temporary password (must_change) works. */
  temporaryPasswordMs: number;
}

export async function importUsers(services: ImportDeps, input: Readable, options: ImportOptions = {}): Promise<ImportReport> {
  const report: ImportReport = { rows: 0, created: 0, updated: 0, unchanged: 0, rejected: [] };
  const seen = new Map<string, number>();
  let headerChecked = false;
  const { job } = options;
  const doneThroughLine = job?.doneThroughLine ?? 0;

  const parser = parse({
    bom: true,
    columns: (header: string[]) => {
      const columns = header.map((h) => h.trim().toLowerCase());
      const unknown = columns.filter((c) => !(IMPORT_COLUMNS as readonly string[]).includes(c));
      if (!columns.includes('email')) throw new AccountError('bad_header', `the first line must name the columns, including email (found: ${columns.join(', ').slice(0, 200)})`);
      if (unknown.length) throw new AccountError('bad_header', `unknown column(s): ${unknown.join(', ').slice(0, 200)}; known: ${IMPORT_COLUMNS.join(', ')}`);
      if (new Set(columns).size !== columns.length) throw new AccountError('bad_header', 'a column is named twice');
      headerChecked = true;
      return columns;
    },
    skip_empty_lines: true,
    trim: false,
    // A stray quote inside a field is kept as text (then judged like any other value),
    // rather than throwing the parser off for the rest of the file.
    relax_quotes: true,
    max_record_size: MAX_LINE_BYTES,
    skip_records_with_error: true,
    info: true,
  });
  // pipe() does not pass a source's error on; a cut-off upload must end the import, not hang it.
  input.on('error', (error) => parser.destroy(error));
  input.pipe(parser);
  const skippedLines = new Set<number>();
  parser.on('skip', (error: CsvError & { lines?: number }) => {
    // csv-parse can report one bad line several times (once per stray quote).
    const line = error.lines ?? 0;
    if (skippedLines.has(line)) return;
    skippedLines.add(line);
    report.rows++;
    if (line <= doneThroughLine) return; // reported by the run that read it first
    report.rejected.push({ line, email: null, reason: SKIP_REASONS[error.code] ?? `malformed CSV (${error.code})` });
  });

  // A job's checkpoints: what each batch did, handed over once the batch is stored.
  let loopRows = 0;
  let lastLine = 0;
  let handedOver = 0; // report.rejected entries already looked at
  let carried: RejectedRow[] = []; // refused after the last batch's line (csv-parse reports some ahead)
  let counted = { created: 0, updated: 0, unchanged: 0 };
  const handOver = async (upToLine: number, invited: BatchOutcome['invited']) => {
    if (!job) return;
    const fresh = [...carried, ...report.rejected.slice(handedOver)];
    handedOver = report.rejected.length;
    carried = fresh.filter((r) => r.line > upToLine);
    let rows = loopRows;
    for (const line of skippedLines) if (line <= upToLine) rows++;
    const outcome: BatchOutcome = {
      lastLine: upToLine, rows,
      created: report.created - counted.created, updated: report.updated - counted.updated, unchanged: report.unchanged - counted.unchanged,
      rejected: fresh.filter((r) => r.line <= upToLine).sort((a, b) => a.line - b.line),
      invited,
    };
    counted = { created: report.created, updated: report.updated, unchanged: report.unchanged };
    await job.afterBatch(outcome);
  };

  const existing = options.upsert ? await loadExisting(services) : new Map<string, Existing>();
  const checks = new PasswordChecks(services.policy);
  let batch: Row[] = [];
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Partial<Record<Column, string>>; info: { lines: number } }>) {
      options.signal?.throwIfAborted();
      report.rows++;
      loopRows++;
      lastLine = info.lines;
      // Rows an earlier run of the job imported: read again only to know the emails seen.
      const resumed = info.lines <= doneThroughLine;
      const row = validateRow(record, info.lines);
      if (isRejected(row)) {
        if (!resumed) report.rejected.push(row);
        continue;
      }
      const first = seen.get(row.emailNormalized);
      if (first !== undefined) {
        if (!resumed) report.rejected.push({ line: row.line, email: row.email, reason: `duplicate of line ${first}` });
        continue;
      }
      seen.set(row.emailNormalized, row.line);
      if (resumed) continue;
      batch.push(row);
      if (batch.length >= BATCH) {
        const invited = await applyBatch(services, checks, batch, options, report, existing);
        await handOver(batch.at(-1)!.line, invited);
        batch = [];
        options.onProgress?.(report.rows);
      }
    }
    const invited = await applyBatch(services, checks, batch, options, report, existing);
    for (const line of skippedLines) lastLine = Math.max(lastLine, line);
    await handOver(Math.max(lastLine, doneThroughLine), invited);
    options.onProgress?.(report.rows);
  } catch (error) {
    if (error instanceof AccountError) throw error;
    const code = (error as CsvError).code;
    if (typeof code === 'string' && code.startsWith('CSV_')) throw new AccountError('bad_csv', `the file is not CSV this import can read (${code})`);
    throw error;
  } finally {
    await checks.close();
  }
  if (!headerChecked && report.rows === 0) throw new AccountError('empty', 'the file is empty');
  report.rejected.sort((a, b) => a.line - b.line);
  return report;
}

type Existing = Pick<User, '_id' | 'email' | 'emailNormalized' | 'name' | 'groups' | 'passwordHash' | 'status'>;

/**
 * The accounts that already exist, by email, read once in one pass. Only --upsert
 * needs them: without it, the unique index on the email tells existing rows apart
 * at insert time, with no read at all (FerretDB, the embedded store, answers
 * non-_id queries with a full scan, so per-batch lookups would be quadratic).
 */
async function loadExisting(services: ImportDeps): Promise<Map<string, Existing>> {
  const existing = new Map<string, Existing>();
  const cursor = services.users.collection.find({}, { projection: { email: 1, emailNormalized: 1, name: 1, groups: 1, passwordHash: 1, status: 1 } });
  for await (const doc of cursor) existing.set((doc as unknown as Existing).emailNormalized, doc as unknown as Existing);
  return existing;
}

/** Stores one batch; returns the accounts it created without a password (a job invites them). */
async function applyBatch(
  services: ImportDeps, checks: PasswordChecks, rows: Row[], options: ImportOptions, report: ImportReport, existing: Map<string, Existing>,
): Promise<BatchOutcome['invited']> {
  if (!rows.length) return [];
  const temporaryMs = services.temporaryPasswordMs;
  const { job } = options;
  const invited: BatchOutcome['invited'] = [];
  /** This row is in the batch an earlier run of the job may have partly stored. */
  const replayed = (row: Row) => Boolean(job?.unfinished && row.line <= job.unfinished.lastLine);
  const updatedBefore = new Set(job?.unfinished?.updated ?? []);
  const updatedInReplay: string[] = []; // announced again, in case this run dies too

  // Passwords: the policy (on its own thread for a large batch), then argon2 on libuv's pool,
  // each hash starting as soon as its row's check is in. Only for rows that will set one.
  const hashes = new Map<Row, string>();
  const policyRefused = new Map<Row, PasswordIssue[]>();
  const needsHash = rows.filter((r) => r.password && (!existing.has(r.emailNormalized) || (options.upsert && !existing.get(r.emailNormalized)!.passwordHash)));
  const verdicts = checks.start(needsHash.map((row) => ({ password: row.password!, context: { email: row.email, name: row.name } })));
  await pool(needsHash.map((row, i) => ({ row, verdict: verdicts[i]! })), options.hashConcurrency ?? 3, async ({ row, verdict }) => {
    options.signal?.throwIfAborted();
    const issues = await verdict();
    if (issues.length) return void policyRefused.set(row, issues);
    hashes.set(row, await services.hasher.hash(row.password!));
  });

  const now = new Date();
  const inserts: Array<Record<string, unknown>> = [];
  const updates: Array<{ updateOne: { filter: Record<string, unknown>; update: Record<string, unknown> } }> = [];
  const insertedRows: Row[] = []; // parallel to `inserts`
  const passwordSet: string[] = [];

  for (const row of rows) {
    const current = existing.get(row.emailNormalized);
    if (current && job && current._id === job.accountId(row.emailNormalized)) {
      // Created from this row by an earlier run of this job (with --upsert, existing holds it now).
      report.created++;
      if (current.status === 'invited') invited.push({ id: current._id, email: current.email });
      continue;
    }
    const settingPassword = row.password !== null || row.passwordHash !== null;
    if (row.password !== null && !hashes.has(row) && (!current || (options.upsert && !current.passwordHash))) {
      const issues = policyRefused.get(row) ?? [];
      report.rejected.push({ line: row.line, email: row.email, reason: `password: ${issues.map((i) => i.message).join(' ')}` });
      continue;
    }
    const passwordHash = hashes.get(row) ?? row.passwordHash;
    if (!current) {
      const id = job?.accountId(row.emailNormalized) ?? randomUUID();
      inserts.push({
        _id: id, email: row.email, emailNormalized: row.emailNormalized, name: row.name ?? '',
        passwordHash: passwordHash ?? null, status: passwordHash ? 'active' : 'invited',
        ...(!passwordHash && options.legacyPasswords ? { passwordHeldByLegacy: true } : {}),
        mustChangePassword: row.mustChange, temporaryPasswordExpiresAt: row.mustChange ? new Date(now.getTime() + temporaryMs) : null,
        passwordChangedAt: passwordHash ? now : null, groups: row.groups ?? [], roles: [], passwordHistory: [], emailVerified: false,
        searchTerms: searchTermsFor(row.email, row.name), createdAt: now, updatedAt: now,
      });
      insertedRows.push(row);
      continue;
    }
    const set: Record<string, unknown> = {};
    if (row.name !== null && row.name !== current.name) {
      set.name = row.name;
      set.searchTerms = searchTermsFor(current.email, row.name);
    }
    if (row.groups !== null && JSON.stringify([...row.groups].sort()) !== JSON.stringify([...(current.groups ?? [])].sort())) set.groups = row.groups;
    if (settingPassword && !current.passwordHash && passwordHash) {
      Object.assign(set, {
        passwordHash, passwordChangedAt: now, mustChangePassword: row.mustChange,
        temporaryPasswordExpiresAt: row.mustChange ? new Date(now.getTime() + temporaryMs) : null,
        ...(current.status === 'invited' ? { status: 'active' } : {}),
      });
    }
    if (!Object.keys(set).length) {
      // Nothing differs: unchanged, unless an earlier run of the job made this very update.
      if (replayed(row) && updatedBefore.has(current._id)) {
        report.updated++;
        updatedInReplay.push(current._id);
      } else {
        report.unchanged++;
      }
      continue;
    }
    updates.push({ updateOne: { filter: { _id: current._id }, update: { $set: { ...set, updatedAt: now } } } });
    if (set.passwordHash) passwordSet.push(current._id);
  }

  options.signal?.throwIfAborted();
  await job?.beforeWrite({ lastLine: rows.at(-1)!.line, updated: [...updatedInReplay, ...updates.map((u) => u.updateOne.filter._id as string)] });

  let created = inserts.length;
  const refused = new Set<number>();
  if (inserts.length) {
    try {
      await services.users.collection.insertMany(inserts, { ordered: false });
    } catch (error) {
      // Rows whose email already has an account: the unique index refused them. Without
      // --upsert that is the expected "exists, left as it is"; with it, a concurrent creation.
      const result = error as { insertedCount?: number; writeErrors?: Array<{ index: number; code?: number }> | { index: number; code?: number } };
      const writeErrors = Array.isArray(result.writeErrors) ? result.writeErrors : result.writeErrors ? [result.writeErrors] : [];
      if (!writeErrors.length || writeErrors.some((e) => e.code !== 11000)) throw error;
      // In a replayed batch, a refused insert may be this job's own from the earlier run (its id says so).
      const replayedIds = writeErrors.filter(({ index }) => replayed(insertedRows[index]!)).map(({ index }) => inserts[index]!._id);
      const own = new Set(replayedIds.length
        ? (await services.users.collection.find({ _id: { $in: replayedIds } } as never, { projection: { _id: 1 } }).toArray()).map((doc) => String(doc._id))
        : []);
      for (const { index } of writeErrors) {
        if (own.has(inserts[index]!._id as string)) continue; // counted as created, below
        refused.add(index);
        created--;
        const row = insertedRows[index]!;
        if (options.upsert) report.rejected.push({ line: row.line, email: row.email, reason: 'an account with this email was created meanwhile' });
        else report.unchanged++;
      }
    }
  }
  inserts.forEach((doc, index) => {
    // Passwords the old system holds: no invitation, their first sign-in moves them in.
    if (!refused.has(index) && doc.status === 'invited' && !doc.passwordHeldByLegacy) invited.push({ id: doc._id as string, email: doc.email as string });
  });
  report.created += created;
  if (updates.length) {
    // At most UPDATES_PER_WRITE statements per command: the embedded FerretDB (1.24) never
    // answers an update command of 100 statements or more (and holds every later write).
    for (let i = 0; i < updates.length; i += UPDATES_PER_WRITE) {
      await services.users.collection.bulkWrite(updates.slice(i, i + UPDATES_PER_WRITE), { ordered: false });
    }
    report.updated += updates.length;
  }
  // An invitation must not set a second password once the file gave one.
  for (const userId of passwordSet) await services.links.revokeAll(userId, 'invite');
  // One audit record per batch and kind, not per account: at 100,000 rows, per-account
  // records doubled the import's time; the accounts' own createdAt dates them.
  const updated = updates.length;
  await services.audit.recordMany([
    ...(created ? [{ event: 'account.created' as const, userId: null, context: { actor: 'import', ...options.context }, details: { import: true, count: created, firstLine: rows[0]!.line, lastLine: rows.at(-1)!.line } }] : []),
    ...(updated ? [{ event: 'account.updated' as const, userId: null, context: { actor: 'import', ...options.context }, details: { import: true, count: updated, firstLine: rows[0]!.line, lastLine: rows.at(-1)!.line } }] : []),
  ]);
  return invited;
}
