// Account commands: user:create, user:unlock.
import { Option, type Command } from 'commander';
import { CliError, action, examples, passwordFromStdin, withServices } from './context.ts';

interface CreateOptions {
  email: string;
  password?: string;
  passwordStdin?: boolean;
  name?: string;
  mustChange?: boolean;
  invite?: boolean;
  client?: string;
  admin?: boolean;
}

export function registerUserCommands(program: Command): void {
  program
    .command('user:create')
    .summary('Create an account, with a password or an invitation')
    .description([
      'Create an account. With --password it is active at once (--must-change makes it a temporary password,',
      'to be changed at the first sign-in). With --invite it has no password: the person gets an email link to choose one.',
    ].join('\n'))
    .requiredOption('--email <email>', 'the account\'s email address (its sign-in name)')
    .addOption(new Option('--password <password>', 'the initial password (visible in shell history; prefer --password-stdin)').conflicts(['passwordStdin', 'invite']))
    .addOption(new Option('--password-stdin', 'read the password from stdin (one line)').conflicts(['password', 'invite']))
    .option('--name <name>', 'display name')
    .addOption(new Option('--must-change', 'the password is temporary: it must be changed at the first sign-in, and expires').conflicts('invite'))
    .option('--invite', 'no password: email a link to choose one (pre-registration)')
    .option('--client <client_id>', 'with --invite: the app to continue to after the password is set')
    .option('--admin', 'give the account the admin role (the console at /admin and the admin API)')
    .addHelpText('after', examples(
      'latchkey user:create --email ada@example.com --name "Ada Lovelace" --invite',
      'printf \'%s\\n\' "$TEMP" | latchkey user:create --email ada@example.com --password-stdin --must-change',
      'printf \'%s\\n\' "$PASSWORD" | latchkey user:create --email ada@example.com --name "Ada Lovelace" --password-stdin',
      'latchkey user:create --email ada@example.com --password \'correct horse battery staple\'',
    ))
    .action(action(async (options: CreateOptions) => {
      if (options.client && !options.invite) throw new CliError('--client goes with --invite');
      if (options.invite) {
        const [{ inviteUser }, { loadClientsFile }] = await Promise.all([import('../accounts/password-links.ts'), import('../oidc/clients.ts')]);
        const user = await withServices(async ({ services, config }) => {
          const known = !options.client
            || loadClientsFile(config.policy.clientsFile).some((c) => c.client_id === options.client)
            || (await services.db.collection('oidc_client').countDocuments({ _id: options.client as never })) > 0;
          if (!known) throw new CliError(`no client with client_id ${options.client}`);
          const invited = await inviteUser(services.flows, { email: options.email, name: options.name, clientId: options.client ?? null }, { actor: 'cli' });
          if (options.admin) await services.users.updateOne({ _id: invited._id }, { $addToSet: { roles: 'admin' } });
          await services.mailer.close();
          return invited;
        });
        console.log(`invited ${user.email} (${user._id}): a link to choose a password was sent`);
        return;
      }
      let password = options.password;
      if (options.passwordStdin) password = await passwordFromStdin();
      if (password === undefined) throw new CliError('--password is required (or --password-stdin to read it from stdin)');

      const { createUser } = await import('../accounts/users.ts');
      const user = await withServices(({ services }) => createUser(services, {
        email: options.email, password, name: options.name, roles: options.admin ? ['admin'] : [],
        temporaryUntil: options.mustChange ? new Date(Date.now() + services.temporaryPasswordMs) : undefined,
      }));
      console.log(`created user ${user.email} (${user._id})${options.mustChange ? ': the password must be changed at the first sign-in' : ''}`);
    }));

  program
    .command('user:role')
    .summary('Add or remove a role (admin)')
    .description('Add or remove a role on an account. The admin role opens the console at /admin and the admin API.')
    .requiredOption('--email <email>', 'the account\'s email address')
    .addOption(new Option('--add <role>', 'role to add').choices(['admin']).conflicts('remove'))
    .addOption(new Option('--remove <role>', 'role to remove').choices(['admin']).conflicts('add'))
    .addHelpText('after', examples('latchkey user:role --email ada@example.com --add admin'))
    .action(action(async (options: { email: string; add?: string; remove?: string }) => {
      if (!options.add && !options.remove) throw new CliError('give --add ROLE or --remove ROLE');
      const [{ findUserByEmail }, { setRole }] = await Promise.all([import('../accounts/users.ts'), import('../accounts/admin.ts')]);
      await withServices(async ({ services }) => {
        const user = await findUserByEmail(services.users, options.email);
        if (!user) throw new CliError(`no account with email ${options.email}`);
        await setRole(services, user._id, (options.add ?? options.remove)!, Boolean(options.add), { actor: 'cli' });
      });
      console.log(`${options.add ? 'added' : 'removed'} role ${options.add ?? options.remove} ${options.add ? 'to' : 'from'} ${options.email}`);
    }));

  program
    .command('user:revoke')
    .summary('Force sign-in: revoke every session, grant and token of an account')
    .description('Force sign-in: every grant, session, refresh and access token of the account ends at once; the next authorization asks for the password.')
    .requiredOption('--email <email>', 'the account\'s email address')
    .addHelpText('after', examples('latchkey user:revoke --email ada@example.com'))
    .action(action(async (options: { email: string }) => {
      const [{ findUserByEmail }, { forceSignIn }] = await Promise.all([import('../accounts/users.ts'), import('../accounts/admin.ts')]);
      const result = await withServices(async ({ services }) => {
        const user = await findUserByEmail(services.users, options.email);
        if (!user) throw new CliError(`no account with email ${options.email}`);
        return forceSignIn(services, user._id, { actor: 'cli' });
      });
      console.log(`revoked ${options.email}: ${result.sessions} session(s) and ${result.grants} grant(s) ended`);
    }));

  program
    .command('user:unlock')
    .summary('Clear an account\'s lockout')
    .description('Clear an account\'s lockout: its failure counters, its trusted browsers\' counters and its sign-in throttles.')
    .requiredOption('--email <email>', 'the account\'s email address')
    .addHelpText('after', examples('latchkey user:unlock --email ada@example.com'))
    .action(action(async (options: { email: string }) => {
      const [{ findUserByEmail, unlockUser }, { accountSubject }] = await Promise.all([
        import('../accounts/users.ts'),
        import('../accounts/lockout.ts'),
      ]);
      await withServices(async ({ services }) => {
        const user = await findUserByEmail(services.users, options.email);
        if (!user) throw new CliError(`no account with email ${options.email}`);
        // Read before clearing, so the operator sees what was there.
        const before = await services.lockout.state(accountSubject(user._id));
        await unlockUser(services, user.email, { actor: 'cli' });

        console.log(`unlocked ${user.email} (${user._id})`);
        if (!before) {
          console.log('  no failed sign-ins were recorded');
          return;
        }
        const now = new Date();
        console.log(`  failed sign-ins since the last success: ${before.totalFailures} (${before.failures} in the current window)`);
        if (before.lockedUntil && before.lockedUntil > now) {
          console.log(`  was locked until ${before.lockedUntil.toISOString()} (lock number ${before.lockCount})`);
        } else if (before.lockedUntil) {
          console.log(`  was not locked (the last lock ended ${before.lockedUntil.toISOString()})`);
        } else {
          console.log('  was not locked');
        }
      });
    }));
}
