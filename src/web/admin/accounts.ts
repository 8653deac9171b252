// Accounts in the admin console: the searchable list, creating an account, and
// one account's page with its actions. Every change goes through the domain
// functions of accounts/admin.ts with this admin as the actor.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import {
  ACCOUNT_STATUSES, ADMIN_ROLE, accountEditSchema, adminCreateAccount, adminResetFactors, adminSendReset, adminSetTemporaryPassword, adminUnlock,
  editAccount, findAccounts, forceSignIn, getAccount, searchSchema, setDisabled, setRole,
} from '../../accounts/admin.ts';
import { emailSchema } from '../../accounts/email.ts';
import { requireFactorEnrolment } from '../../accounts/factor-admin.ts';
import { FACTOR_ID_PATTERN, factorsOf, removeFactor, type FactorSummary } from '../../accounts/factors.ts';
import { describeIssues } from '../../accounts/password-policy.ts';
import { AccountError, type AccountErrorCode } from '../../accounts/errors.ts';
import { HttpError } from '../http-error.ts';
import { echo, parseForm, type FieldErrors } from '../forms.ts';
import { clientName } from '../account/apps.ts';
import { consoleSessions } from './sessions.ts';
import { consoleTerms } from './terms.ts';
import { scopeText } from '../account/page.ts';
import {
  ACCOUNT_ID, STATUS_TEXT, actorIds, actorText, adminContext, adminOf, detailsText, emailsOf, eventText, formatDateTime,
  renderAdmin, seeOther, tAdmin,
} from './page.ts';

const UNREADABLE = tAdmin('admin.form.unreadable');
const optionalText = (max: number, tooLong: string) => z.string({ error: UNREADABLE }).max(max, tooLong).optional();

/** "a, b ,c" → ["a", "b", "c"]; the domain's schema checks each name. */
const splitGroups = (value: string | undefined): string[] => (value ?? '').split(',').map((g) => g.trim()).filter(Boolean);

function groupErrors(groups: string[]): string | null {
  const parsed = accountEditSchema.pick({ groups: true }).safeParse({ groups });
  if (parsed.success) return null;
  const issue = parsed.error.issues[0]!;
  return issue.path.length > 1 ? tAdmin('admin.form.badGroup', { group: String(groups[issue.path[1] as number]).slice(0, 64), problem: issue.message }) : tAdmin('admin.form.tooManyGroupNames');
}

function notFound(): HttpError {
  return new HttpError(404, 'admin.error.accountNotFound.title', 'admin.error.accountNotFound.message');
}

function accountId(ctx: Context): string {
  const id = ctx.params.id;
  if (typeof id !== 'string' || !ACCOUNT_ID.test(id)) throw notFound();
  return id;
}

/** The status of the page each domain refusal gets: a Record, so a code added to the domain must be given one here. */
const REFUSAL_STATUS: Record<AccountErrorCode, 400 | 404 | 409 | 413> = {
  not_found: 404,
  email_taken: 409,
  disabled: 409,
  not_invited: 409,
  invalid_email: 400,
  invalid_name: 400,
  invalid_request: 400,
  password_policy: 400,
  bad_csv: 400,
  bad_header: 400,
  empty: 400,
  upload: 413,
  last_admin: 409,
};

/** Domain refusals (AccountError) become a 4xx page with the domain's words; anything else is a 500. */
async function domain<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof AccountError) {
      if (error.code === 'not_found') throw notFound();
      const status = REFUSAL_STATUS[error.code];
      throw new HttpError(status, status === 409 ? 'admin.error.notDone' : 'admin.error.notAccepted', error.message);
    }
    throw error;
  }
}

// ---- the list ---------------------------------------------------------------

