// The apps a person has let in: their grants, and revoking one (which ends its
// tokens at once, since every token is looked up on use).
import type { Db } from 'mongodb';
import { endGrants, grantOf, grantsOf, type StoredGrant } from '../oidc/grants.ts';
import type { AuditTrail, RequestContext } from './audit.ts';

export type ConnectedApp = Omit<StoredGrant, 'accountId'>;

export async function listConnectedApps(db: Db, accountId: string): Promise<ConnectedApp[]> {
  return (await grantsOf(db, accountId))
    .map(({ accountId: _account, ...app }) => app)
    .sort((a, b) => (b.grantedAt?.getTime() ?? 0) - (a.grantedAt?.getTime() ?? 0));
}

/** Revokes one grant of this account: its codes, access and refresh tokens go with it. False if it is not theirs. */
export async function revokeConnectedApp(
  deps: { db: Db; audit: AuditTrail },
  accountId: string,
  grantId: string,
  context: RequestContext = {},
): Promise<boolean> {
  const grant = await grantOf(deps.db, accountId, grantId);
  if (!grant) return false;
  await endGrants(deps.db, [grant.grantId]);
  await deps.audit.record('grant.revoked', accountId, context, { clientId: grant.clientId });
  return true;
}
