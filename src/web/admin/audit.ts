// The audit trail of every account, newest first, filtered by event, account
// email and a range of days (UTC). A filter that cannot be read is shown with an
// error beside it and left out; it never fails the page.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { AUDIT_EVENTS } from '../../accounts/audit.ts';
import { findUserByEmail } from '../../accounts/users.ts';
import { actorIds, actorText, detailsText, emailsOf, eventText, formatDateTime, renderAdmin, tAdmin } from './page.ts';

const LIMIT = 200;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

const filterSchema = z.object({
  event: z.enum(AUDIT_EVENTS).optional().catch(undefined),
  email: z.string().trim().max(254).optional().catch(undefined),
  since: z.string().trim().max(10).optional().catch(undefined),
  until: z.string().trim().max(10).optional().catch(undefined),
});

/** A YYYY-MM-DD day as its first instant (UTC), or null. */
function day(value: string | undefined): Date | null {
  if (!value || !DAY.test(value)) return null;
  const date = new Date(`${value}T00:00:00.000Z`);
  return Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value ? null : date;
}

export async function showAudit(ctx: Context, deps: AppDeps): Promise<void> {
  const filter = filterSchema.parse({ event: ctx.query.event, email: ctx.query.email, since: ctx.query.since, until: ctx.query.until });
  const errors: Record<string, string> = {};
  const since = day(filter.since);
  const untilDay = day(filter.until);
  if (filter.since && !since) errors.since = tAdmin('admin.audit.error.date');
  if (filter.until && !untilDay) errors.until = tAdmin('admin.audit.error.date');
  if (since && untilDay && untilDay < since) errors.until = tAdmin('admin.audit.error.order');
  if (typeof ctx.query.event === 'string' && ctx.query.event && !filter.event) errors.event = tAdmin('admin.audit.error.event');
  // Until is inclusive: the whole of that day.
  const until = untilDay && !errors.until ? new Date(untilDay.getTime() + 86_400_000) : null;

  let userId: string | undefined;
  let records: Awaited<ReturnType<typeof deps.audit.list>> = [];
  let noAccount = false;
  if (filter.email) {
    const user = await findUserByEmail(deps.users, filter.email);
    if (user) userId = user._id;
    else noAccount = true;
  }
  if (noAccount) errors.email = tAdmin('admin.audit.error.noAccount');
  else {
    records = await deps.audit.list({
      ...(userId ? { userId } : {}),
      ...(filter.event ? { events: [filter.event] } : {}),
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
      limit: LIMIT,
    });
  }
  const emails = await emailsOf(deps, [...records.map((r) => r.userId), ...actorIds(records.map((r) => r.actor))]);
  renderAdmin(ctx, 'audit', 'audit', {
    title: tAdmin('admin.audit.title'),
    values: { event: filter.event ?? '', email: typeof ctx.query.email === 'string' ? ctx.query.email.slice(0, 254) : '', since: filter.since ?? '', until: filter.until ?? '' },
    events: AUDIT_EVENTS.map((value) => ({ value, text: eventText(value) })),
    errors,
    limit: LIMIT,
    records: records.map((record) => ({
      at: formatDateTime(new Date(record.at)),
      iso: new Date(record.at).toISOString(),
      event: eventText(record.event),
      userId: record.userId,
      email: record.userId ? emails.get(record.userId) ?? record.userId : null,
      actor: actorText(record.actor, emails),
      ip: record.ip ?? '—',
      details: detailsText(record.details),
    })),
  });
}