export async function showList(ctx: Context, deps: AppDeps): Promise<void> {
  // Bad values fall back to their defaults (searchSchema catches each one).
  const search = searchSchema.parse({
    q: ctx.query.q, status: ctx.query.status, page: ctx.query.page, pageSize: ctx.query.pageSize,
  });
  const result = await findAccounts(deps, search);
  const pages = Math.max(1, Math.ceil(result.total / result.pageSize));
  const link = (page: number) => {
    const query = new URLSearchParams();
    if (search.q) query.set('q', search.q);
    if (search.status) query.set('status', search.status);
    if (result.pageSize !== 25) query.set('pageSize', String(result.pageSize));
    if (page > 1) query.set('page', String(page));
    const text = query.toString();
    return text ? `/admin?${text}` : '/admin';
  };
  renderAdmin(ctx, 'accounts', 'accounts', {
    title: tAdmin('admin.accounts.title'),
    q: search.q ?? '',
    status: search.status ?? '',
    statuses: ACCOUNT_STATUSES.map((value) => ({ value, text: STATUS_TEXT[value] })),
    statusText: STATUS_TEXT,
    items: result.items,
    total: result.total,
    page: result.page,
    pages,
    first: result.total ? (result.page - 1) * result.pageSize + 1 : 0,
    last: Math.min(result.total, result.page * result.pageSize),
    previous: result.page > 1 ? link(Math.min(result.page - 1, pages)) : null,
    next: result.page < pages ? link(result.page + 1) : null,
  });
}

// ---- creating ---------------------------------------------------------------

const createForm = z.object({
  email: z.string({ error: (issue) => (issue.input === undefined ? tAdmin('admin.form.emailMissing') : UNREADABLE) }),
  name: optionalText(200, tAdmin('admin.form.tooLong', { max: 200 })),
  groups: optionalText(4000, tAdmin('admin.form.tooManyGroups')),
  mode: z.enum(['temporary', 'invite'], { error: tAdmin('admin.form.modeMissing') }),
  temporaryPassword: z.string({ error: UNREADABLE }).optional(),
});

interface CreateValues {
  email: string;
  name: string;
  groups: string;
  mode: string;
}

function showCreateForm(ctx: Context, deps: AppDeps, values: CreateValues, errors: FieldErrors = {}, status = 200): void {
  renderAdmin(ctx, 'new', 'new', { title: tAdmin('admin.new.title'), values, errors, rules: deps.policy.describeFor(tAdmin, { history: false }) }, status);
}

export function showNew(ctx: Context, deps: AppDeps): void {
  showCreateForm(ctx, deps, { email: '', name: '', groups: '', mode: 'temporary' });
}

export async function submitNew(ctx: Context, deps: AppDeps): Promise<void> {
  // What was typed comes back on an error; the temporary password never does.
  const values: CreateValues = { email: echo(ctx, 'email'), name: echo(ctx, 'name', 200), groups: echo(ctx, 'groups', 4000), mode: echo(ctx, 'mode', 20) || 'temporary' };
  const form = parseForm(createForm, ctx);
  if (!form.ok) return showCreateForm(ctx, deps, values, form.errors, 400);
  const errors: FieldErrors = {};
  const email = emailSchema.safeParse(form.data.email);
  if (!email.success) errors.email = form.data.email.trim() ? tAdmin('admin.form.emailInvalid') : tAdmin('admin.form.emailMissing');
  const name = form.data.name?.trim() || undefined;
  const groups = [...new Set(splitGroups(form.data.groups))];
  const badGroups = groupErrors(groups);
  if (badGroups) errors.groups = badGroups;
  const invite = form.data.mode === 'invite';
  const password = form.data.temporaryPassword ?? '';
  if (!invite) {
    if (!password) errors.temporaryPassword = tAdmin('admin.form.temporaryOrInvite');
    else if (email.success) {
      const issues = deps.policy.check(password, { email: email.data, name });
      if (issues.length) errors.temporaryPassword = describeIssues(tAdmin, issues);
    }
  }
  if (Object.keys(errors).length) return showCreateForm(ctx, deps, values, errors, 400);

  let user;
  try {
    user = await adminCreateAccount(deps, {
      email: email.data!, name, groups, ...(invite ? { invite: true } : { temporaryPassword: password }),
    }, adminContext(ctx));
  } catch (error) {
    if (!(error instanceof AccountError)) throw error;
    const field = error.code === 'email_taken' || error.code === 'invalid_email' ? 'email' : error.code === 'invalid_name' ? 'name' : invite ? 'form' : 'temporaryPassword';
    const message = error.code === 'email_taken' ? tAdmin('admin.form.emailTaken') : error.message;
    return showCreateForm(ctx, deps, values, { [field]: message }, error.code === 'email_taken' ? 409 : 400);
  }
  seeOther(ctx, `/admin/accounts/${user._id}`, invite ? 'invited' : 'created');
}

