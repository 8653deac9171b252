// Webhooks in the admin console: the endpoints with a form to register one, and
// one endpoint's page (change it, a new secret, delete it, its deliveries with the
// last answer, redeliver one). A secret is shown on the page that answers the POST
// that made it, once, never in a URL. The domain is src/webhooks.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { WEBHOOK_EVENTS, WEBHOOK_EVENT_TYPES } from '../../webhooks/events.ts';
import { DESCRIPTION_MAX, URL_MAX, WebhookError, type EndpointView } from '../../webhooks/endpoints.ts';
import type { DeliveryStatus } from '../../db/models/webhook.ts';
import { HttpError } from '../http-error.ts';
import { echo, type FieldErrors } from '../forms.ts';
import { render } from '../render.ts';
import { actorText, adminContext, adminOf, emailsOf, formatDateTime, seeOther, tAdmin } from './page.ts';

const ID = /^wh[ep]_[\w-]{1,64}$|^dlv_[\w-]{1,64}$/;
const UNREADABLE = tAdmin('admin.form.unreadable');

/** Notices by code: catalog keys (locales/en/admin.json). */
const NOTICES: Record<string, string> = {
  webhook_saved: 'admin.notice.webhookSaved',
  webhook_deleted: 'admin.notice.webhookDeleted',
  redelivered: 'admin.notice.redelivered',
};

const EVENT_CHOICES = WEBHOOK_EVENT_TYPES.map((value) => ({ value, text: WEBHOOK_EVENTS[value] }));

/** Admin pages of this section: the nav's "Webhooks" is current, the notice is this module's own. */
function renderWebhooks(ctx: Context, view: string, locals: Record<string, unknown>, status = 200): void {
  const { user } = adminOf(ctx);
  const key = status === 200 && typeof ctx.query.notice === 'string' && Object.hasOwn(NOTICES, ctx.query.notice) ? NOTICES[ctx.query.notice]! : null;
  const notice = key ? tAdmin(key) : null;
  render(ctx, `admin/${view}`, { section: 'webhooks', me: { id: user._id, email: user.email }, notice, ...locals }, status);
}

function notFound(): HttpError {
  return new HttpError(404, 'admin.error.webhookNotFound.title', 'admin.error.webhookNotFound.message');
}

function idParam(ctx: Context, name: string): string {
  const id = ctx.params[name];
  if (typeof id !== 'string' || !ID.test(id)) throw notFound();
  return id;
}

/** A domain refusal about a field, as that field's error; a missing endpoint as the 404 page. */
async function domain<T>(work: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; errors: FieldErrors; status: 400 | 409 }> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    if (!(error instanceof WebhookError)) throw error;
    if (error.code === 'not_found') throw notFound();
    if (error.code === 'not_redeliverable') return { ok: false, errors: { deliveries: error.message }, status: 409 };
    return { ok: false, errors: { [error.field ?? 'form']: error.message }, status: 400 };
  }
}

const endpointForm = z.object({
  url: z.string({ error: (issue) => (issue.input === undefined ? tAdmin('admin.webhooks.error.urlMissing') : UNREADABLE) }).max(URL_MAX, tAdmin('admin.webhooks.error.tooLong', { max: URL_MAX })),
  // One checkbox ticked arrives as a string, several as a list.
  events: z.union([z.string(), z.array(z.string()).max(WEBHOOK_EVENT_TYPES.length + 1)], { error: (issue) => (issue.input === undefined ? tAdmin('admin.webhooks.error.eventsMissing') : UNREADABLE) })
    .transform((value) => (typeof value === 'string' ? [value] : value)),
  description: z.string({ error: UNREADABLE }).max(DESCRIPTION_MAX, tAdmin('admin.webhooks.error.tooLong', { max: DESCRIPTION_MAX })).optional(),
});

function readEndpointForm(ctx: Context): { ok: true; data: z.infer<typeof endpointForm> } | { ok: false; errors: FieldErrors } {
  const parsed = endpointForm.safeParse(ctx.request.body ?? {});
  if (parsed.success) return { ok: true, data: parsed.data };
  const errors: FieldErrors = {};
  for (const issue of parsed.error.issues) errors[String(issue.path[0] ?? 'form')] ??= issue.path.length ? issue.message : tAdmin('admin.form.formUnreadable');
  return { ok: false, errors };
}

/** What the form shows again after a refusal: only plain strings, and known events. */
function echoForm(ctx: Context): { url: string; description: string; events: string[] } {
  const raw = (ctx.request.body as Record<string, unknown> | undefined)?.events;
  const events = (Array.isArray(raw) ? raw : [raw]).filter((e): e is string => typeof e === 'string' && (WEBHOOK_EVENT_TYPES as string[]).includes(e));
  return { url: echo(ctx, 'url', URL_MAX), description: echo(ctx, 'description', DESCRIPTION_MAX), events };
}

const endpointRow = (endpoint: EndpointView) => ({
  ...endpoint,
  eventsText: endpoint.events.length === WEBHOOK_EVENT_TYPES.length ? tAdmin('admin.webhooks.allEvents') : endpoint.events.join(', '),
  createdAt: formatDateTime(endpoint.createdAt),
});

export async function showWebhooks(ctx: Context, deps: AppDeps, form = { url: '', description: '', events: [] as string[] }, errors: FieldErrors = {}, status = 200): Promise<void> {
  const endpoints = await deps.webhooks.list();
  renderWebhooks(ctx, 'webhooks', { title: tAdmin('admin.webhooks.title'), endpoints: endpoints.map(endpointRow), choices: EVENT_CHOICES, form, errors }, status);
}

