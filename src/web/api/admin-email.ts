// Changing an account's email address from the admin API (accounts/email-change.ts):
// "confirm" mails the new address a link, "override" changes it at once. Either way
// the caller is the audit trail's actor and the old address is told.
import { adminChangeEmail } from '../../accounts/email-change.ts';
import { emailChangeDeps } from '../account/email.ts';
import { accountNotFound } from './domain-problems.ts';
import { defineEndpoint, type Endpoint } from './endpoint.ts';
import { adminChangeEmailRequest, emailChangeResult } from './email-schemas.ts';

const MAX_ID = 200;

const changeEmail = defineEndpoint({
  method: 'POST', path: '/api/admin/accounts/:id/email', access: 'admin', body: adminChangeEmailRequest,
  operationId: 'adminChangeEmail', summary: 'Change the account\'s email address',
  description: 'mode "confirm": a confirmation link goes to the new address (status pending); the account changes when the person uses it, and its old address then gets a notice with a link that undoes the change. mode "override": the address changes at once (status changed), email_verified becomes false, and the old address is told that an administrator changed it and whom to ask (policy theme supportEmail or supportUrl). Either way pending password-reset links stop working once the address changes. Recorded in the audit trail (email.change_requested, email.changed) with the caller as actor; webhook account.email_changed. The same address as now is an invalid-request.',
  status: 200, success: { description: 'Requested or changed.', schema: emailChangeResult },
  problems: ['not-found', 'email-taken', 'account-disabled'],
  async handle({ ctx, deps, body, context }) {
    const id = ctx.params.id ?? '';
    if (!id || id.length > MAX_ID) throw accountNotFound();
    const result = await adminChangeEmail(emailChangeDeps(deps), id, body, context);
    return { status: result.status, change_id: result.changeId, email: result.email };
  },
});

export const EMAIL_ENDPOINTS: Endpoint[] = [changeEmail] as Endpoint[];
