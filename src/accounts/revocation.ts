// Signing a person out everywhere: every session, grant, and token of the account,
// effective at once (tokens are opaque and looked up on every use).
import type { Db } from 'mongodb';
import { GRANTABLE_MODELS, artifactCollection } from '../oidc/adapter.ts';

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
  const grants = artifactCollection(db, 'Grant');
  const keepGrant = options.keepGrantId ? { _id: { $ne: options.keepGrantId } } : {};
  const keepGrantTokens = options.keepGrantId ? { 'payload.grantId': { $ne: options.keepGrantId } } : {};
  const grantIds = (await grants.find({ 'payload.accountId': accountId, ...keepGrant }, { projection: { _id: 1 } }).toArray()).map((g) => g._id);
  for (const model of GRANTABLE_MODELS) {
    const collection = artifactCollection(db, model);
    if (grantIds.length) await collection.deleteMany({ 'payload.grantId': { $in: grantIds } });
    await collection.deleteMany({ 'payload.accountId': accountId, ...keepGrantTokens });
  }
  const { deletedCount: grantCount } = await grants.deleteMany({ 'payload.accountId': accountId, ...keepGrant });
  // "Sign out my other devices" keeps the browser that asked.
  const keepSession = options.keepSessionUid ? { 'payload.uid': { $ne: options.keepSessionUid } } : {};
  const { deletedCount: sessions } = await artifactCollection(db, 'Session').deleteMany({ 'payload.accountId': accountId, ...keepSession });
  await db.collection(PORTAL_SESSIONS).deleteMany({ accountId, ...(options.keepSessionUid ? { sid: { $ne: options.keepSessionUid } } : {}) });
  return { sessions, grants: grantCount };
}
