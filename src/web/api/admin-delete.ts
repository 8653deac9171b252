// Deleting an account through the admin API (issue 14): DELETE /api/admin/accounts/{id}.
// The same domain function as the console, the CLI and the portal (accounts/deletion.ts):
// every session, grant and token ends at once, the records go, the audit trail keeps the
// events under a pseudonym, the person is emailed at the address the account had. An
// operator's deletion is immediate, as a directory's (SCIM) is: the grace period of the
// policy protects people from their own mistake in the portal, not operators' requests.
import { deleteAccountAndTell, deletionNotice } from '../../accounts/deletion.ts';
import { accountNotFound } from './domain-problems.ts';
import { defineEndpoint, type Endpoint } from './endpoint.ts';
import { emptyRequest } from './schemas.ts';

/** Longer than any id we issue: names no account, and never reaches a query. */
const MAX_ID = 200;

const deleteAccountEndpoint = defineEndpoint({
  method: 'DELETE', path: '/api/admin/accounts/:id', access: 'admin', body: emptyRequest, optionalBody: true,
  operationId: 'adminDeleteAccount', summary: 'Delete an account',
  description: 'Deletes the account at once: every session, grant and token ends (refresh fails, introspection answers inactive), '
    + 'its profile, password hashes, second factors, passkeys, trusted browsers and pending links are erased, and its email address '
    + 'can be used again. Audit events about it stay under a pseudonymous id (account.deleted, with the caller as actor); webhook '
    + 'receivers get account.deleted with the account\'s id. The person is emailed at the address the account had. The last '
    + 'active administrator is never deleted (409).',
  status: 204, success: { description: 'Deleted.' },
  problems: ['not-found', 'account-state'],
  async handle({ ctx, deps, context }) {
    const id = ctx.params.id ?? '';
    if (!id || id.length > MAX_ID) throw accountNotFound();
    // AccountError not_found and last_admin become their problems (domain-problems.ts).
    await deleteAccountAndTell(deps, deletionNotice(deps), id, context);
  },
});

export const DELETE_ENDPOINTS: readonly Endpoint[] = [deleteAccountEndpoint];
