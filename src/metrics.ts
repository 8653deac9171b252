// Prometheus metrics: sign-ins, failures and lockouts (counted from the audit
// trail, so the domain knows nothing of metrics), emails, and request latency.
import client from 'prom-client';
import type { Middleware } from 'koa';
import type { AuditTrail } from './accounts/audit.ts';
import type { Mailer } from './mail/mailer.ts';

export class Metrics {
  readonly registry = new client.Registry();
  readonly #signIns = new client.Counter({ name: 'latchkey_signins_total', help: 'Password sign-ins by result', labelNames: ['result'] as const, registers: [this.registry] });
  readonly #lockouts = new client.Counter({ name: 'latchkey_lockouts_total', help: 'Locks started, by scope (account, trusted browser, or an email address without an account)', labelNames: ['scope'] as const, registers: [this.registry] });
  readonly #passwordEvents = new client.Counter({ name: 'latchkey_password_events_total', help: 'Password resets, changes and invitations', labelNames: ['event'] as const, registers: [this.registry] });
  readonly #latency = new client.Histogram({
    name: 'latchkey_http_request_duration_seconds', help: 'Request latency by route group, method and status class',
    labelNames: ['route', 'method', 'status'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry],
  });

  constructor(audit: AuditTrail, mailer: Mailer) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'latchkey_' });
    audit.onRecord((event, details) => {
      if (event === 'signin.succeeded') this.#signIns.inc({ result: 'succeeded' });
      else if (event === 'signin.failed') this.#signIns.inc({ result: String(details.reason ?? 'failed') });
      else if (event === 'account.locked') this.#lockouts.inc({ scope: String(details.scope ?? 'account') });
      else if (event.startsWith('password.') || event.startsWith('invite.')) this.#passwordEvents.inc({ event });
    });
    // Read from the mailer when scraped: it keeps its own counts.
    new client.Gauge({
      name: 'latchkey_emails', help: 'Emails since start, by outcome', labelNames: ['outcome'] as const, registers: [this.registry],
      collect() {
        this.set({ outcome: 'sent' }, mailer.stats.sent);
        this.set({ outcome: 'failed' }, mailer.stats.failed);
        this.set({ outcome: 'retried' }, mailer.stats.retried);
      },
    });
  }

  /** Times every request. Routes are grouped by their first path segment, so labels stay few. */
  requestTimer(): Middleware {
    return async (ctx, next) => {
      const end = this.#latency.startTimer();
      try {
        await next();
      } finally {
        const group = /^\/(interaction|password|account|admin|api|signup|email|demo|healthz|assets|\.well-known|token|auth|me|jwks|session)\b/.exec(ctx.path)?.[1] ?? 'other';
        end({ route: group, method: ctx.method, status: `${Math.floor(ctx.status / 100)}xx` });
      }
    };
  }
}
