// Webhook commands for operators: webhook:add, webhook:list, webhook:edit,
// webhook:remove, webhook:rotate-secret, webhook:deliveries, webhook:redeliver.
// Thin wrappers over src/webhooks (the console and the admin API call the same);
// the running servers deliver, so these only change what is stored.
import type { Command } from 'commander';
import { WEBHOOK_EVENT_TYPES } from '../webhooks/events.ts';
import { WebhookError } from '../webhooks/endpoints.ts';
import type { DeliveryStatus } from '../db/models/webhook.ts';
import { CliError, action, examples, readStdin, withServices } from './context.ts';
import { clip, integer, iso, json, printable, table } from './output.ts';

export function registerWebhookCommands(program: Command): void {
  webhookAdd(program);
  webhookList(program);
  webhookEdit(program);
  webhookRemove(program);
  webhookRotateSecret(program);
  webhookDeliveries(program);
  webhookRedeliver(program);
}

/** Domain refusals as the CLI's errors (exit 1, the message as it is). */
async function refusing<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof WebhookError) throw new CliError(error.field ? `--${error.field}: ${error.message}` : error.message);
    throw error;
  }
}

const eventList = (value: string) => value.split(',').map((event) => event.trim()).filter(Boolean);
const EVENTS_HELP = `comma-separated, or "all": ${WEBHOOK_EVENT_TYPES.join(', ')}`;

function webhookAdd(program: Command): void {
  program
    .command('webhook:add')
    .summary('Register a webhook endpoint')
    .description([
      'Register an endpoint that receives the chosen account events as signed JSON POSTs (Standard Webhooks).',
      'The URL must be https (plain http only to this machine, outside production).',
      'The signing secret is printed once: give it to the receiver. --secret-stdin takes a whsec_ secret of your own instead.',
    ].join('\n'))
    .requiredOption('--url <url>', 'where to send events')
    .requiredOption('--events <events>', EVENTS_HELP, eventList)
    .option('--description <text>', 'what it is for')
    .option('--secret-stdin', 'read a whsec_ secret from stdin instead of making one')
    .option('--json', 'print the endpoint and its secret as JSON')
    .addHelpText('after', examples(
      'latchkey webhook:add --url https://crm.example.com/hooks --events account.created,account.disabled,account.deleted',
      'latchkey webhook:add --url https://siem.example.com/in --events all --description "SIEM"',
    ))
    .action(action(async (options: { url: string; events: string[]; description?: string; secretStdin?: boolean; json?: boolean }) => {
      const secret = options.secretStdin ? (await readStdin('the secret', 1024)).trim() : undefined;
      if (options.secretStdin && !secret) throw new CliError('--secret-stdin: no secret on stdin');
      const created = await withServices(({ services }) => refusing(() => services.webhooks.create({
        url: options.url, events: options.events, description: options.description, secret,
      }, 'cli')));
      if (options.json) return json(created);
      console.log(`registered webhook endpoint ${created.endpoint.id}`);
      console.log(`  url:    ${created.endpoint.url}`);
      console.log(`  events: ${created.endpoint.events.join(', ')}`);
      console.log(`  secret: ${created.secret}`);
      console.log('The secret is shown only now: keep it with the receiver (webhook:rotate-secret makes a new one).');
    }));
}

function webhookList(program: Command): void {
  program
    .command('webhook:list')
    .summary('List webhook endpoints')
    .option('--json', 'print them as JSON')
    .action(action(async (options: { json?: boolean }) => {
      const endpoints = await withServices(({ services }) => services.webhooks.list());
      if (options.json) return json(endpoints);
      if (!endpoints.length) {
        console.log('no webhook endpoints (webhook:add registers one)');
        return;
      }
      console.log(table(['ID', 'URL', 'EVENTS', 'DESCRIPTION'], endpoints.map((e) => [
        e.id, clip(e.url, 60), e.events.length === WEBHOOK_EVENT_TYPES.length ? 'all' : e.events.join(','), clip(printable(e.description), 40),
      ])));
    }));
}

