// Account commands: user:create, user:unlock.
import { Option, type Command } from 'commander';
import { CliError, action, examples, readStdin, withServices } from './context.ts';

interface CreateOptions {
  email: string;
  password?: string;
  passwordStdin?: boolean;
  name?: string;
}

/** The password from stdin: one line, without its trailing newline. */
async function passwordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Password (then Enter and Ctrl-D): ');
  const text = (await readStdin('the password', 16 * 1024)).replace(/\r?\n$/, '');
  if (!text) throw new CliError('--password-stdin: no password on stdin');
  if (/[\r\n]/.test(text)) throw new CliError('--password-stdin: the password must be a single line');
  return text;
}

export function registerUserCommands(program: Command): void {
  program
    .command('user:create')
    .summary('Create an account with a password')
    .description('Create an account with a password. The account is active at once.')
    .requiredOption('--email <email>', 'the account\'s email address (its sign-in name)')
    .addOption(new Option('--password <password>', 'the initial password (visible in shell history; prefer --password-stdin)').conflicts('passwordStdin'))
    .addOption(new Option('--password-stdin', 'read the password from stdin (one line)').conflicts('password'))
    .option('--name <name>', 'display name')
    .addHelpText('after', examples(
      'printf \'%s\\n\' "$PASSWORD" | latchkey user:create --email ada@example.com --name "Ada Lovelace" --password-stdin',
      'latchkey user:create --email ada@example.com --password \'correct horse battery staple\'',
    ))
    .action(action(async (options: CreateOptions) => {
      let password = options.password;
      if (options.passwordStdin) password = await passwordFromStdin();
      if (password === undefined) throw new CliError('--password is required (or --password-stdin to read it from stdin)');

      const { createUser } = await import('../accounts/users.ts');
      const user = await withServices(({ services }) =>
        createUser(services, { email: options.email, password, name: options.name }));
      console.log(`created user ${user.email} (${user._id})`);
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
        await unlockUser(services, user.email);

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
