// Account commands for operators, one function each: user:create, user:find,
// user:show, user:edit, user:role, user:disable, user:enable, user:temp-password,
// user:send-reset, user:revoke, user:reset-factors, user:remove-factor,
// user:require-factor, user:unlock. Each is a thin wrapper over the
// domain (src/accounts/admin.ts, which the console and the admin API call too),
// acting as `cli` in the audit trail.
import { Option, type Command } from 'commander';
import type { AccountStatus } from '../accounts/admin.ts';
import { CliError, action, examples, passwordFromStdin, withServices } from './context.ts';
import { FACTOR_ID_PATTERN, type FactorSummary } from '../accounts/factors.ts';
import { CLI, STATUSES, accountByEmail, auditLines, clip, flagsOf, integer, iso, json, printable, table } from './output.ts';

/** "authenticator app", "passkey "Work laptop"", "recovery codes". */
const factorText = (factor: Pick<FactorSummary, 'kind' | 'name'>) =>
  (factor.kind === 'totp' ? 'authenticator app' : factor.kind === 'passkey' ? `passkey "${clip(factor.name ?? '', 60)}"` : 'recovery codes');

/** A second factor's id as user:show lists it (a UUID). */

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
  userCreate(program);
  userFind(program);
  userShow(program);
  userEdit(program);
  userRole(program);
  userDisable(program);
  userEnable(program);
  userTempPassword(program);
  userSendReset(program);
  userRevoke(program);
  userResetFactors(program);
  userRemoveFactor(program);
  userRequireFactor(program);
  userUnlock(program);
}

function userCreate(program: Command): void {
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
          const invited = await inviteUser(services.passwords, { email: options.email, name: options.name, clientId: options.client ?? null }, { actor: 'cli' });
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
}

function userFind(program: Command): void {
  program
    .command('user:find')
    .summary('Search accounts by email or name, and by status')
    .description([
      'List accounts, sorted by email, a page at a time. --query matches words of the email or name by prefix (every word must match); --status filters by one of:',
      ...Object.entries(STATUSES).map(([status, meaning]) => `  ${status.padEnd(12)} ${meaning}`),
    ].join('\n'))
    .option('--query <words>', 'words the email or name start with')
    .addOption(new Option('--status <status>', 'only accounts with this status').choices(Object.keys(STATUSES)))
    .option('--page <n>', 'the page to show', integer(1, 10_000), 1)
    .option('--page-size <n>', 'accounts per page (at most 200)', integer(1, 200), 25)
    .option('--json', 'print the result as JSON ({ items, total, page, pageSize })')
    .addHelpText('after', examples('latchkey user:find --query ada', 'latchkey user:find --status locked --json', 'latchkey user:find --status invited --page 2 --page-size 100'))
    .action(action(async (options: { query?: string; status?: AccountStatus; page: number; pageSize: number; json?: boolean }) => {
      if (options.query !== undefined && options.query.trim().length > 100) throw new CliError('--query is longer than 100 characters');
      const { findAccounts } = await import('../accounts/admin.ts');
      const result = await withServices(({ services }) => findAccounts(services, {
        q: options.query, status: options.status, page: options.page, pageSize: options.pageSize,
      }));
      if (options.json) return json(result);
      const pages = Math.max(1, Math.ceil(result.total / result.pageSize));
      if (result.items.length) {
        console.log(table(['email', 'name', 'status', 'flags', 'groups'], result.items.map((a) => [
          clip(a.email, 60), clip(a.name || '-', 40), a.status, clip(flagsOf(a).join(',') || '-', 40), clip(a.groups.join(',') || '-', 60),
        ])));
      } else {
        console.log(result.total ? 'no accounts on this page' : 'no accounts match');
      }
      console.log(`page ${result.page} of ${pages} (${result.total} account${result.total === 1 ? '' : 's'})`);
    }));
}

