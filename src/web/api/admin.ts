// The admin API (/api/admin): what the console does to accounts, for an
// organisation's own tools and automation. Each handler checks the caller
// (admin-auth.ts), validates its input strictly, calls the one domain function in
// accounts/admin.ts that the console and CLI use too, with the caller as the
// audit trail's actor, and answers with a response schema's fields only.
import type { Context } from 'koa';
import type { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import type { RequestContext } from '../../accounts/audit.ts';
import {
  adminCreateAccount, adminSendReset, adminSetTemporaryPassword, adminUnlock, editAccount, findAccounts, forceSignIn,
  getAccount, setDisabled, setRole, ADMIN_ROLE,
} from '../../accounts/admin.ts';
import { AccountError } from '../../accounts/users.ts';
import type { PasswordIssue } from '../../accounts/password-policy.ts';
import { requestContext } from '../forms.ts';
import { ApiProblem, type FieldError } from './problem.ts';
import { BODY, jsonBody, queryParams } from './json-body.ts';
import { requireAdmin, type AdminAuth } from './admin-auth.ts';
import {
  accountDetail, accountList, accountSearchQuery, accountSummary, adminCreateAccountRequest, adminEditAccountRequest,
  adminTemporaryPasswordRequest, auditList, auditQuery, emptyRequest, resetSent, revokeResult,
} from './schemas.ts';

const MAX_ID = 200;

/** Exactly the response schema's fields, dates as RFC 3339 strings. A mismatch is a bug (a 500, logged). */
function answer<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  return schema.parse(JSON.parse(JSON.stringify(value)));
}

const invalid = (detail: string, errors: FieldError[]) => new ApiProblem('invalid-request', detail, { errors });

const policyProblem = (field: string, issues: PasswordIssue[]) =>
  new ApiProblem('password-policy', 'The password does not meet the password policy.', {
    errors: issues.map((issue): FieldError => ({ field, code: issue.code, message: issue.message })),
  });

const notFound = () => new ApiProblem('not-found', 'There is no account with this id.');

/** The domain's refusals as problems; anything else is a bug and stays a 500. */
function domainProblem(error: unknown): never {
  if (error instanceof AccountError) {
    switch (error.code) {
      case 'not_found':
        throw notFound();
      case 'email_taken':
        throw new ApiProblem('email-taken', 'An account with this email address already exists.');
      case 'disabled':
        throw new ApiProblem('account-disabled', 'The account is disabled. Enable it first.');
    }
  }
  throw error;
}

interface Call {
  auth: AdminAuth;
  context: RequestContext;
}

/** Authenticates, then gives the audit context with the caller as actor. */
async function begin(ctx: Context, deps: AppDeps): Promise<Call> {
  const auth = await requireAdmin(ctx, deps);
  return { auth, context: { ...requestContext(ctx), actor: auth.actor } };
}

function accountId(ctx: Context): string {
  const id = ctx.params.id ?? '';
  if (!id || id.length > MAX_ID) throw notFound();
  return id;
}

const isCaller = (auth: AdminAuth, id: string) => auth.kind === 'admin' && auth.userId === id;

/** GET /api/admin/accounts */
export async function listAccounts(ctx: Context, deps: AppDeps): Promise<void> {
  await begin(ctx, deps);
  const query = queryParams(ctx, accountSearchQuery);
  ctx.body = answer(accountList, await findAccounts(deps, query));
}

/** POST /api/admin/accounts */
export async function createAccount(ctx: Context, deps: AppDeps): Promise<void> {
  const { context } = await begin(ctx, deps);
  const body = await jsonBody(ctx, adminCreateAccountRequest);
  const invite = body.invite === true;
  const temporary = body.temporary_password !== undefined;
  if (invite && temporary) {
    throw invalid('Give either temporary_password or invite: true, not both.', [
      { field: 'temporary_password', code: 'invalid_value', message: 'Leave this out when inviting.' },
    ]);
  }
  if (!invite && !temporary) {
    throw invalid('Give either temporary_password or invite: true.', [
      { field: 'temporary_password', code: 'required', message: 'Give a temporary password, or invite: true.' },
    ]);
  }
  if (body.client_id !== undefined) {
    if (!invite) throw invalid('client_id goes with invite only.', [{ field: 'client_id', code: 'invalid_value', message: 'This field only goes with invite: true.' }]);
    if (!(await deps.provider.Client.find(body.client_id))) {
      throw invalid('client_id is not a registered client.', [{ field: 'client_id', code: 'invalid_value', message: 'No client with this id is registered.' }]);
    }
  }
  if (temporary) {
    // The same check the domain makes, with every issue (the domain reports the first only).
    const issues = deps.policy.check(body.temporary_password, { email: body.email, name: body.name });
    if (issues.length) throw policyProblem('temporary_password', issues);
  }

  const user = await adminCreateAccount(deps, {
    email: body.email,
    name: body.name,
    groups: body.groups ? [...new Set(body.groups)] : undefined,
    temporaryPassword: body.temporary_password,
    invite,
    clientId: body.client_id ?? null,
  }, context).catch(domainProblem);

  const created = await getAccount(deps, user._id);
  if (!created) throw new Error('the account just created was not found');
  ctx.status = 201;
  ctx.set('Location', `${deps.config.issuer.replace(/\/$/, '')}/api/admin/accounts/${encodeURIComponent(user._id)}`);
  ctx.body = answer(accountSummary, created);
}

