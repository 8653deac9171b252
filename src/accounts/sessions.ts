// A person's sessions: each browser signed in at the provider, with what the
// provider does not keep itself (the browser and system, the IP address, when it
// was last seen: session_devices, written by oidc/session-devices.ts), the apps
// signed in through it, and ending one of them or all but one. Ending a session
// ends the grants made through it and every code and token issued under them,
// at once on every instance (tokens are opaque and looked up on every use).
//
// Only live provider sessions are listed: a session that expired, was signed out
// (RP-initiated logout, "sign out everywhere") or ended here has no oidc_session
// document, and its device record, if any is left, is never shown and is swept
// when it expires.
import type { Collection, Db } from 'mongodb';
import { artifactCollection } from '../oidc/adapter.ts';
import { endGrants } from '../oidc/grants.ts';
import { SESSION_DEVICES, USER_AGENT_MAX, type StoredSessionDevice } from '../db/models/session-device.ts';
import type { AuditTrail, RequestContext } from './audit.ts';
import { PORTAL_SESSIONS } from './revocation.ts';
import { describeUserAgent, type DeviceDescription } from './user-agent.ts';

/** A session id as listSessions gives it (the provider's uid, 21 characters today): anything else names no session. */
export const SESSION_ID_PATTERN = /^[\w-]{1,64}$/;

/** An app signed in through a session: its grant is live. */
export interface SessionApp {
  clientId: string;
  grantId: string;
}

/**
 * One live session of an account, as every surface shows it (portal, console,
 * admin API, CLI, the data export). Plain data: dates are Date, unknowns null.
 */
export interface AccountSession {
  /** The provider session's uid: stable for the session's life, the id to end it by. Not its cookie. */
  id: string;
  /** When its sign-in finished (the provider's loginTs; a fresh sign-in in the same browser moves it). */
  signedInAt: Date | null;
  /** When it was last used to sign in to an app (refreshed at most every TOUCH_INTERVAL_MS); its sign-in time when never since. */
  lastSeenAt: Date | null;
  /** When it ends unless used again. */
  expiresAt: Date | null;
  /** The address it signed in from. */
  ip: string | null;
  /** The user agent it signed in with (cut to 512 characters); null when unknown (a session older than the record). */
  userAgent: string | null;
  /** Its browser and system, parsed from userAgent. */
  device: DeviceDescription;
  /** The apps signed in through it, by client id (the portal's own included). */
  apps: SessionApp[];
}

/** How often at most a session's lastSeenAt is written: often enough to read as "about when", rarely enough to cost nothing. */
export const TOUCH_INTERVAL_MS = 5 * 60_000;
/** Device records outlive their session by this much (touches are up to TOUCH_INTERVAL_MS apart); the list never shows them past it. */
const EXPIRY_MARGIN_MS = 60 * 60_000;

interface SessionPayload {
  uid: string;
  accountId?: string;
  loginTs?: number;
  authorizations?: Record<string, { grantId?: unknown }>;
}

const devices = (db: Db): Collection<StoredSessionDevice> => db.collection<StoredSessionDevice>(SESSION_DEVICES);
const liveNow = () => ({ $or: [{ expiresAt: null }, { expiresAt: { $gt: new Date() } }] });

/** The account's live provider sessions, newest sign-in first. */
async function liveSessions(db: Db, accountId: string, uid?: string): Promise<Array<{ payload: SessionPayload; expiresAt: Date | null }>> {
  const docs = await artifactCollection(db, 'Session')
    .find({ 'payload.accountId': accountId, ...(uid ? { 'payload.uid': uid } : {}), ...liveNow() }, { projection: { payload: 1, expiresAt: 1 } })
    .toArray();
  return docs.map((doc) => ({ payload: doc.payload as unknown as SessionPayload, expiresAt: doc.expiresAt }));
}

/** The grant ids a session's authorizations name (one per app it signed in to). */
function grantIdsOf(payload: SessionPayload): string[] {
  return Object.values(payload.authorizations ?? {})
    .map((authorization) => authorization?.grantId)
    .filter((grantId): grantId is string => typeof grantId === 'string' && grantId.length > 0);
}

/**
 * The account's live sessions, newest sign-in first, with their devices and apps.
 * The data export (accounts/export) and every surface list them through here.
 */
export async function listSessions(deps: { db: Db }, accountId: string): Promise<AccountSession[]> {
  const sessions = await liveSessions(deps.db, accountId);
  if (!sessions.length) return [];
  const uids = sessions.map((session) => session.payload.uid);
  const records = new Map((await devices(deps.db).find({ _id: { $in: uids }, accountId }).toArray()).map((record) => [record._id, record]));
  // An app is signed in through a session while the grant made there lives (revoking the app ends it).
  const grantIds = sessions.flatMap((session) => grantIdsOf(session.payload));
  const liveGrants = new Map((await artifactCollection(deps.db, 'Grant')
    .find({ _id: { $in: grantIds }, 'payload.accountId': accountId, ...liveNow() }, { projection: { _id: 1, 'payload.clientId': 1 } })
    .toArray()).map((grant) => [grant._id, (grant.payload as { clientId: string }).clientId]));

  return sessions.map(({ payload, expiresAt }): AccountSession => {
    const record = records.get(payload.uid);
    const signedInAt = payload.loginTs ? new Date(payload.loginTs * 1000) : record?.signedInAt ?? null;
    const apps = grantIdsOf(payload).filter((grantId) => liveGrants.has(grantId)).map((grantId) => ({ clientId: liveGrants.get(grantId)!, grantId }));
    return {
      id: payload.uid,
      signedInAt,
      lastSeenAt: record?.lastSeenAt ?? signedInAt,
      expiresAt,
      ip: record?.ip ?? null,
      userAgent: record?.userAgent ?? null,
      device: describeUserAgent(record?.userAgent),
      apps: apps.sort((a, b) => a.clientId.localeCompare(b.clientId)),
    };
  }).sort((a, b) => (b.signedInAt?.getTime() ?? 0) - (a.signedInAt?.getTime() ?? 0));
}

