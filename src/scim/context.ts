// What the SCIM domain uses: the account domain's dependencies (accounts/admin.ts),
// the groups collection, and where its resources live, for meta.location and $ref.
import type { AdminDeps } from '../accounts/admin.ts';
import type { GroupModel } from '../db/models/group.ts';

/** The SCIM domain's dependencies, given by the web layer (web/scim/routes.ts). */
export interface ScimDeps {
  admin: AdminDeps;
  groups: GroupModel;
  /** The base URL of the SCIM endpoints (…/scim/v2), for meta.location and $ref. */
  baseUrl: string;
}