// ---- one account ------------------------------------------------------------

/** How the page names a second factor: passkeys by the name their owner gave them. */
const factorLabel = (factor: Pick<FactorSummary, 'kind' | 'name'>) =>
  (factor.kind === 'totp' ? tAdmin('admin.factor.totp') : factor.kind === 'passkey' ? tAdmin('admin.factor.passkey', { name: factor.name }) : tAdmin('admin.factor.recoveryCodes'));

/**
 * The notice after one factor was removed (a redirect's query, as page.ts's NOTICES
 * are; kept here beside the only action that sends it).
 */
function factorRemovedNotice(query: Context['query']): string | null {
  if (query.notice !== 'factor_removed' || typeof query.kind !== 'string') return null;
  const name = typeof query.name === 'string' ? query.name.slice(0, 100) : '';
  const kind = query.kind === 'totp' || query.kind === 'recovery_codes' || query.kind === 'passkey' ? query.kind : null;
  if (!kind) return null;
  return tAdmin('admin.notice.factorRemoved', { factor: factorLabel({ kind, name }) });
}

interface DetailState {
  errors?: FieldErrors;
  /** The edit form's values as sent, when it is shown again with errors. */
  edit?: { name: string; groups: string; notes: string };
}

async function showAccount(ctx: Context, deps: AppDeps, id: string, state: DetailState = {}, status = 200): Promise<void> {
  const account = await getAccount(deps, id);
  if (!account) throw notFound();
  const records = await deps.audit.list({ userId: id, limit: 50 });
  const emails = await emailsOf(deps, actorIds(records.map((r) => r.actor)));
  const apps = await Promise.all(account.apps.map(async (app) => ({
    name: await clientName(deps, app.clientId),
    clientId: app.clientId,
    scopes: app.scopes.map(scopeText),
    grantedAt: app.grantedAt ? formatDateTime(app.grantedAt) : null,
  })));
  const lock = account.lockout;
  const me = adminOf(ctx).user;
  const removed = status === 200 ? factorRemovedNotice(ctx.query) : null;
  renderAdmin(ctx, 'account', 'accounts', {
    title: account.email,
    account,
    self: account.id === me._id,
    isAdminAccount: account.roles.includes(ADMIN_ROLE),
    statusText: STATUS_TEXT[account.status] ?? account.status,
    createdAt: account.createdAt ? formatDateTime(new Date(account.createdAt)) : null,
    passwordChangedAt: account.passwordChangedAt ? formatDateTime(new Date(account.passwordChangedAt)) : null,
    lock: lock ? {
      failures: lock.failures,
      totalFailures: lock.totalFailures,
      lockCount: lock.lockCount,
      lockedUntil: lock.lockedUntil && account.locked ? formatDateTime(new Date(lock.lockedUntil)) : null,
    } : null,
    apps,
    sessions: await consoleSessions(deps, id),
    // The terms the person accepted (views/admin/_terms.pug).
    terms: consoleTerms(account, deps.config.policy.terms),
    ...(removed ? { notice: removed } : {}),
    factors: account.factors.map((factor) => ({
      id: factor.id,
      name: factorLabel(factor),
      facts: tAdmin('admin.account.factors.facts', {
        added: formatDateTime(new Date(factor.createdAt)),
        used: factor.lastUsedAt ? 'yes' : 'no',
        lastUsed: factor.lastUsedAt ? formatDateTime(new Date(factor.lastUsedAt)) : '',
        codes: factor.remainingCodes === null ? 'no' : 'yes',
        remaining: factor.remainingCodes ?? 0,
        total: factor.codeCount ?? 0,
      }),
    })),
    events: records.map((record) => ({
      at: formatDateTime(new Date(record.at)),
      iso: new Date(record.at).toISOString(),
      text: eventText(record.event),
      actor: actorText(record.actor, emails),
      ip: record.ip ?? '—',
      details: detailsText(record.details),
    })),
    edit: state.edit ?? { name: account.name, groups: account.groups.join(', '), notes: account.notes },
    errors: state.errors ?? {},
    rules: deps.policy.describeFor(tAdmin, { history: false }),
  }, status);
}