/** Ends sessions of the account: first the sessions (no new authorization through them), then their grants with every code and token. */
async function endSessions(db: Db, accountId: string, sessions: Array<{ payload: SessionPayload }>): Promise<{ sessions: number; grants: number }> {
  if (!sessions.length) return { sessions: 0, grants: 0 };
  const uids = sessions.map((session) => session.payload.uid);
  const { deletedCount } = await artifactCollection(db, 'Session').deleteMany({ 'payload.uid': { $in: uids }, 'payload.accountId': accountId });
  // Only the account's own grants, whatever a session document says.
  const named = sessions.flatMap((session) => grantIdsOf(session.payload));
  const grantIds = named.length
    ? (await artifactCollection(db, 'Grant').find({ _id: { $in: named }, 'payload.accountId': accountId }, { projection: { _id: 1 } }).toArray()).map((grant) => grant._id)
    : [];
  const grants = await endGrants(db, grantIds);
  // The account portal's sessions opened through them end with them (web/account/session.ts keys them by sid).
  await db.collection(PORTAL_SESSIONS).deleteMany({ accountId, sid: { $in: uids } });
  await devices(db).deleteMany({ _id: { $in: uids }, accountId });
  return { sessions: deletedCount, grants };
}

export interface SessionDeps {
  db: Db;
  audit: AuditTrail;
}

/**
 * Ends one session of the account: the browser is signed out at the provider, the
 * apps it signed in to lose their grants and tokens, and portal sessions opened
 * through it end. False when the account has no live session with this id (another
 * account's included): nothing changes, and nothing tells the two apart.
 */
export async function endSession(deps: SessionDeps, accountId: string, sessionId: string, context: RequestContext = {}): Promise<boolean> {
  if (typeof sessionId !== 'string' || !SESSION_ID_PATTERN.test(sessionId)) return false;
  const sessions = await liveSessions(deps.db, accountId, sessionId);
  if (!sessions.length) return false;
  const ended = await endSessions(deps.db, accountId, sessions);
  if (!ended.sessions) return false; // ended meanwhile by another request, which recorded it
  await deps.audit.record('session.ended', accountId, context, { sessionId, grants: ended.grants });
  return true;
}

/**
 * Ends every session of the account but `keepSessionId` (the browser that asks):
 * "sign out my other sessions". Grants not made through a session (an app's
 * refresh tokens whose session already expired) stay: the connected apps page ends those.
 */
export async function endOtherSessions(deps: SessionDeps, accountId: string, keepSessionId: string, context: RequestContext = {}): Promise<{ sessions: number; grants: number }> {
  const others = (await liveSessions(deps.db, accountId)).filter((session) => session.payload.uid !== keepSessionId);
  const ended = await endSessions(deps.db, accountId, others);
  if (ended.sessions) await deps.audit.record('sessions.ended_others', accountId, context, { sessions: ended.sessions, grants: ended.grants });
  return ended;
}

/** What a finished sign-in tells about its browser. */
export interface SignInDevice {
  sessionId: string;
  accountId: string;
  userAgent: string | null | undefined;
  ip: string | null | undefined;
}

/**
 * A sign-in finished in provider session `sessionId`: its device record says who,
 * with which browser, from where and when. A new sign-in in the same session (the
 * same person again, or after a sign-out another) replaces it.
 */
export async function recordSignIn(db: Db, device: SignInDevice, sessionLifetimeMs: number, now = new Date()): Promise<void> {
  await devices(db).replaceOne({ _id: device.sessionId }, {
    accountId: device.accountId,
    userAgent: device.userAgent ? device.userAgent.slice(0, USER_AGENT_MAX) : null,
    ip: device.ip ? device.ip.slice(0, 64) : null,
    signedInAt: now,
    lastSeenAt: now,
    expiresAt: new Date(now.getTime() + sessionLifetimeMs + EXPIRY_MARGIN_MS),
  }, { upsert: true });
}

/**
 * The session was used again: its lastSeenAt (and expiry) move, but only when the
 * last write is older than TOUCH_INTERVAL_MS. One conditional update that matches
 * nothing most of the time; a session without a record (older than the feature)
 * stays without one.
 */
export async function touchSession(db: Db, sessionId: string, accountId: string, sessionLifetimeMs: number, now = new Date()): Promise<void> {
  await devices(db).updateOne(
    { _id: sessionId, accountId, lastSeenAt: { $lt: new Date(now.getTime() - TOUCH_INTERVAL_MS) } },
    { $set: { lastSeenAt: now, expiresAt: new Date(now.getTime() + sessionLifetimeMs + EXPIRY_MARGIN_MS) } },
  );
}