export async function submitNewWebhook(ctx: Context, deps: AppDeps): Promise<void> {
  const form = readEndpointForm(ctx);
  if (!form.ok) return showWebhooks(ctx, deps, echoForm(ctx), form.errors, 400);
  const created = await domain(() => deps.webhooks.create(form.data, adminContext(ctx).actor!));
  if (!created.ok) return showWebhooks(ctx, deps, echoForm(ctx), created.errors, created.status);
  // The secret is shown on this answer only (no redirect: it must never sit in a URL or history).
  renderWebhooks(ctx, 'webhook-secret', { title: tAdmin('admin.webhookSecret.registered'), endpoint: endpointRow(created.value.endpoint), secret: created.value.secret, fresh: true });
}

const DELIVERY_STATUSES: DeliveryStatus[] = ['pending', 'delivered', 'failed'];
const STATUS_TEXT: Record<DeliveryStatus, string> = {
  pending: tAdmin('admin.webhook.status.pending'), delivered: tAdmin('admin.webhook.status.delivered'), failed: tAdmin('admin.webhook.status.failed'),
};

export async function showWebhook(ctx: Context, deps: AppDeps, id = idParam(ctx, 'id'), extra: { form?: ReturnType<typeof echoForm>; errors?: FieldErrors } = {}, status = 200): Promise<void> {
  const found = await domain(() => deps.webhooks.get(id));
  if (!found.ok) throw notFound();
  const endpoint = found.value;
  const filter = typeof ctx.query.status === 'string' && DELIVERY_STATUSES.includes(ctx.query.status as DeliveryStatus) ? ctx.query.status as DeliveryStatus : undefined;
  const deliveries = await deps.webhooks.deliveries(id, { status: filter, limit: 100 });
  // Accounts by email where they still exist; the creator as the console names actors.
  const emails = await emailsOf(deps, [...deliveries.map((d) => d.accountId), endpoint.createdBy.replace(/^admin:/, '')]);
  renderWebhooks(ctx, 'webhook', {
    title: tAdmin('admin.webhook.pageTitle', { url: endpoint.url }),
    endpoint: { ...endpointRow(endpoint), createdBy: actorText(endpoint.createdBy, emails) },
    form: extra.form ?? { url: endpoint.url, description: endpoint.description, events: endpoint.events },
    errors: extra.errors ?? {},
    choices: EVENT_CHOICES,
    filter: filter ?? '',
    statuses: DELIVERY_STATUSES.map((value) => ({ value, text: STATUS_TEXT[value] })),
    deliveries: deliveries.map((d) => ({
      id: d.id,
      eventId: d.eventId,
      type: d.type,
      accountId: d.accountId,
      account: d.accountId ? emails.get(d.accountId) ?? d.accountId : null,
      status: d.status,
      statusText: STATUS_TEXT[d.status],
      attempts: d.attempts,
      createdAt: formatDateTime(d.createdAt),
      nextAttemptAt: d.nextAttemptAt ? formatDateTime(d.nextAttemptAt) : null,
      redeliveries: d.redeliveries,
      last: d.lastResponse ? {
        at: formatDateTime(d.lastResponse.at),
        answer: d.lastResponse.status === null ? d.lastResponse.error : `HTTP ${d.lastResponse.status}${d.lastResponse.error ? ` (${d.lastResponse.error})` : ''}`,
        body: d.lastResponse.body,
        durationMs: d.lastResponse.durationMs,
      } : null,
      redeliverable: d.status !== 'pending',
    })),
  }, status);
}

export async function submitEditWebhook(ctx: Context, deps: AppDeps): Promise<void> {
  const id = idParam(ctx, 'id');
  const form = readEndpointForm(ctx);
  if (!form.ok) return showWebhook(ctx, deps, id, { form: echoForm(ctx), errors: form.errors }, 400);
  const saved = await domain(() => deps.webhooks.update(id, form.data));
  if (!saved.ok) return showWebhook(ctx, deps, id, { form: echoForm(ctx), errors: saved.errors }, saved.status);
  seeOther(ctx, `/admin/webhooks/${id}?notice=webhook_saved`);
}

export async function submitRotateSecret(ctx: Context, deps: AppDeps): Promise<void> {
  const id = idParam(ctx, 'id');
  const rotated = await domain(() => deps.webhooks.rotateSecret(id));
  if (!rotated.ok) throw notFound();
  const endpoint = await deps.webhooks.get(id);
  renderWebhooks(ctx, 'webhook-secret', { title: tAdmin('admin.webhookSecret.new'), endpoint: endpointRow(endpoint), secret: rotated.value, fresh: false });
}

export async function submitDeleteWebhook(ctx: Context, deps: AppDeps): Promise<void> {
  const id = idParam(ctx, 'id');
  const removed = await domain(() => deps.webhooks.remove(id));
  if (!removed.ok) throw notFound();
  seeOther(ctx, '/admin/webhooks?notice=webhook_deleted');
}

export async function submitRedeliver(ctx: Context, deps: AppDeps): Promise<void> {
  const id = idParam(ctx, 'id');
  const deliveryId = idParam(ctx, 'deliveryId');
  const delivery = await domain(() => deps.webhooks.delivery(deliveryId));
  if (!delivery.ok || delivery.value.endpointId !== id) throw notFound();
  const queued = await domain(() => deps.webhooks.redeliver(deliveryId));
  if (!queued.ok) return showWebhook(ctx, deps, id, { errors: queued.errors }, queued.status);
  seeOther(ctx, `/admin/webhooks/${id}?notice=redelivered`);
}
