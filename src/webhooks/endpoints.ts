// The endpoints operators register: where events go, which ones, and the secret
// they are signed with. One set of rules for the CLI, the admin API and the
// console: each surface maps WebhookError codes to its own answer.
//
// Rules for a URL: https, or http only to this machine (127.0.0.0/8, ::1,
// localhost) and only outside production, for a receiver under development; no
// user name or password in it (it is shown in the console), no fragment.
// The secret is shown once, when it is made (like an API key), and kept encrypted
// with DATA_KEYS, bound to its endpoint.
import { randomBytes } from 'node:crypto';
import type { DataVault } from '../secrets.ts';
import type { WebhookCollections, WebhookEndpointDoc } from '../db/models/webhook.ts';
import { WEBHOOK_EVENT_TYPES, isWebhookEventType, type WebhookEventType } from './events.ts';
import { generateSecret, isValidSecret } from './signing.ts';

export const WEBHOOK_ERRORS = {
  invalid_url: 'the URL is not one webhooks can be sent to',
  invalid_events: 'the list of events is empty or names an unknown event',
  invalid_secret: 'the secret is not a whsec_ secret of 24 to 64 bytes',
  invalid_description: 'the description is too long',
  not_found: 'there is no such webhook endpoint or delivery',
  not_redeliverable: 'the delivery is still being attempted',
} as const;
export type WebhookErrorCode = keyof typeof WEBHOOK_ERRORS;

