// Signing a person out everywhere: every session, grant, and token of the account,
// effective at once (tokens are opaque and looked up on every use).
import type { Db } from 'mongodb';
import { endAccountGrants, endAccountSessions } from '../oidc/grants.ts';
import { TRUSTED_BROWSERS } from '../db/models/trusted-browser.ts';
import { SESSION_DEVICES } from '../db/models/session-device.ts';

/** Portal sessions (our own account pages) end with the rest. */
export const PORTAL_SESSIONS = 'portal_sessions';

/**
 * keepSessionUid: the provider session (and portal session) of the browser that asked stays.
 * keepGrantId: the grant of the app that asked stays, with its tokens (an app with its own UI
 * changing the password for the person in front of it, who should not be signed out of it).
 */
export async function revokeAccountAccess(
  db: Db,
  accountId: string,
  options: { keepSessionUid?: string | null; keepGrantId?: string | null } = {},
): Promise<{ sessions: number; grants: number }> {
  const grants = await endAccountGrants(db, accountId, options.keepGrantId);
  // "Sign out my other devices" keeps the browser that asked.
  const sessions = await endAccountSessions(db, accountId, options.keepSessionUid);
  await db.collection(PORTAL_SESSIONS).deleteMany({ accountId, ...(options.keepSessionUid ? { sid: { $ne: options.keepSessionUid } } : {}) });
  // The device records of the ended sessions (accounts/sessions.ts); the sessions list ignores any left anyway.
  await db.collection<{ _id: string }>(SESSION_DEVICES).deleteMany({ accountId, ...(options.keepSessionUid ? { _id: { $ne: options.keepSessionUid } } : {}) });
  // Browsers trusted to skip the second step are trusted no more (accounts/trusted-browsers.ts).
  await db.collection(TRUSTED_BROWSERS).deleteMany({ userId: accountId });
  return { sessions, grants };
}
