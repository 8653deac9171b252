// The admin API's view of an account's sessions (accounts/sessions.ts): the list
// the person sees in the portal, and ending one of them, which signs that browser
// out and ends the grants and tokens of the apps signed in through it at once.
import type { Context } from 'koa';
import { endSession, listSessions, SESSION_ID_PATTERN } from '../../accounts/sessions.ts';
import { ApiProblem } from './problem.ts';
import { accountNotFound } from './domain-problems.ts';
import { defineEndpoint, type Endpoint } from './endpoint.ts';
import { emptyRequest } from './schemas.ts';
import { accountSessionList } from './session-schemas.ts';

const MAX_ID = 200;

/** The path parameter these endpoints add to openapi.ts's. */
export const SESSION_PATH_PARAMETERS = {
  sessionId: {
    name: 'sessionId', in: 'path', required: true,
    description: 'A session\'s id, as `GET /api/admin/accounts/{id}/sessions` lists it.',
    schema: { type: 'string', pattern: SESSION_ID_PATTERN.source },
  },
};

/** The account named by the path, which must exist (a 404 otherwise, as every admin endpoint answers). */
async function existingAccount(ctx: Context, users: { exists(filter: { _id: string }): Promise<unknown> }): Promise<string> {
  const id = ctx.params.id ?? '';
  if (!id || id.length > MAX_ID || !(await users.exists({ _id: id }))) throw accountNotFound();
  return id;
}

const sessionNotFound = () => new ApiProblem('not-found', 'The account has no live session with this id.');

const listAccountSessions = defineEndpoint({
  method: 'GET', path: '/api/admin/accounts/:id/sessions', access: 'admin',
  operationId: 'adminListSessions', summary: 'The account\'s sessions',
  description: 'Every browser signed in to the account at the provider: browser and system (parsed from the user agent), when it signed in and was last used, its address, and the apps signed in through it. Ended and expired sessions are not listed.',
  status: 200, success: { description: 'The sessions.', schema: accountSessionList },
  problems: ['not-found'],
  async handle({ ctx, deps }) {
    const sessions = await listSessions(deps, await existingAccount(ctx, deps.users));
    return {
      items: sessions.map(({ device, apps, ...session }) => ({ ...session, browser: device.browser, os: device.os, apps: apps.map(({ clientId }) => ({ clientId })) })),
    };
  },
});

const endAccountSession = defineEndpoint({
  method: 'DELETE', path: '/api/admin/accounts/:id/sessions/:sessionId', access: 'admin', body: emptyRequest, optionalBody: true,
  operationId: 'adminEndSession', summary: 'End one session',
  description: 'Signs that browser out at the provider (its next authorization asks for the password) and ends the grants of the apps signed in through it, with their refresh and access tokens, at once. The account\'s other sessions stay. Recorded in the audit trail as session.ended with the caller as actor. An id the account does not have, another account\'s included, is a 404 and ends nothing.',
  status: 204, success: { description: 'Ended.' },
  problems: ['not-found'],
  async handle({ ctx, deps, context }) {
    const id = await existingAccount(ctx, deps.users);
    const sessionId = ctx.params.sessionId ?? '';
    if (!SESSION_ID_PATTERN.test(sessionId)) throw sessionNotFound();
    if (!(await endSession(deps, id, sessionId, context))) throw sessionNotFound();
  },
});

export const SESSION_ENDPOINTS: Endpoint[] = [listAccountSessions, endAccountSession] as Endpoint[];