export async function showDetail(ctx: Context, deps: AppDeps): Promise<void> {
  await showAccount(ctx, deps, accountId(ctx));
}

const editForm = z.object({
  name: optionalText(200, tAdmin('admin.form.tooLong', { max: 200 })),
  groups: optionalText(4000, tAdmin('admin.form.tooManyGroups')),
  notes: optionalText(2000, tAdmin('admin.form.tooLong', { max: 2000 })),
});

export async function submitEdit(ctx: Context, deps: AppDeps): Promise<void> {
  const id = accountId(ctx);
  const sent = { name: echo(ctx, 'name', 200), groups: echo(ctx, 'groups', 4000), notes: echo(ctx, 'notes', 2000) };
  const form = parseForm(editForm, ctx);
  if (!form.ok) return showAccount(ctx, deps, id, { errors: form.errors, edit: sent }, 400);
  const groups = splitGroups(form.data.groups);
  const badGroups = groupErrors(groups);
  if (badGroups) return showAccount(ctx, deps, id, { errors: { groups: badGroups }, edit: sent }, 400);
  const input = {
    ...(form.data.name !== undefined ? { name: form.data.name } : {}),
    ...(form.data.notes !== undefined ? { notes: form.data.notes } : {}),
    ...(form.data.groups !== undefined ? { groups } : {}),
  };
  const result = await domain(() => editAccount(deps, id, input, adminContext(ctx)));
  if (!result.ok) return showAccount(ctx, deps, id, { errors: result.errors, edit: sent }, 400);
  seeOther(ctx, `/admin/accounts/${id}`, 'saved');
}

export async function submitReset(ctx: Context, deps: AppDeps): Promise<void> {
  const id = accountId(ctx);
  let sent: 'reset' | 'invite';
  try {
    sent = await domain(() => adminSendReset(deps, id, adminContext(ctx)));
  } catch (error) {
    if (error instanceof HttpError && error.status === 409) return showAccount(ctx, deps, id, { errors: { reset: error.message } }, 409);
    throw error;
  }
  seeOther(ctx, `/admin/accounts/${id}`, sent === 'invite' ? 'invite_sent' : 'reset_sent');
}

const temporaryForm = z.object({
  temporaryPassword: z.string({ error: (issue) => (issue.input === undefined ? tAdmin('admin.form.temporaryMissing') : UNREADABLE) })
    .min(1, tAdmin('admin.form.temporaryMissing')),
});

export async function submitTemporaryPassword(ctx: Context, deps: AppDeps): Promise<void> {
  const id = accountId(ctx);
  const form = parseForm(temporaryForm, ctx);
  if (!form.ok) return showAccount(ctx, deps, id, { errors: form.errors }, 400);
  const issues = await domain(() => adminSetTemporaryPassword(deps, id, form.data.temporaryPassword, adminContext(ctx)));
  if (issues.length) return showAccount(ctx, deps, id, { errors: { temporaryPassword: describeIssues(tAdmin, issues) } }, 400);
  seeOther(ctx, `/admin/accounts/${id}`, 'temporary_set');
}

export async function submitForceSignIn(ctx: Context, deps: AppDeps): Promise<void> {
  const id = accountId(ctx);
  const result = await domain(() => forceSignIn(deps, id, adminContext(ctx)));
  seeOther(ctx, `/admin/accounts/${id}`, 'signed_out', { sessions: result.sessions, grants: result.grants });
}

