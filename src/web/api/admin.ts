// The admin API (/api/admin): what the console does to accounts, for an
// organisation's own tools and automation. Each endpoint is declared with admin
// access (admin-auth.ts checks the caller before anything else), validates its
// input strictly, calls the one domain function in accounts/admin.ts that the
// console and CLI use too, with the caller as the audit trail's actor, and answers
// with a response schema's fields only (endpoint.ts).
import type { Context } from 'koa';
import {
  adminCreateAccount, adminResetFactors, adminSendReset, adminSetTemporaryPassword, adminUnlock, editAccount, findAccounts, forceSignIn,
  getAccount, setDisabled, setRole, ADMIN_ROLE,
} from '../../accounts/admin.ts';
import { requireFactorEnrolment } from '../../accounts/factor-admin.ts';
import { FACTOR_ID_PATTERN, removeFactor } from '../../accounts/factors.ts';
import { ApiProblem } from './problem.ts';
import { accountNotFound, invalidRequest, policyProblem } from './domain-problems.ts';
import { BODY } from './json-body.ts';
import type { AdminAuth } from './admin-auth.ts';
import { defineEndpoint, type Endpoint } from './endpoint.ts';
import {
  accountDetail, accountList, accountSearchQuery, accountSummary, adminCreateAccountRequest, adminEditAccountRequest,
  adminTemporaryPasswordRequest, auditList, auditQuery, emptyRequest, enrolmentRequired, factorsReset, resetSent, revokeResult,
} from './schemas.ts';

const MAX_ID = 200;

function accountId(ctx: Context): string {
  const id = ctx.params.id ?? '';
  if (!id || id.length > MAX_ID) throw accountNotFound();
  return id;
}

/** A second factor's id as factorsOf lists it (a UUID): anything else names no factor, and never reaches a query. */

/** The path parameters these endpoints add to openapi.ts's (as webhooks.ts does). */
export const ADMIN_PATH_PARAMETERS = {
  factorId: {
    name: 'factorId', in: 'path', required: true,
    description: 'A second factor\'s id, as `GET /api/admin/accounts/{id}` lists it under `factors`.',
    schema: { type: 'string', pattern: FACTOR_ID_PATTERN.source },
  },
};

const factorNotFound = () => new ApiProblem('not-found', 'The account has no second factor with this id.');

const isCaller = (auth: AdminAuth, id: string) => auth.kind === 'admin' && auth.userId === id;

const listAccounts = defineEndpoint({
  method: 'GET', path: '/api/admin/accounts', access: 'admin', query: accountSearchQuery,
  operationId: 'adminListAccounts', summary: 'Search accounts', description: 'Accounts sorted by email, a page at a time.',
  status: 200, success: { description: 'A page of accounts.', schema: accountList },
  handle: ({ deps, query }) => findAccounts(deps, query),
});

const createAccount = defineEndpoint({
  method: 'POST', path: '/api/admin/accounts', access: 'admin', body: adminCreateAccountRequest,
  operationId: 'adminCreateAccount', summary: 'Create an account',
  description: 'With a temporary password the person must change at the first sign-in, or as an invitation (an email link to choose the first password). Recorded in the audit trail as account.created by the caller.',
  status: 201,
  success: {
    description: 'Created.', schema: accountSummary,
    headers: { Location: { description: 'The new account\'s URL in this API.', schema: { type: 'string', format: 'uri' } } },
  },
  problems: ['password-policy', 'email-taken'],
  async handle({ ctx, deps, body, context }) {
    const invite = body.invite === true;
    const temporary = body.temporary_password !== undefined;
    if (invite && temporary) {
      throw invalidRequest('Give either temporary_password or invite: true, not both.', [
        { field: 'temporary_password', code: 'invalid_value', message: 'Leave this out when inviting.' },
      ]);
    }
    if (!invite && !temporary) {
      throw invalidRequest('Give either temporary_password or invite: true.', [
        { field: 'temporary_password', code: 'required', message: 'Give a temporary password, or invite: true.' },
      ]);
    }
    if (body.client_id !== undefined) {
      if (!invite) throw invalidRequest('client_id goes with invite only.', [{ field: 'client_id', code: 'invalid_value', message: 'This field only goes with invite: true.' }]);
      if (!(await deps.provider.Client.find(body.client_id))) {
        throw invalidRequest('client_id is not a registered client.', [{ field: 'client_id', code: 'invalid_value', message: 'No client with this id is registered.' }]);
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
    }, context);

    const created = await getAccount(deps, user._id);
    if (!created) throw new Error('the account just created was not found');
    ctx.set('Location', `${deps.config.issuer.replace(/\/$/, '')}/api/admin/accounts/${encodeURIComponent(user._id)}`);
    return created;
  },
});

