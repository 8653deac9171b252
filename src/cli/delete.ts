// user:delete: an operator deletes an account (issue 14), by id or email, through the
// same domain function as the console, the admin API and the portal (accounts/deletion.ts),
// acting as `cli` in the audit trail. It asks for the account's email typed back unless
// --yes is given; without a terminal to ask on, it refuses instead of guessing.
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { User } from '../db/models/user.ts';
import type { Services } from '../deps.ts';
import { CliError, action, examples, withServices } from './context.ts';
import { CLI, accountByEmail, clip } from './output.ts';

/** The account named by its email (with an @) or its id. */
async function accountOf(services: Services, idOrEmail: string): Promise<User> {
  if (idOrEmail.includes('@')) return accountByEmail(services, idOrEmail);
  const user = idOrEmail.length <= 200 ? await services.users.findById(idOrEmail).lean<User>() : null;
  if (!user) throw new CliError(`no account with id ${clip(idOrEmail, 60)}`);
  return user;
}

/** The operator types the account's email back; anything else keeps it. */
async function confirmed(email: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new CliError('not deleting without confirmation: run it in a terminal to be asked, or add --yes');
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const typed = await prompt.question(`This deletes ${email} and everything stored about it, at once. Type the email address to confirm: `);
    return typed.trim().toLowerCase() === email.toLowerCase();
  } finally {
    prompt.close();
  }
}

export function registerDeleteCommands(program: Command): void {
  program
    .command('user:delete')
    .summary('Delete an account for good: its sessions and tokens end, its data is erased')
    .description([
      'Delete an account at once: every session, grant and token ends, its profile, password hashes, second factors, passkeys,',
      'trusted browsers and pending links are erased, and its email address can be used again. Audit events about it stay under',
      'a pseudonymous id (account.deleted, by cli). The person is emailed at the address the account had. The last active',
      'administrator is never deleted.',
    ].join(' '))
    .argument('<account>', 'the account\'s id or email address')
    .option('--yes', 'do not ask for confirmation')
    .addHelpText('after', examples('latchkey user:delete ada@example.com', 'latchkey user:delete 3f0c2a7e-0000-4000-8000-000000000000 --yes'))
    .action(action(async (account: string, options: { yes?: boolean }) => {
      const { deleteAccountAndTell, deletionNotice } = await import('../accounts/deletion.ts');
      const deleted = await withServices(async ({ services }) => {
        const user = await accountOf(services, account);
        if (!options.yes && !(await confirmed(user.email))) throw new CliError(`not deleted: ${user.email} was not typed back`);
        return deleteAccountAndTell(services, deletionNotice(services), user._id, CLI);
      });
      console.log(`deleted ${deleted.contact.email}: ${deleted.sessions} session(s) and ${deleted.grants} grant(s) ended; its audit events now carry ${deleted.pseudonym}`);
    }));
}
