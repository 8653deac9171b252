// user:change-email: an operator changes an account's email address
// (accounts/email-change.ts, as the console and the admin API do), acting as `cli`
// in the audit trail. Without --override a confirmation link goes to the new address.
import type { Command } from 'commander';
import { CliError, action, examples, withServices } from './context.ts';
import { CLI, clip, printable } from './output.ts';

export function registerEmailCommands(program: Command): void {
  program
    .command('user:change-email')
    .summary('Change an account\'s email address (a confirmation link, or --override at once)')
    .description([
      'Change the email address of the account named by its id or its current address.',
      'By default a confirmation link goes to the new address and nothing changes until the person uses it; the old address then gets a notice with a link that undoes the change.',
      'With --override the address changes at once (email_verified becomes false) and the old address is told that an administrator changed it.',
      'Recorded in the audit trail (email.change_requested, email.changed) by cli.',
    ].join(' '))
    .argument('<account>', 'the account\'s id or current email address')
    .argument('<new-email>', 'the new email address')
    .option('--override', 'change it now, without a confirmation by the person')
    .addHelpText('after', examples('latchkey user:change-email ada@example.com ada.king@example.com', 'latchkey user:change-email 0b7c6f1e-4a2d-4f7e-9c1a-2f3d4e5f6a7b ada.king@example.com --override'))
    .action(action(async (account: string, newEmail: string, options: { override?: boolean }) => {
      if (account.length > 254 || newEmail.length > 254) throw new CliError('an account or an email address is at most 254 characters');
      const result = await withServices(async ({ services }) => {
        const [{ adminChangeEmail }, { findUserByEmail }] = await Promise.all([import('../accounts/email-change.ts'), import('../accounts/users.ts')]);
        const user = account.includes('@') ? await findUserByEmail(services.users, account) : await services.users.findById(account).lean();
        if (!user) throw new CliError(`no account ${printable(clip(account, 80))}`);
        const { emailChangeDeps } = await import('../web/account/email.ts');
        const deps = emailChangeDeps(services);
        return { from: user.email, ...(await adminChangeEmail(deps, user._id, { email: newEmail, mode: options.override ? 'override' : 'confirm' }, CLI)) };
      });
      if (result.status === 'changed') console.log(`changed ${result.from} to ${result.email} (the old address was told; email_verified is false)`);
      else console.log(`sent a confirmation link to ${result.email}; ${result.from} stays the address until the person uses it`);
    }));
}