/** GET /api/admin/accounts/:id */
export async function showAccount(ctx: Context, deps: AppDeps): Promise<void> {
  await begin(ctx, deps);
  const detail = await getAccount(deps, accountId(ctx));
  if (!detail) throw notFound();
  ctx.body = answer(accountDetail, detail);
}

/** PATCH /api/admin/accounts/:id */
export async function updateAccount(ctx: Context, deps: AppDeps): Promise<void> {
  const { context } = await begin(ctx, deps);
  const id = accountId(ctx);
  const body = await jsonBody(ctx, adminEditAccountRequest);
  if (!Object.keys(body).length) {
    throw invalid('Give at least one of name, groups, notes.', [{ field: BODY, code: 'required', message: 'Give at least one of name, groups, notes.' }]);
  }
  const result = await editAccount(deps, id, body, context).catch(domainProblem);
  if (!result.ok) {
    // The schema above is the domain's own: this only happens if the two drift apart.
    throw invalid('The request is not valid.', Object.entries(result.errors).map(([field, message]) => ({ field, code: 'invalid_value', message })));
  }
  ctx.status = 204;
}

/** POST /api/admin/accounts/:id/reset-email */
export async function sendResetEmail(ctx: Context, deps: AppDeps): Promise<void> {
  const { context } = await begin(ctx, deps);
  const id = accountId(ctx);
  await jsonBody(ctx, emptyRequest);
  const sent = await adminSendReset(deps, id, context).catch(domainProblem);
  ctx.status = 202;
  ctx.body = answer(resetSent, { sent });
}

/** POST /api/admin/accounts/:id/temporary-password */
export async function setTemporary(ctx: Context, deps: AppDeps): Promise<void> {
  const { context } = await begin(ctx, deps);
  const id = accountId(ctx);
  const { password } = await jsonBody(ctx, adminTemporaryPasswordRequest);
  const issues = await adminSetTemporaryPassword(deps, id, password, context).catch(domainProblem);
  if (issues.length) throw policyProblem('password', issues);
  ctx.status = 204;
}

/** POST /api/admin/accounts/:id/revoke: force sign-in. */
export async function revokeAccess(ctx: Context, deps: AppDeps): Promise<void> {
  const { context } = await begin(ctx, deps);
  const id = accountId(ctx);
  await jsonBody(ctx, emptyRequest);
  ctx.body = answer(revokeResult, await forceSignIn(deps, id, context).catch(domainProblem));
}

/** POST /api/admin/accounts/:id/unlock */
export async function unlockAccount(ctx: Context, deps: AppDeps): Promise<void> {
  const { context } = await begin(ctx, deps);
  const id = accountId(ctx);
  await jsonBody(ctx, emptyRequest);
  await adminUnlock(deps, id, context).catch(domainProblem);
  ctx.status = 204;
}

/** POST /api/admin/accounts/:id/disable and /enable */
export async function setAccountDisabled(ctx: Context, deps: AppDeps, disabled: boolean): Promise<void> {
  const { auth, context } = await begin(ctx, deps);
  const id = accountId(ctx);
  await jsonBody(ctx, emptyRequest);
  if (disabled && isCaller(auth, id)) throw new ApiProblem('own-admin-access', 'You cannot disable your own account.');
  await setDisabled(deps, id, disabled, context).catch(domainProblem);
  ctx.status = 204;
}

/** PUT (grant) and DELETE (remove) /api/admin/accounts/:id/roles/admin */
export async function setAdminRole(ctx: Context, deps: AppDeps, present: boolean): Promise<void> {
  const { auth, context } = await begin(ctx, deps);
  const id = accountId(ctx);
  await jsonBody(ctx, emptyRequest);
  if (!present && isCaller(auth, id)) throw new ApiProblem('own-admin-access', 'You cannot remove your own admin role.');
  await setRole(deps, id, ADMIN_ROLE, present, context).catch(domainProblem);
  ctx.status = 204;
}

/** GET /api/admin/audit */
export async function listAudit(ctx: Context, deps: AppDeps): Promise<void> {
  await begin(ctx, deps);
  const query = queryParams(ctx, auditQuery, ['event']);
  const records = await deps.audit.list({
    userId: query.user_id,
    events: query.event,
    since: query.since ? new Date(query.since) : undefined,
    until: query.until ? new Date(query.until) : undefined,
    limit: query.limit,
  });
  // mongoose leaves an empty `details` object out of the stored document.
  ctx.body = answer(auditList, { items: records.map(({ _id, expiresAt: _expires, ...record }) => ({ id: _id, ...record, details: record.details ?? {} })) });
}
