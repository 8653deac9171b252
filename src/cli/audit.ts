// audit:list: the audit trail for operators, filtered by account, event and time.
import type { Command } from 'commander';
import { AUDIT_EVENTS } from '../accounts/audit.ts';
import type { User } from '../db/models/user.ts';
import { CliError, action, examples, withServices } from './context.ts';
import { accountByEmail, auditLines, integer, isoDate, json } from './output.ts';

export function registerAuditCommands(program: Command): void {
  auditList(program);
}

function auditList(program: Command): void {
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
