// What the operator commands share: how they act in the audit trail, their option
// parsers, finding an account by email, and printing tables and audit lines safely.
import { InvalidArgumentError } from 'commander';
import type { RequestContext } from '../accounts/audit.ts';
import type { AccountStatus, AccountSummary } from '../accounts/admin.ts';
import type { AuditRecord } from '../db/models/audit.ts';
import type { User } from '../db/models/user.ts';
import type { Services } from '../deps.ts';
import { CliError } from './context.ts';

export const CLI: RequestContext = { actor: 'cli' };

/** The statuses findAccounts filters by, with what each means. A Record, so a status added there must be added here. */
export const STATUSES: Record<AccountStatus, string> = {
  active: 'can sign in',
  invited: 'has not chosen a password yet',
  unverified: 'signed up, email not confirmed',
  must_change: 'holds a temporary password',
  locked: 'locked out after failed sign-ins',
  disabled: 'disabled by an operator',
};

/** An integer option within [min, max], refused with commander's "argument ... is invalid" otherwise. */
export function integer(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`Must be a whole number from ${min} to ${max}.`);
    return n;
  };
}

/** An ISO 8601 date (2026-01-31) or date and time (2026-01-31T12:00:00Z); a date alone is midnight UTC, a time without a zone local time. */
export function isoDate(value: string): Date {
  const text = value.trim();
  const shape = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;
  const date = new Date(text);
  if (!shape.test(text) || Number.isNaN(date.getTime())) throw new InvalidArgumentError('Must be an ISO 8601 date or date and time, such as 2026-01-31 or 2026-01-31T12:00:00Z.');
  return date;
}

export async function accountByEmail(services: Services, email: string): Promise<User> {
  const { findUserByEmail } = await import('../accounts/users.ts');
  const user = await findUserByEmail(services.users, email);
  if (!user) throw new CliError(`no account with email ${email}`);
  return user;
}

export const iso = (date: Date | null | undefined) => (date ? new Date(date).toISOString() : '-');
export const json = (value: unknown) => console.log(JSON.stringify(value, null, 2));
/**
 * Text people chose (names, notes, groups, user agents) as one terminal line: control
 * characters, escape sequences among them, become spaces so they cannot rewrite the
 * operator's screen.
 */
export const printable = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
/** One line of a table cell: printable, long text cut. */
export const clip = (text: string, max: number) => {
  const flat = printable(text);
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

export function flagsOf(account: Pick<AccountSummary, 'roles' | 'mustChangePassword' | 'locked'>): string[] {
  return [...account.roles, ...(account.mustChangePassword ? ['must-change'] : []), ...(account.locked ? ['locked'] : [])];
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function describeDetails(details: AuditRecord['details']): string {
  return Object.entries(details ?? {}).map(([key, value]) => `${key}=${value === null ? '-' : String(value)}`).join(' ');
}

/** Audit records as aligned lines; accounts named by their email where it is known. */
export function auditLines(records: AuditRecord[], emails: Map<string, string>): string {
  return table(['time', 'event', 'actor', 'account', 'ip', 'details'], records.map((r) => [
    iso(r.at), r.event, clip(r.actor, 60), r.userId ? clip(emails.get(r.userId) ?? r.userId, 60) : '-', clip(r.ip ?? '-', 45), clip(describeDetails(r.details), 120),
  ]));
}

