// Where a session's device record (accounts/sessions.ts) is written: around the
// provider's authorization routes, after the provider has done its work, so one
// place sees every way a sign-in finishes (password, second factor, passkey, a
// forced change, setting up a factor: they all end in the provider's resume).
//
// - resume with a login result: a sign-in just finished in this session (its uid
//   is only known here: a first sign-in's session is made at this step);
// - any other authorization in a signed-in session (an app signing in silently
//   through it, the portal included): the session was used, so its lastSeenAt
//   moves, at most every few minutes (one conditional update, no write on other
//   requests: tokens, userinfo and pages never touch it).
import type { Db } from 'mongodb';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { recordSignIn, touchSession } from '../accounts/sessions.ts';
import { USER_AGENT_MAX } from '../db/models/session-device.ts';
import type { Logger } from '../log.ts';

const AUTHORIZATION_ROUTES = new Set(['authorization', 'resume']);

interface SessionState {
  uid?: string;
  accountId?: string;
  destroyed?: boolean;
}

/** A provider middleware (provider.use); a failed write is logged and never fails the sign-in it describes. */
export function recordingSessionDevices(db: Db, sessionLifetimeMs: number, log?: Logger) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    await next();
    const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
    if (!oidc || !AUTHORIZATION_ROUTES.has(oidc.route) || ctx.status >= 400) return;
    const session = oidc.session as SessionState | undefined;
    if (!session?.uid || !session.accountId || session.destroyed) return;
    const login = (oidc.result as { login?: { accountId?: string } } | undefined)?.login;
    try {
      if (oidc.route === 'resume' && login?.accountId === session.accountId) {
        await recordSignIn(db, {
          sessionId: session.uid, accountId: session.accountId, userAgent: ctx.get('user-agent').slice(0, USER_AGENT_MAX) || null, ip: ctx.ip,
        }, sessionLifetimeMs);
      } else {
        await touchSession(db, session.uid, session.accountId, sessionLifetimeMs);
      }
    } catch (error) {
      log?.error({ err: error }, 'session device record not written');
    }
  };
}
