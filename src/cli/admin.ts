// Account management for operators: user:find, user:show, user:edit, user:disable,
// user:enable, user:temp-password, user:send-reset, audit:list. Each is a thin
// wrapper over src/accounts/admin.ts (the console and the admin API call the
// same functions), acting as `cli` in the audit trail.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { AUDIT_EVENTS, type RequestContext } from '../accounts/audit.ts';
import type { AccountStatus, AccountSummary } from '../accounts/admin.ts';
import type { AuditRecord } from '../db/models/audit.ts';
import type { User } from '../db/models/user.ts';
import type { Services } from '../deps.ts';
import { CliError, action, examples, passwordFromStdin, withServices } from './context.ts';

const CLI: RequestContext = { actor: 'cli' };

/** The statuses findAccounts filters by, with what each means. A Record, so a status added there must be added here. */
const STATUSES: Record<AccountStatus, string> = {
  active: 'can sign in',
  invited: 'has not chosen a password yet',
  unverified: 'signed up, email not confirmed',
  must_change: 'holds a temporary password',
  locked: 'locked out after failed sign-ins',
  disabled: 'disabled by an operator',
};

/** An integer option within [min, max], refused with commander's "argument ... is invalid" otherwise. */
function integer(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`Must be a whole number from ${min} to ${max}.`);
    return n;
  };
}

/** An ISO 8601 date (2026-01-31) or date and time (2026-01-31T12:00:00Z); a date alone is midnight UTC, a time without a zone local time. */
function isoDate(value: string): Date {
  const text = value.trim();
  const shape = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;
  const date = new Date(text);
  if (!shape.test(text) || Number.isNaN(date.getTime())) throw new InvalidArgumentError('Must be an ISO 8601 date or date and time, such as 2026-01-31 or 2026-01-31T12:00:00Z.');
  return date;
}

async function accountByEmail(services: Services, email: string): Promise<User> {
  const { findUserByEmail } = await import('../accounts/users.ts');
  const user = await findUserByEmail(services.users, email);
  if (!user) throw new CliError(`no account with email ${email}`);
  return user;
}

const iso = (date: Date | null | undefined) => (date ? new Date(date).toISOString() : '-');
const json = (value: unknown) => console.log(JSON.stringify(value, null, 2));
/**
 * Text people chose (names, notes, groups, user agents) as one terminal line: control
 * characters, escape sequences among them, become spaces so they cannot rewrite the
 * operator's screen.
 */
const printable = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
/** One line of a table cell: printable, long text cut. */
const clip = (text: string, max: number) => {
  const flat = printable(text);
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

function flagsOf(account: Pick<AccountSummary, 'roles' | 'mustChangePassword' | 'locked'>): string[] {
  return [...account.roles, ...(account.mustChangePassword ? ['must-change'] : []), ...(account.locked ? ['locked'] : [])];
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function describeDetails(details: AuditRecord['details']): string {
  return Object.entries(details ?? {}).map(([key, value]) => `${key}=${value === null ? '-' : String(value)}`).join(' ');
}

/** Audit records as aligned lines; accounts named by their email where it is known. */
function auditLines(records: AuditRecord[], emails: Map<string, string>): string {
  return table(['time', 'event', 'actor', 'account', 'ip', 'details'], records.map((r) => [
    iso(r.at), r.event, clip(r.actor, 60), r.userId ? clip(emails.get(r.userId) ?? r.userId, 60) : '-', clip(r.ip ?? '-', 45), clip(describeDetails(r.details), 120),
  ]));
}

export function registerAdminCommands(program: Command): void {
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

  program
    .command('user:show')
    .summary('Show one account: profile, status, password, lockout, apps, recent activity')
    .description('Show an account: its profile, status, roles, groups and notes, whether it has a password (never the password or its hash), its failed sign-ins and lock, the apps it let in, and its last 20 audit events.')
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
      console.log(`\nrecent activity (${events.length === 20 ? 'last 20' : events.length} event${events.length === 1 ? '' : 's'}):`);
      if (events.length) console.log(auditLines(events, new Map([[account.id, account.email]])).replace(/^/gm, '  '));
      else console.log('  none');
    }));

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

  program
    .command('audit:list')
    .summary('Show audit events, newest first')
    .description([
      'Show the audit trail, newest first: time, event, actor, account, IP address and details.',
      'Filter by account, by event (comma-separated) and by time (--since inclusive, --until exclusive; a date alone is midnight UTC).',
      `Events: ${AUDIT_EVENTS.join(', ')}.`,
    ].join('\n'))
    .option('--email <email>', 'only events of this account')
    .option('--event <events>', 'only these events (comma-separated)')
    .option('--since <iso>', 'only events at or after this time', isoDate)
    .option('--until <iso>', 'only events before this time', isoDate)
    .option('--limit <n>', 'at most this many events (at most 500)', integer(1, 500), 50)
    .option('--json', 'print the events as JSON')
    .addHelpText('after', examples(
      'latchkey audit:list --email ada@example.com',
      'latchkey audit:list --event signin.failed,account.locked --since 2026-01-01 --limit 200',
    ))
    .action(action(async (options: { email?: string; event?: string; since?: Date; until?: Date; limit: number; json?: boolean }) => {
      const events = options.event === undefined ? undefined : options.event.split(',').map((e) => e.trim()).filter(Boolean);
      if (events && !events.length) throw new CliError('--event: give at least one event');
      const unknown = events?.filter((e) => !(AUDIT_EVENTS as readonly string[]).includes(e)) ?? [];
      if (unknown.length) throw new CliError(`--event: unknown event ${unknown.join(', ')}; known: ${AUDIT_EVENTS.join(', ')}`);
      if (options.since && options.until && options.since >= options.until) throw new CliError('--since must be before --until');

      const { records, emails } = await withServices(async ({ services }) => {
        const user = options.email === undefined ? null : await accountByEmail(services, options.email);
        const records = await services.audit.list({ userId: user?._id, events, since: options.since, until: options.until, limit: options.limit });
        const ids = [...new Set(records.map((r) => r.userId).filter((id): id is string => Boolean(id)))];
        const owners = ids.length ? await services.users.find({ _id: { $in: ids } }, { email: 1 }).lean<Array<Pick<User, '_id' | 'email'>>>() : [];
        return { records, emails: new Map(owners.map((u) => [u._id, u.email])) };
      });
      if (options.json) return json(records.map((r) => ({ ...r, email: r.userId ? emails.get(r.userId) ?? null : null })));
      if (!records.length) {
        console.log('no audit events match');
        return;
      }
      console.log(auditLines(records, emails));
      console.log(`${records.length} event${records.length === 1 ? '' : 's'}${records.length === options.limit ? ` (the newest ${options.limit}; --limit for more)` : ''}`);
    }));
}
