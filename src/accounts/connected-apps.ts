// The apps a person has let in: their grants, and revoking one (which ends its
// tokens at once, since every token is looked up on use).
import type { Db } from 'mongodb';
import { GRANTABLE_MODELS, artifactCollection } from '../oidc/adapter.ts';
import type { AuditTrail, RequestContext } from './audit.ts';

export interface ConnectedApp {
  grantId: string;
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

export async function listConnectedApps(db: Db, accountId: string): Promise<ConnectedApp[]> {
  const grants = await artifactCollection(db, 'Grant')
    .find({ 'payload.accountId': accountId, $or: [{ expiresAt: null }, { expiresAt: { $gt: new Date() } }] })
    .toArray();
  return grants
    .map((doc) => {
      const payload = doc.payload as unknown as GrantPayload;
      return {
        grantId: doc._id,
        clientId: payload.clientId,
        scopes: (payload.openid?.scope ?? '').split(' ').filter(Boolean),
        grantedAt: payload.iat ? new Date(payload.iat * 1000) : null,
      };
    })
    .sort((a, b) => (b.grantedAt?.getTime() ?? 0) - (a.grantedAt?.getTime() ?? 0));
}

/** Revokes one grant of this account: its codes, access and refresh tokens go with it. False if it is not theirs. */
export async function revokeConnectedApp(
  deps: { db: Db; audit: AuditTrail },
  accountId: string,
  grantId: string,
  context: RequestContext = {},
): Promise<boolean> {
  const grants = artifactCollection(deps.db, 'Grant');
  const grant = await grants.findOne({ _id: grantId, 'payload.accountId': accountId });
  if (!grant) return false;
  for (const model of GRANTABLE_MODELS) await artifactCollection(deps.db, model).deleteMany({ 'payload.grantId': grantId });
  await grants.deleteOne({ _id: grantId });
  await deps.audit.record('grant.revoked', accountId, context, { clientId: (grant.payload as unknown as GrantPayload).clientId });
  return true;
}
