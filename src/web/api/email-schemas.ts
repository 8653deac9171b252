// The admin API's change of email (web/api/admin-email.ts): its request and answer,
// registered with the other admin schemas (schemas.ts) for the OpenAPI document.
import { z } from 'zod';
import { EMAIL_MAX } from '../../accounts/email.ts';

export const adminChangeEmailRequest = z.strictObject({
  email: z.email().max(EMAIL_MAX).meta({ description: 'The new address (at most 254 characters). Another account\'s address is refused (email-taken).' }),
  mode: z.enum(['confirm', 'override']).meta({
    description: 'confirm: a link goes to the new address and nothing changes until the person uses it (then email_verified is true, and the old address gets a notice with an undo link). override: the address changes now, email_verified becomes false (nobody has shown the mailbox is theirs), and the old address is told an administrator changed it, with no undo link.',
  }),
}).meta({
  title: 'AdminChangeEmailRequest',
  examples: [{ email: 'ada.king@example.com', mode: 'confirm' }],
});

export const emailChangeResult = z.object({
  status: z.enum(['pending', 'changed']).meta({ description: 'pending: the confirmation link is on its way to the new address; changed: the account has the new address now.' }),
  change_id: z.string().meta({ description: 'The change\'s id (the audit trail\'s email.change_requested / email.changed events carry it as changeId).' }),
  email: z.string().meta({ description: 'The new address, as it will be stored.' }),
}).meta({ title: 'EmailChangeResult' });

export const EMAIL_REQUEST_SCHEMAS = { AdminChangeEmailRequest: adminChangeEmailRequest } as const;
export const EMAIL_RESPONSE_SCHEMAS = { EmailChangeResult: emailChangeResult } as const;