function userShow(program: Command): void {
  program
    .command('user:show')
    .summary('Show one account: profile, status, password, lockout, apps, recent activity')
    .description('Show an account: its profile, status, roles, groups and notes, whether it has a password (never the password or its hash), its failed sign-ins and lock, the apps it let in, its second factors (never a secret), and its last 20 audit events.')
    .requiredOption('--email <email>', 'the account\'s email address')
    .option('--json', 'print the account as JSON (with its recent audit events under "audit")')
    .addHelpText('after', examples('latchkey user:show --email ada@example.com', 'latchkey user:show --email ada@example.com --json'))
    .action(action(async (options: { email: string; json?: boolean }) => {
      const { getAccount } = await import('../accounts/admin.ts');
      const { account, events } = await withServices(async ({ services }) => {
        const user = await accountByEmail(services, options.email);
        const account = await getAccount(services, user._id);
        if (!account) throw new CliError(`no account with email ${options.email}`);
        return { account, events: await services.audit.list({ userId: user._id, limit: 20 }) };
      });
      if (options.json) return json({ ...account, audit: events });

      const now = new Date();
      const lock = account.lockout;
      const rows: Array<[string, string]> = [
        ['id', account.id],
        ['email', `${account.email}${account.emailVerified ? ' (verified)' : ' (not verified)'}`],
        ['name', printable(account.name) || '-'],
        ['status', account.status],
        ['roles', account.roles.join(', ') || '-'],
        ['groups', printable(account.groups.join(', ')) || '-'],
        ['password', account.hasPassword
          ? `set${account.passwordChangedAt ? ` (changed ${iso(account.passwordChangedAt)})` : ''}${account.mustChangePassword ? '; temporary: must be changed at the next sign-in' : ''}`
          : 'not set'],
        ['failed sign-ins', lock ? `${lock.totalFailures} since the last success (${lock.failures} in the current window)` : '0'],
        ['locked', lock?.lockedUntil && lock.lockedUntil > now ? `until ${iso(lock.lockedUntil)} (lock number ${lock.lockCount})` : 'no'],
        ['locale', printable(account.locale ?? '-')],
        ['phone', printable(account.phoneNumber ?? '-')],
        ['created', iso(account.createdAt)],
        ['notes', account.notes ? account.notes.split(/\r?\n/).map(printable).join(`\n${' '.repeat(19)}`) : '-'],
      ];
      for (const [label, value] of rows) console.log(`${`${label}:`.padEnd(17)}  ${value}`);

      console.log(`\nconnected apps (${account.apps.length}):`);
      if (account.apps.length) {
        console.log(table(['  client', 'scopes', 'granted'], account.apps.map((app) => [`  ${clip(app.clientId, 60)}`, clip(app.scopes.join(' ') || '-', 80), iso(app.grantedAt)])));
      } else {
        console.log('  none');
      }
      console.log(`\nsecond factors (${account.factors.length}):`);
      if (account.factors.length) {
        console.log(table(['  kind', 'id', 'added', 'last used', 'codes left'], account.factors.map((factor) => [
          `  ${factorText(factor)}`, factor.id, iso(factor.createdAt), iso(factor.lastUsedAt),
          factor.remainingCodes === null ? '-' : `${factor.remainingCodes} of ${factor.codeCount}`,
        ])));
        console.log('  (user:remove-factor <email> <id> removes one)');
      } else {
        console.log('  none');
      }
      if (account.mustEnrolSecondFactor) console.log('  required: must set up two-step verification at the next sign-in');
      console.log(`\nrecent activity (${events.length === 20 ? 'last 20' : events.length} event${events.length === 1 ? '' : 's'}):`);
      if (events.length) console.log(auditLines(events, new Map([[account.id, account.email]])).replace(/^/gm, '  '));
      else console.log('  none');
    }));
}

function userEdit(program: Command): void {
  program
    .command('user:edit')
    .summary('Change an account\'s name, groups or notes')
    .description('Change an account\'s display name, its groups (the `groups` claim; the list given replaces the current one, "" clears it) or the operators\' private notes on it.')
    .requiredOption('--email <email>', 'the account\'s email address')
    .option('--name <name>', 'display name (at most 200 characters)')
    .option('--groups <list>', 'comma-separated groups, replacing the current ones ("" for none)')
    .option('--notes <text>', 'private notes (at most 2000 characters; "" clears them)')
    .addHelpText('after', examples('latchkey user:edit --email ada@example.com --name "Ada King" --groups staff,engineering', 'latchkey user:edit --email ada@example.com --groups ""'))
    .action(action(async (options: { email: string; name?: string; groups?: string; notes?: string }) => {
      if (options.name === undefined && options.groups === undefined && options.notes === undefined) throw new CliError('give --name, --groups or --notes (or several)');
      const input: Record<string, unknown> = {};
      if (options.name !== undefined) input.name = options.name;
      if (options.notes !== undefined) input.notes = options.notes;
      if (options.groups !== undefined) input.groups = options.groups.split(',').map((g) => g.trim()).filter(Boolean);
      const { editAccount } = await import('../accounts/admin.ts');
      await withServices(async ({ services }) => {
        const user = await accountByEmail(services, options.email);
        const result = await editAccount(services, user._id, input, CLI);
        if (!result.ok) throw new CliError(Object.entries(result.errors).map(([field, message]) => `--${field}: ${message}`).join('; '));
      });
      console.log(`updated ${options.email}: ${Object.keys(input).join(', ')}`);
    }));
}