export async function submitResetFactors(ctx: Context, deps: AppDeps): Promise<void> {
  const id = accountId(ctx);
  const removed = await domain(() => adminResetFactors(deps, id, adminContext(ctx)));
  seeOther(ctx, `/admin/accounts/${id}`, 'factors_reset', { removed });
}

const removeFactorForm = z.object({
  factorId: z.string({ error: tAdmin('admin.form.factorMissing') }).regex(FACTOR_ID_PATTERN, tAdmin('admin.form.factorMissing')),
});

/** One factor, chosen from the account's list (an id of another account's factor is not on it: a 404, nothing removed). */
export async function submitRemoveFactor(ctx: Context, deps: AppDeps): Promise<void> {
  const id = accountId(ctx);
  const form = parseForm(removeFactorForm, ctx);
  if (!form.ok) return showAccount(ctx, deps, id, { errors: { factors: form.errors.factorId ?? tAdmin('admin.form.formUnreadable') } }, 400);
  if (!(await deps.users.exists({ _id: id }))) throw notFound();
  const factor = (await factorsOf(deps.factors, id)).find((f) => f.id === form.data.factorId);
  const gone = () => new HttpError(404, 'admin.error.factorNotFound.title', 'admin.error.factorNotFound.message');
  if (!factor) throw gone();
  if (!(await removeFactor(deps.factors, id, factor.id, adminContext(ctx)))) throw gone();
  seeOther(ctx, `/admin/accounts/${id}`, 'factor_removed', { kind: factor.kind, ...(factor.name ? { name: factor.name } : {}) });
}

export async function submitRequireEnrolment(ctx: Context, deps: AppDeps): Promise<void> {
  const id = accountId(ctx);
  const result = await domain(() => requireFactorEnrolment(deps, id, adminContext(ctx)));
  seeOther(ctx, `/admin/accounts/${id}`, result.changed ? 'enrolment_required' : 'enrolment_already_required');
}

export async function submitUnlock(ctx: Context, deps: AppDeps): Promise<void> {
  const id = accountId(ctx);
  // What the lock was, for the notice: the counts are cleared by the unlock.
  const before = await getAccount(deps, id);
  if (!before) throw notFound();
  await domain(() => adminUnlock(deps, id, adminContext(ctx)));
  const lock = before.lockout;
  seeOther(ctx, `/admin/accounts/${id}`, 'unlocked', {
    failures: lock?.totalFailures ?? 0,
    ...(lock?.lockedUntil && before.locked ? { until: new Date(lock.lockedUntil).toISOString() } : {}),
  });
}

export async function submitDisabled(ctx: Context, deps: AppDeps, disabled: boolean): Promise<void> {
  const id = accountId(ctx);
  if (disabled && id === adminOf(ctx).user._id) {
    return showAccount(ctx, deps, id, { errors: { status: tAdmin('admin.form.disableSelf') } }, 409);
  }
  await domain(() => setDisabled(deps, id, disabled, adminContext(ctx)));
  seeOther(ctx, `/admin/accounts/${id}`, disabled ? 'disabled' : 'enabled');
}

const roleForm = z.object({
  admin: z.enum(['grant', 'remove'], { error: tAdmin('admin.form.roleMissing') }),
});

export async function submitAdminRole(ctx: Context, deps: AppDeps): Promise<void> {
  const id = accountId(ctx);
  const form = parseForm(roleForm, ctx);
  if (!form.ok) return showAccount(ctx, deps, id, { errors: { role: form.errors.admin ?? tAdmin('admin.form.formUnreadable') } }, 400);
  const grant = form.data.admin === 'grant';
  if (!grant && id === adminOf(ctx).user._id) {
    return showAccount(ctx, deps, id, { errors: { role: tAdmin('admin.form.removeOwnRole') } }, 409);
  }
  await domain(() => setRole(deps, id, ADMIN_ROLE, grant, adminContext(ctx)));
  seeOther(ctx, `/admin/accounts/${id}`, grant ? 'admin_granted' : 'admin_removed');
}
