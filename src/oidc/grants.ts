// What the provider keeps for a person, read and ended directly in its collections:
// grants with the codes and tokens issued under them, and sessions. The one place
// that knows how oidc-provider stores them (adapter.ts); tokens are opaque and
// looked up on every use, so what is deleted here stops working at once on every
// instance.
import type { Db } from 'mongodb';
import { GRANTABLE_MODELS, artifactCollection } from './adapter.ts';

export interface StoredGrant {
  grantId: string;
  accountId: string;
  clientId: string;
  scopes: string[];
  grantedAt: Date | null;
}

interface GrantPayload {
  accountId: string;
  clientId: string;
  iat?: number;
  openid?: { scope?: string };
}

const grants = (db: Db) => artifactCollection(db, 'Grant');

function toGrant(doc: { _id: string; payload: unknown }): StoredGrant {
  const payload = doc.payload as GrantPayload;
  return {
    grantId: doc._id,
    accountId: payload.accountId,
    clientId: payload.clientId,
    scopes: (payload.openid?.scope ?? '').split(' ').filter(Boolean),
    grantedAt: payload.iat ? new Date(payload.iat * 1000) : null,
  };
}

/** The account's unexpired grants. */
export async function grantsOf(db: Db, accountId: string): Promise<StoredGrant[]> {
  const docs = await grants(db).find({ 'payload.accountId': accountId, $or: [{ expiresAt: null }, { expiresAt: { $gt: new Date() } }] }).toArray();
  return docs.map(toGrant);
}

/** One grant, if it is the account's. */
export async function grantOf(db: Db, accountId: string, grantId: string): Promise<StoredGrant | null> {
  const doc = await grants(db).findOne({ _id: grantId, 'payload.accountId': accountId });
  return doc ? toGrant(doc) : null;
}

/** Ends grants: the codes and tokens issued under them first, then the grants. Returns how many grants ended. */
export async function endGrants(db: Db, grantIds: string[]): Promise<number> {
  if (!grantIds.length) return 0;
  for (const model of GRANTABLE_MODELS) await artifactCollection(db, model).deleteMany({ 'payload.grantId': { $in: grantIds } });
  const { deletedCount } = await grants(db).deleteMany({ _id: { $in: grantIds } });
  return deletedCount;
}

/**
 * Ends every grant of the account and every code and token issued to it, except
 * those of `keepGrantId`. Returns how many grants ended.
 */
export async function endAccountGrants(db: Db, accountId: string, keepGrantId?: string | null): Promise<number> {
  const keep = keepGrantId ? { _id: { $ne: keepGrantId } } : {};
  const grantIds = (await grants(db).find({ 'payload.accountId': accountId, ...keep }, { projection: { _id: 1 } }).toArray()).map((g) => g._id);
  const ended = await endGrants(db, grantIds);
  // Tokens whose grant is already gone, or that were issued while the grants were read.
  const keepTokens = keepGrantId ? { 'payload.grantId': { $ne: keepGrantId } } : {};
  for (const model of GRANTABLE_MODELS) await artifactCollection(db, model).deleteMany({ 'payload.accountId': accountId, ...keepTokens });
  const { deletedCount } = await grants(db).deleteMany({ 'payload.accountId': accountId, ...keep });
  return ended + deletedCount;
}

/** Ends the account's provider sessions (browsers signed in), except `keepUid`. Returns how many ended. */
export async function endAccountSessions(db: Db, accountId: string, keepUid?: string | null): Promise<number> {
  const keep = keepUid ? { 'payload.uid': { $ne: keepUid } } : {};
  const { deletedCount } = await artifactCollection(db, 'Session').deleteMany({ 'payload.accountId': accountId, ...keep });
  return deletedCount;
}