function webhookEdit(program: Command): void {
  program
    .command('webhook:edit <id>')
    .summary('Change a webhook endpoint\'s URL, events or description')
    .option('--url <url>', 'the new URL')
    .option('--events <events>', EVENTS_HELP, eventList)
    .option('--description <text>', 'the new description')
    .addHelpText('after', examples('latchkey webhook:edit whe_abc --events account.created,account.deleted'))
    .action(action(async (id: string, options: { url?: string; events?: string[]; description?: string }) => {
      if (options.url === undefined && options.events === undefined && options.description === undefined) {
        throw new CliError('give at least one of --url, --events, --description');
      }
      const endpoint = await withServices(({ services }) => refusing(() => services.webhooks.update(id, options)));
      console.log(`changed ${endpoint.id}: ${endpoint.url} (${endpoint.events.join(', ')})`);
    }));
}

function webhookRemove(program: Command): void {
  program
    .command('webhook:remove <id>')
    .summary('Delete a webhook endpoint and what it has not received yet')
    .action(action(async (id: string) => {
      await withServices(({ services }) => refusing(() => services.webhooks.remove(id)));
      console.log(`removed ${id}`);
    }));
}

function webhookRotateSecret(program: Command): void {
  program
    .command('webhook:rotate-secret <id>')
    .summary('Make a new signing secret (the old one stops at once)')
    .action(action(async (id: string) => {
      const secret = await withServices(({ services }) => refusing(() => services.webhooks.rotateSecret(id)));
      console.log(`new secret for ${id}: ${secret}`);
      console.log('It is shown only now; the old secret no longer signs.');
    }));
}

const STATUSES: DeliveryStatus[] = ['pending', 'delivered', 'failed'];

function webhookDeliveries(program: Command): void {
  program
    .command('webhook:deliveries <id>')
    .summary('Show an endpoint\'s deliveries, newest first, with the last answer')
    .option('--status <status>', `only ${STATUSES.join(', ')}`)
    .option('--limit <n>', 'at most this many (at most 500)', integer(1, 500), 50)
    .option('--json', 'print them as JSON')
    .addHelpText('after', examples('latchkey webhook:deliveries whe_abc --status failed'))
    .action(action(async (id: string, options: { status?: string; limit: number; json?: boolean }) => {
      if (options.status !== undefined && !STATUSES.includes(options.status as DeliveryStatus)) {
        throw new CliError(`--status: one of ${STATUSES.join(', ')}`);
      }
      const deliveries = await withServices(({ services }) => refusing(() => services.webhooks.deliveries(id, { status: options.status as DeliveryStatus | undefined, limit: options.limit })));
      if (options.json) return json(deliveries);
      if (!deliveries.length) {
        console.log('no deliveries');
        return;
      }
      console.log(table(['DELIVERY', 'EVENT', 'TYPE', 'STATUS', 'ATTEMPTS', 'CREATED', 'LAST ANSWER'], deliveries.map((d) => [
        d.id, d.eventId, d.type, d.status, String(d.attempts), iso(d.createdAt),
        d.lastResponse ? clip(printable(d.lastResponse.status === null ? d.lastResponse.error ?? '' : `${d.lastResponse.status} ${d.lastResponse.body}`), 60) : '-',
      ])));
    }));
}

function webhookRedeliver(program: Command): void {
  program
    .command('webhook:redeliver <deliveryId>')
    .summary('Send a delivered or failed event again (same webhook-id, a fresh day of retries)')
    .action(action(async (deliveryId: string) => {
      const delivery = await withServices(({ services }) => refusing(() => services.webhooks.redeliver(deliveryId)));
      console.log(`queued ${delivery.id} (${delivery.type}, ${delivery.eventId}) for delivery`);
    }));
}