function userRole(program: Command): void {
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
}

function userDisable(program: Command): void {
  program
    .command('user:disable')
    .summary('Disable an account: no sign-in, and every session and token ends')
    .description('Disable an account: it can no longer sign in, and its sessions, grants, tokens and unused emailed links end at once. user:enable undoes it.')
    .requiredOption('--email <email>', 'the account\'s email address')
    .addHelpText('after', examples('latchkey user:disable --email ada@example.com'))
    .action(action(async (options: { email: string }) => {
      const { setDisabled } = await import('../accounts/admin.ts');
      const was = await withServices(async ({ services }) => {
        const user = await accountByEmail(services, options.email);
        // Even when it already was: ending its sessions and links again is harmless.
        await setDisabled(services, user._id, true, CLI);
        return user;
      });
      console.log(was.status === 'disabled'
        ? `${was.email} was already disabled (its sessions, tokens and links were ended again)`
        : `disabled ${was.email}: it cannot sign in, and its sessions, tokens and links have ended`);
    }));
}

function userEnable(program: Command): void {
  program
    .command('user:enable')
    .summary('Enable a disabled account')
    .description('Enable a disabled account. One with a password can sign in again; one that never chose a password is invited again (send its link with user:send-reset).')
    .requiredOption('--email <email>', 'the account\'s email address')
    .addHelpText('after', examples('latchkey user:enable --email ada@example.com'))
    .action(action(async (options: { email: string }) => {
      const { setDisabled } = await import('../accounts/admin.ts');
      const { before, after } = await withServices(async ({ services }) => {
        const user = await accountByEmail(services, options.email);
        await setDisabled(services, user._id, false, CLI);
        return { before: user, after: await accountByEmail(services, options.email) };
      });
      console.log(before.status !== 'disabled'
        ? `${before.email} is not disabled (status ${before.status}): nothing changed`
        : `enabled ${after.email}: status ${after.status}`);
    }));
}

function userTempPassword(program: Command): void {
  program
    .command('user:temp-password')
    .summary('Give an account a temporary password, to be changed at the next sign-in')
    .description([
      'Set a temporary password an operator hands to the person: it must pass the password policy, must be changed',
      'at the next sign-in, and expires (links.temporaryPasswordDays). The old password stops working, and the',
      'account\'s sessions, tokens and lockout end.',
    ].join(' '))
    .requiredOption('--email <email>', 'the account\'s email address')
    .addOption(new Option('--password <password>', 'the temporary password (visible in shell history; prefer --password-stdin)').conflicts('passwordStdin'))
    .addOption(new Option('--password-stdin', 'read the temporary password from stdin (one line)').conflicts('password'))
    .addHelpText('after', examples('printf \'%s\\n\' "$TEMP" | latchkey user:temp-password --email ada@example.com --password-stdin'))
    .action(action(async (options: { email: string; password?: string; passwordStdin?: boolean }) => {
      let password = options.password;
      if (options.passwordStdin) password = await passwordFromStdin();
      if (password === undefined) throw new CliError('give --password or --password-stdin');
      const { adminSetTemporaryPassword } = await import('../accounts/admin.ts');
      const { user, issues } = await withServices(async ({ services }) => {
        const found = await accountByEmail(services, options.email);
        const issues = await adminSetTemporaryPassword(services, found._id, password!, CLI);
        return { user: issues.length ? found : await accountByEmail(services, options.email), issues };
      });
      if (issues.length) throw new CliError(`the password was refused:\n${issues.map((issue) => `  - ${issue.message}`).join('\n')}`);
      console.log(`set a temporary password for ${user.email}: it must be changed at the next sign-in and expires ${iso(user.temporaryPasswordExpiresAt)}; its sessions and tokens have ended`);
      if (user.status === 'disabled') console.log('  note: the account is disabled; enable it with user:enable before the person can sign in');
    }));
}