const showAccount = defineEndpoint({
  method: 'GET', path: '/api/admin/accounts/:id', access: 'admin',
  operationId: 'adminGetAccount', summary: 'An account in detail', description: 'Profile, state, lockout counters and connected apps. Never a password or its hash.',
  status: 200, success: { description: 'The account.', schema: accountDetail },
  problems: ['not-found'],
  async handle({ ctx, deps }) {
    const detail = await getAccount(deps, accountId(ctx));
    if (!detail) throw accountNotFound();
    return detail;
  },
});

const updateAccount = defineEndpoint({
  method: 'PATCH', path: '/api/admin/accounts/:id', access: 'admin', body: adminEditAccountRequest,
  operationId: 'adminEditAccount', summary: 'Change name, groups or notes', description: 'The fields given replace the current values.',
  status: 204, success: { description: 'Changed.' },
  problems: ['not-found'],
  async handle({ ctx, deps, body, context }) {
    const id = accountId(ctx);
    if (!Object.keys(body).length) {
      throw invalidRequest('Give at least one of name, groups, notes.', [{ field: BODY, code: 'required', message: 'Give at least one of name, groups, notes.' }]);
    }
    const result = await editAccount(deps, id, body, context);
    if (!result.ok) {
      // The schema above is the domain's own: this only happens if the two drift apart.
      throw invalidRequest('The request is not valid.', Object.entries(result.errors).map(([field, message]) => ({ field, code: 'invalid_value', message })));
    }
  },
});

/** An action on one account that takes no input. */
type Action = Omit<Endpoint<'admin', typeof emptyRequest>, 'access' | 'body' | 'optionalBody' | 'method'> & { method?: 'POST' | 'PUT' | 'DELETE' };
const accountAction = (endpoint: Action) => defineEndpoint({
  method: 'POST', access: 'admin', body: emptyRequest, optionalBody: true, ...endpoint, problems: ['not-found', ...(endpoint.problems ?? [])],
});

const sendResetEmail = accountAction({
  path: '/api/admin/accounts/:id/reset-email',
  operationId: 'adminSendReset', summary: 'Email a password reset link',
  description: 'An account that has not chosen a password yet gets its invitation again. The email is sent in the background.',
  status: 202, success: { description: 'The link is on its way.', schema: resetSent },
  problems: ['account-disabled', 'account-state'],
  handle: async ({ ctx, deps, context }) => ({ sent: await adminSendReset(deps, accountId(ctx), context) }),
});

const setTemporary = defineEndpoint({
  method: 'POST', path: '/api/admin/accounts/:id/temporary-password', access: 'admin', body: adminTemporaryPasswordRequest,
  operationId: 'adminSetTemporaryPassword', summary: 'Set a temporary password',
  description: 'The person must change it at the next sign-in; it expires. Every session, grant and token of the account ends, and its lockout is cleared.',
  status: 204, success: { description: 'Set.' },
  problems: ['not-found', 'password-policy'],
  async handle({ ctx, deps, body, context }) {
    const issues = await adminSetTemporaryPassword(deps, accountId(ctx), body.password, context);
    if (issues.length) throw policyProblem('password', issues);
  },
});

const revokeAccess = accountAction({
  path: '/api/admin/accounts/:id/revoke',
  operationId: 'adminForceSignIn', summary: 'Sign the person out everywhere',
  description: 'Ends every session, grant, refresh and access token of the account at once: apps\' refresh tokens fail and introspection answers inactive.',
  status: 200, success: { description: 'What was ended.', schema: revokeResult },
  handle: ({ ctx, deps, context }) => forceSignIn(deps, accountId(ctx), context),
});

const resetFactors = accountAction({
  path: '/api/admin/accounts/:id/factors/reset',
  operationId: 'adminResetFactors', summary: 'Remove every second factor',
  description: 'For a person who lost their authenticator app and their recovery codes: the next sign-in asks for the password only, and the person can set up an app again. The person is told by email; each removal is in the audit trail.',
  status: 200, success: { description: 'What was removed.', schema: factorsReset },
  handle: async ({ ctx, deps, context }) => ({ removed: await adminResetFactors(deps, accountId(ctx), context) }),
});

const deleteFactor = accountAction({
  method: 'DELETE', path: '/api/admin/accounts/:id/factors/:factorId',
  operationId: 'adminRemoveFactor', summary: 'Remove one second factor',
  description: 'Removes one of the factors the account lists: its authenticator app, its recovery codes or one passkey; the others stay. The person is told by email; the removal is in the audit trail (factor.removed) with the caller as actor. An id the account does not have, another account\'s included, is a 404 and removes nothing.',
  status: 204, success: { description: 'Removed.' },
  async handle({ ctx, deps, context }) {
    const id = accountId(ctx);
    const factorId = ctx.params.factorId ?? '';
    if (!(await deps.users.exists({ _id: id }))) throw accountNotFound();
    if (!FACTOR_ID_PATTERN.test(factorId)) throw factorNotFound();
    if (!(await removeFactor(deps.factors, id, factorId, context))) throw factorNotFound();
  },
});