export class WebhookError extends Error {
  override name = 'WebhookError';
  readonly code: WebhookErrorCode;
  /** The input field at fault, for forms and problem details. */
  readonly field: string | null;
  constructor(code: WebhookErrorCode, message: string, field: string | null = null) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

export const URL_MAX = 2000;
export const DESCRIPTION_MAX = 200;

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** The URL as it will be stored, or a WebhookError saying what is wrong with it. */
export function checkEndpointUrl(input: string, production: boolean): string {
  const fail = (why: string) => new WebhookError('invalid_url', why, 'url');
  if (typeof input !== 'string' || !input.trim()) throw fail('Give the URL to send events to.');
  const text = input.trim();
  if (text.length > URL_MAX) throw fail(`The URL is longer than ${URL_MAX} characters.`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fail('This is not a URL (it should look like https://example.com/webhooks).');
  }
  if (url.username || url.password) throw fail('Leave the user name and password out of the URL; the signature tells the receiver it is us.');
  if (url.hash) throw fail('Leave the #fragment out of the URL.');
  if (url.protocol === 'https:') return url.href;
  if (url.protocol === 'http:') {
    if (!LOOPBACK.test(url.hostname)) throw fail('Use https: plain http is allowed only to this machine (localhost, 127.0.0.1, [::1]).');
    if (production) throw fail('Use https: plain http to this machine is for development only.');
    return url.href;
  }
  throw fail('Use an https:// URL.');
}

/** The events as stored: known, each once, in the catalogue's order; "all" (alone) stands for every event. */
export function checkEvents(input: readonly string[]): WebhookEventType[] {
  if (!Array.isArray(input) || !input.length) throw new WebhookError('invalid_events', 'Choose at least one event.', 'events');
  if (input.length === 1 && input[0] === 'all') return [...WEBHOOK_EVENT_TYPES];
  const unknown = input.filter((event) => typeof event !== 'string' || !isWebhookEventType(event));
  if (unknown.length) throw new WebhookError('invalid_events', `Unknown event ${unknown.map(String).join(', ')}; known: ${WEBHOOK_EVENT_TYPES.join(', ')}.`, 'events');
  const chosen = new Set(input);
  return WEBHOOK_EVENT_TYPES.filter((event) => chosen.has(event));
}

function checkDescription(input: string | undefined): string {
  const text = (input ?? '').trim();
  if (text.length > DESCRIPTION_MAX) throw new WebhookError('invalid_description', `The description is longer than ${DESCRIPTION_MAX} characters.`, 'description');
  return text;
}

export interface EndpointDeps {
  collections: WebhookCollections;
  vault: Pick<DataVault, 'encrypt' | 'decrypt' | 'needsReencryption'>;
  /** Production refuses plain http even to this machine. */
  production: boolean;
}

/** An endpoint as every surface shows it: never its secret. */
export interface EndpointView {
  id: string;
  url: string;
  events: WebhookEventType[];
  description: string;
  createdAt: Date;
  updatedAt: Date;
  createdBy: string;
}

export const endpointView = (doc: WebhookEndpointDoc): EndpointView => ({
  id: doc._id, url: doc.url, events: doc.events.filter(isWebhookEventType), description: doc.description,
  createdAt: doc.createdAt, updatedAt: doc.updatedAt, createdBy: doc.createdBy,
});

const secretData = (id: string) => `webhook:${id}`;

export interface NewEndpoint {
  url: string;
  events: readonly string[];
  description?: string;
  /** A whsec_ secret of the operator's; one is generated when absent. */
  secret?: string;
}

/** Registers an endpoint; the secret is returned this once. */
export async function createEndpoint(deps: EndpointDeps, input: NewEndpoint, actor: string): Promise<{ endpoint: EndpointView; secret: string }> {
  const url = checkEndpointUrl(input.url, deps.production);
  const events = checkEvents(input.events);
  const description = checkDescription(input.description);
  if (input.secret !== undefined && !isValidSecret(input.secret)) {
    throw new WebhookError('invalid_secret', 'The secret must be whsec_ followed by 24 to 64 bytes in base64, or left out to have one made.', 'secret');
  }
  const secret = input.secret ?? generateSecret();
  const id = `whe_${randomBytes(12).toString('base64url')}`;
  const now = new Date();
  const doc: WebhookEndpointDoc = {
    _id: id, url, events, description, secret: deps.vault.encrypt(secret, secretData(id)), createdAt: now, updatedAt: now, createdBy: actor,
  };
  await deps.collections.endpoints.insertOne(doc);
  return { endpoint: endpointView(doc), secret };
}

export async function listEndpoints(deps: Pick<EndpointDeps, 'collections'>): Promise<EndpointView[]> {
  const docs = await deps.collections.endpoints.find({}).sort({ createdAt: 1 }).toArray();
  return docs.map(endpointView);
}

const MAX_ID = 100;

export async function getEndpoint(deps: Pick<EndpointDeps, 'collections'>, id: string): Promise<EndpointView> {
  const doc = typeof id === 'string' && id.length <= MAX_ID ? await deps.collections.endpoints.findOne({ _id: id }) : null;
  if (!doc) throw new WebhookError('not_found', 'There is no webhook endpoint with this id.');
  return endpointView(doc);
}

/** Changes the URL, events or description; the fields given replace the current values. */
export async function updateEndpoint(deps: EndpointDeps, id: string, input: { url?: string; events?: readonly string[]; description?: string }): Promise<EndpointView> {
  const set: Partial<WebhookEndpointDoc> = { updatedAt: new Date() };
  if (input.url !== undefined) set.url = checkEndpointUrl(input.url, deps.production);
  if (input.events !== undefined) set.events = checkEvents(input.events);
  if (input.description !== undefined) set.description = checkDescription(input.description);
  await getEndpoint(deps, id);
  const doc = await deps.collections.endpoints.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' });
  if (!doc) throw new WebhookError('not_found', 'There is no webhook endpoint with this id.');
  return endpointView(doc);
}

/** Removes the endpoint and its outbox: what was not delivered yet never will be. */
export async function deleteEndpoint(deps: Pick<EndpointDeps, 'collections'>, id: string): Promise<void> {
  await getEndpoint(deps, id);
  await deps.collections.endpoints.deleteOne({ _id: id });
  await deps.collections.deliveries.deleteMany({ endpointId: id });
}

/** A new secret for the endpoint (the old one stops at once); returned this once. */
export async function rotateEndpointSecret(deps: EndpointDeps, id: string): Promise<string> {
  await getEndpoint(deps, id);
  const secret = generateSecret();
  await deps.collections.endpoints.updateOne({ _id: id }, { $set: { secret: deps.vault.encrypt(secret, secretData(id)), updatedAt: new Date() } });
  return secret;
}

/** The endpoint's secret in clear, for signing. */
export function endpointSecret(deps: Pick<EndpointDeps, 'vault'>, doc: WebhookEndpointDoc): string {
  return deps.vault.decrypt(doc.secret, secretData(doc._id));
}

/**
 * After a DATA_KEYS rotation: the secret encrypted again under the first key, so the
 * old key can go. Conditional on the stored value, so two instances write it once.
 */
export async function reencryptSecretIfNeeded(deps: Pick<EndpointDeps, 'vault' | 'collections'>, doc: WebhookEndpointDoc, secret: string): Promise<void> {
  if (!deps.vault.needsReencryption(doc.secret)) return;
  await deps.collections.endpoints.updateOne({ _id: doc._id, secret: doc.secret }, { $set: { secret: deps.vault.encrypt(secret, secretData(doc._id)) } });
}