function userSendReset(program: Command): void {
  program
    .command('user:send-reset')
    .summary('Email a password-reset link (or, to an invited account, its invitation again)')
    .description('Email the account a password-reset link. An account that never chose a password gets a fresh invitation (a set-password link) instead. A disabled account is refused.')
    .requiredOption('--email <email>', 'the account\'s email address')
    .addHelpText('after', examples('latchkey user:send-reset --email ada@example.com'))
    .action(action(async (options: { email: string }) => {
      const { adminSendReset } = await import('../accounts/admin.ts');
      const { user, sent } = await withServices(async ({ services }) => {
        const user = await accountByEmail(services, options.email);
        return { user, sent: await adminSendReset(services, user._id, CLI) };
      });
      console.log(sent === 'reset'
        ? `sent a password-reset link to ${user.email}`
        : `${user.email} has not chosen a password yet: sent a new invitation (a link to choose one)`);
    }));
}

function userRevoke(program: Command): void {
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
}

function userResetFactors(program: Command): void {
  program
    .command('user:reset-factors')
    .summary('Remove every second factor of an account (a lost phone and lost recovery codes)')
    .description('Remove the account\'s authenticator app and recovery codes: the next sign-in asks for the password only, and the person can set up an app again in the account portal. The person is told by email; each removal is in the audit trail.')
    .requiredOption('--email <email>', 'the account\'s email address')
    .addHelpText('after', examples('latchkey user:reset-factors --email ada@example.com'))
    .action(action(async (options: { email: string }) => {
      const { adminResetFactors } = await import('../accounts/admin.ts');
      const removed = await withServices(async ({ services }) => adminResetFactors(services, (await accountByEmail(services, options.email))._id, CLI));
      console.log(removed ? `removed ${removed} second factor${removed === 1 ? '' : 's'} of ${options.email}` : `${options.email} has no second factor`);
    }));
}

function userRemoveFactor(program: Command): void {
  program
    .command('user:remove-factor')
    .summary('Remove one second factor of an account (its authenticator app, its recovery codes or one passkey)')
    .description('Remove one of the account\'s second factors, by the id user:show lists; the others stay. The person is told by email; the removal is in the audit trail (factor.removed, by cli). user:reset-factors removes them all.')
    .argument('<email>', 'the account\'s email address')
    .argument('<factorId>', 'the factor\'s id, as user:show lists it')
    .addHelpText('after', examples('latchkey user:show --email ada@example.com', 'latchkey user:remove-factor ada@example.com 0b7c6f1e-4a2d-4f7e-9c1a-2f3d4e5f6a7b'))
    .action(action(async (email: string, factorId: string) => {
      const listed = `user:show --email ${email} lists its factors`;
      if (!FACTOR_ID_PATTERN.test(factorId)) throw new CliError(`not a second factor id: "${clip(factorId, 40)}" (${listed})`);
      const { factorsOf, removeFactor } = await import('../accounts/factors.ts');
      const removed = await withServices(async ({ services }) => {
        const user = await accountByEmail(services, email);
        // Only an id on this account's own list: another account's factor is "no such factor".
        const factor = (await factorsOf(services.factors, user._id)).find((f) => f.id === factorId);
        if (!factor || !(await removeFactor(services.factors, user._id, factor.id, CLI))) {
          throw new CliError(`${email} has no second factor with id ${factorId} (${listed})`);
        }
        return factor;
      });
      console.log(`removed the ${factorText(removed)} of ${email} (the person was told by email)`);
    }));
}

function userRequireFactor(program: Command): void {
  program
    .command('user:require-factor')
    .summary('Require an account to set up two-step verification at its next sign-in')
    .description('Require the account to set up a second factor right after the password at its next sign-in (cleared when it does). Idempotent; the change is in the audit trail as factor.enrolment_required. user:show shows the requirement.')
    .argument('[email]', 'the account\'s email address (or --email)')
    .option('--email <email>', 'the account\'s email address')
    .addHelpText('after', examples('latchkey user:require-factor ada@example.com', 'latchkey user:require-factor --email ada@example.com'))
    .action(action(async (positional: string | undefined, options: { email?: string }) => {
      if (positional !== undefined && options.email !== undefined && positional !== options.email) throw new CliError('give the email once: as an argument or with --email');
      const email = positional ?? options.email;
      if (!email) throw new CliError('give the account\'s email address: latchkey user:require-factor <email>');
      const { requireFactorEnrolment } = await import('../accounts/factor-admin.ts');
      const result = await withServices(async ({ services }) => requireFactorEnrolment(services, (await accountByEmail(services, email))._id, CLI));
      console.log(result.changed
        ? `${email} must set up two-step verification at the next sign-in`
        : `${email} was already required to set up two-step verification at the next sign-in (nothing changed)`);
      if (result.hasSecondFactor) console.log('  note: the account already has a second factor');
    }));
}

function userUnlock(program: Command): void {
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