const requireEnrolment = accountAction({
  path: '/api/admin/accounts/:id/factors/require-enrolment',
  operationId: 'adminRequireFactorEnrolment', summary: 'Require a second factor at the next sign-in',
  description: 'The person must set up two-step verification right after the password at their next sign-in (mustEnrolSecondFactor, cleared when they do). Idempotent: only a change is recorded in the audit trail (factor.enrolment_required).',
  status: 200, success: { description: 'Required.', schema: enrolmentRequired },
  handle: ({ ctx, deps, context }) => requireFactorEnrolment(deps, accountId(ctx), context),
});

const unlockAccount = accountAction({
  path: '/api/admin/accounts/:id/unlock',
  operationId: 'adminUnlock', summary: 'Clear a lockout',
  description: 'Clears the account\'s failure counter and lock, its trusted-browser counters and its per-IP sign-in throttles.',
  status: 204, success: { description: 'Unlocked.' },
  async handle({ ctx, deps, context }) {
    await adminUnlock(deps, accountId(ctx), context);
  },
});

const disableAccount = accountAction({
  path: '/api/admin/accounts/:id/disable',
  operationId: 'adminDisable', summary: 'Disable the account',
  description: 'It can no longer sign in; every session, grant, token and emailed link of it ends. An administrator cannot disable their own account.',
  status: 204, success: { description: 'Disabled.' },
  problems: ['own-admin-access'],
  async handle({ ctx, deps, caller, context }) {
    const id = accountId(ctx);
    if (isCaller(caller, id)) throw new ApiProblem('own-admin-access', 'You cannot disable your own account.');
    await setDisabled(deps, id, true, context);
  },
});

const enableAccount = accountAction({
  path: '/api/admin/accounts/:id/enable',
  operationId: 'adminEnable', summary: 'Enable a disabled account',
  description: 'It becomes active again (or invited, if it never chose a password). Enabling an account that is not disabled changes nothing.',
  status: 204, success: { description: 'Enabled.' },
  async handle({ ctx, deps, context }) {
    await setDisabled(deps, accountId(ctx), false, context);
  },
});

const grantAdmin = accountAction({
  method: 'PUT', path: '/api/admin/accounts/:id/roles/admin',
  operationId: 'adminGrantAdmin', summary: 'Make the account an administrator', description: 'Idempotent.',
  status: 204, success: { description: 'Granted.' },
  async handle({ ctx, deps, context }) {
    await setRole(deps, accountId(ctx), ADMIN_ROLE, true, context);
  },
});

const removeAdmin = accountAction({
  method: 'DELETE', path: '/api/admin/accounts/:id/roles/admin',
  operationId: 'adminRevokeAdmin', summary: 'Remove the admin role',
  description: 'Idempotent; takes effect on the account\'s next API call. An administrator cannot remove their own role.',
  status: 204, success: { description: 'Removed.' },
  problems: ['own-admin-access'],
  async handle({ ctx, deps, caller, context }) {
    const id = accountId(ctx);
    if (isCaller(caller, id)) throw new ApiProblem('own-admin-access', 'You cannot remove your own admin role.');
    await setRole(deps, id, ADMIN_ROLE, false, context);
  },
});

const listAudit = defineEndpoint({
  method: 'GET', path: '/api/admin/audit', access: 'admin', query: auditQuery, queryLists: ['event'],
  operationId: 'adminAuditTrail', summary: 'The audit trail',
  description: 'Security events, newest first. The actor of what administrators do through this API is `admin:<account id>`, and of client credentials `client:<client id>`.',
  status: 200, success: { description: 'Events.', schema: auditList },
  async handle({ deps, query }) {
    const records = await deps.audit.list({
      userId: query.user_id,
      events: query.event,
      since: query.since ? new Date(query.since) : undefined,
      until: query.until ? new Date(query.until) : undefined,
      limit: query.limit,
    });
    // mongoose leaves an empty `details` object out of the stored document.
    return { items: records.map(({ _id, expiresAt: _expires, ...record }) => ({ id: _id, ...record, details: record.details ?? {} })) };
  },
});

/** The admin API, in the order the document lists it. */
export const ADMIN_ENDPOINTS: Endpoint[] = [
  listAccounts, createAccount, showAccount, updateAccount, sendResetEmail, setTemporary, revokeAccess, resetFactors, deleteFactor, requireEnrolment,
  unlockAccount, disableAccount, enableAccount, grantAdmin, removeAdmin, listAudit,
] as Endpoint[];
