// Webhooks end to end: real servers and database, a real receiving HTTP server on
// 127.0.0.1 that verifies every signature with the `standardwebhooks` package (as a
// receiver would), answers as each test tells it (200, 500, no answer, gone), and
// keeps what it got. Changes are made through the domain functions every surface
// calls, the admin API, the CLI and the console.
import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ClientMetadata } from 'oidc-provider';
import * as oidc from 'openid-client';
import { Webhook } from 'standardwebhooks';
import { createUser } from '../../src/accounts/users.ts';
import { editAccount, setDisabled, adminUnlock } from '../../src/accounts/admin.ts';
import type { RunningServer } from '../../src/server.ts';
import type { WebhookDeliveryDoc } from '../../src/db/models/webhook.ts';
import { WEBHOOK_EVENT_TYPES } from '../../src/webhooks/events.ts';
import { useTestServer } from '../helpers/server.ts';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { callApi, expectProblem, type CallInit } from '../helpers/api.ts';
import { discover } from '../helpers/rp.ts';
import { randomBytes } from 'node:crypto';
import { createServices, prepareDatabase, type Services } from '../../src/deps.ts';
import { createLogger } from '../../src/log.ts';
import { LEASES, type LeaseDoc } from '../../src/jobs/lease.ts';
import { freshDatabase, testConfig, type TestDatabase } from '../helpers/server.ts';
import { startServerProcess, type ServerProcess } from '../helpers/process.ts';
import { cliEnvironment, runCli } from '../helpers/cli.ts';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { startImportJob } from '../../src/accounts/import-jobs.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { join } from 'node:path';

interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  payload: { id: string; type: string; time: string; accountId: string | null; actor: string; data: Record<string, unknown> };
  /** Whether the signature verified with the endpoint's secret (standardwebhooks). */
  verified: boolean;
  answered: number | 'none';
}

/** A status now, a status after a while, or no answer at all. */
type Answer = number | { status: number; afterMs: number } | 'hang';

/** A webhook receiver on 127.0.0.1. */
class Receiver {
  readonly requests: Received[] = [];
  secret = '';
  /** How to answer each request (by default 200). */
  answer: (request: Received, index: number) => Answer = () => 200;
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  /** Requests answered 2xx: what the receiver took in. */
  get accepted(): Received[] {
    return this.requests.filter((r) => typeof r.answered === 'number' && r.answered < 300);
  }

  async start(port = this.port): Promise<void> {
    const server = createServer((request, response) => void this.#handle(request, response));
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Down: the port refuses connections until start() again. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = { 'webhook-id': String(request.headers['webhook-id']), 'webhook-timestamp': String(request.headers['webhook-timestamp']), 'webhook-signature': String(request.headers['webhook-signature']) };
    let verified = false;
    try {
      new Webhook(this.secret).verify(body, headers);
      verified = true;
    } catch { /* recorded as not verified */ }
    const received: Received = {
      id: headers['webhook-id'], timestamp: headers['webhook-timestamp'], signature: headers['webhook-signature'], body,
      payload: JSON.parse(body), verified, answered: 'none',
    };
    this.requests.push(received);
    const answer = this.answer(received, this.requests.length - 1);
    if (answer === 'hang') return; // never answers; the sender's timeout ends it
    const status = typeof answer === 'number' ? answer : answer.status;
    if (typeof answer !== 'number') await new Promise((resolve) => setTimeout(resolve, answer.afterMs));
    if (response.destroyed) return; // the sender gave up (or died) first
    received.answered = status;
    response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : `receiver says ${status}`);
  }
}

/** Polls `check` until it holds (generous, bounded: a busy machine must not fail it). */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Short timings, so retries happen in a test's time. */
function quicken(server: RunningServer, timing: Partial<RunningServer['deps']['webhooks']['timing']> = {}): void {
  Object.assign(server.deps.webhooks.timing, { timeoutMs: 2_000, retryBaseMs: 100, retryMaxMs: 400, pollMs: 100, ...timing });
  server.deps.webhooks.dispatcher.kick();
}

const ctx = { actor: 'cli' };
let counter = 0;
const uniqueEmail = (tag: string) => `webhooks-${tag}-${++counter}@example.com`;

describe('webhooks', function () {
  this.timeout(120_000);
  const automation = {
    client_id: 'webhook-automation', client_secret: 'webhook-automation-secret-long-enough-000', grant_types: ['client_credentials'],
    scope: 'admin', redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic',
  } as ClientMetadata;
  const { server } = useTestServer({ clients: [automation] });
  const receivers: Receiver[] = [];

  async function receiver(): Promise<Receiver> {
    const made = new Receiver();
    await made.start();
    receivers.push(made);
    return made;
  }

  /** An endpoint for `events` at a fresh receiver, registered through the service every surface uses. */
  async function endpointAt(events: string[] = ['all']): Promise<{ receiver: Receiver; id: string }> {
    const made = await receiver();
    const { endpoint, secret } = await server.deps.webhooks.create({ url: made.url, events }, 'cli');
    made.secret = secret;
    return { receiver: made, id: endpoint.id };
  }

  const deliveries = (endpointId: string) => server.deps.webhooks.collections.deliveries.find({ endpointId }).sort({ seq: 1 }).toArray();
  const newAccount = async (tag: string) => createUser(server.deps, { email: uniqueEmail(tag), name: 'Webhook Person' });
  const remove = async (id: string) => server.deps.webhooks.remove(id);

  before(() => quicken(server));
  afterEach(async () => {
    for (const endpoint of await server.deps.webhooks.list()) await remove(endpoint.id);
    quicken(server);
  });
  after(async () => {
    for (const made of receivers) await made.stop();
  });

  it('signs each event as Standard Webhooks says, and sends no secret', async () => {
    const { receiver: hooks } = await endpointAt();
    const user = await newAccount('signed');
    await editAccount(server.deps, user._id, { name: 'Renamed' }, ctx);
    await setDisabled(server.deps, user._id, true, ctx);
    await waitFor('two deliveries', () => hooks.accepted.length >= 2);
    expect(hooks.accepted.map((r) => r.payload.type)).to.deep.equal(['account.updated', 'account.disabled']);
    expect(hooks.accepted[0]!.payload.data).to.deep.equal({ fields: 'name' });
    for (const request of hooks.requests) {
      expect(request.verified, 'the signature verifies with standardwebhooks').to.equal(true);
      expect(request.signature).to.match(/^v1,[A-Za-z0-9+/]+={0,2}$/);
      expect(request.id).to.equal(request.payload.id).and.match(/^msg_/);
      expect(Math.abs(Number(request.timestamp) - Date.now() / 1000)).to.be.below(120);
      expect(request.payload.accountId).to.equal(user._id);
      expect(request.payload.actor).to.equal('cli');
      expect(Date.parse(request.payload.time)).to.be.a('number').and.not.NaN;
      expect(request.body).to.not.match(/password|hash|secret|whsec_|token/i);
    }
    // A wrong secret does not verify.
    const wrong = new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`);
    const first = hooks.requests[0]!;
    expect(() => wrong.verify(first.body, { 'webhook-id': first.id, 'webhook-timestamp': first.timestamp, 'webhook-signature': first.signature })).to.throw();
  });

  it('sends only the events an endpoint wants, and no sign-in attempts at all', async () => {
    const { receiver: hooks, id } = await endpointAt(['account.disabled']);
    const user = await newAccount('filtered');
    await editAccount(server.deps, user._id, { name: 'Not sent' }, ctx);
    await server.deps.audit.record('signin.failed', user._id, {}, { reason: 'wrong_password' });
    await setDisabled(server.deps, user._id, true, ctx);
    await waitFor('the disable event', () => hooks.accepted.length >= 1);
    expect(hooks.accepted.map((r) => r.payload.type)).to.deep.equal(['account.disabled']);
    expect((await deliveries(id)).map((d) => d.type)).to.deep.equal(['account.disabled']);
  });

  it('retries after 500s and after no answer, with the same webhook-id, until delivered', async () => {
    const { receiver: hooks, id } = await endpointAt(['account.updated']);
    hooks.answer = (_request, index) => (index === 0 ? 500 : index === 1 ? 'hang' : index === 2 ? 503 : 200);
    const user = await newAccount('retried');
    await editAccount(server.deps, user._id, { name: 'Retried' }, ctx);
    await waitFor('the delivery after three failures', async () => (await deliveries(id))[0]?.status === 'delivered');
    expect(hooks.requests.length).to.equal(4);
    expect(new Set(hooks.requests.map((r) => r.id)).size).to.equal(1);
    expect(hooks.requests.every((r) => r.verified)).to.equal(true);
    const [delivery] = await deliveries(id);
    expect(delivery!.attempts).to.equal(4);
    expect(delivery!.lastResponse!.status).to.equal(200);
    // The gaps grew: exponential backoff (base 100 ms, so at least ~80 ms between attempts).
    const times = hooks.requests.map((r) => Number(r.timestamp));
    expect(times).to.deep.equal([...times].sort((a, b) => a - b));
  });

  it('keeps the order of each account\'s events, while other accounts go on', async () => {
    const { receiver: hooks, id } = await endpointAt(['account.updated']);
    const slow = await newAccount('ordered-slow');
    const fast = await newAccount('ordered-fast');
    // The slow account's first event fails three times: its later events must wait behind it.
    let failuresLeft = 3;
    hooks.answer = (request) => (request.payload.accountId === slow._id && request.payload.data.fields === 'name' && failuresLeft-- > 0 ? 500 : 200);
    for (let i = 0; i < 5; i++) {
      await editAccount(server.deps, slow._id, i === 0 ? { name: 'first' } : { notes: `note ${i}` }, ctx);
      await editAccount(server.deps, fast._id, { notes: `note ${i}` }, ctx);
    }
    await waitFor('all ten events', () => hooks.accepted.length >= 10);
    const stored = await deliveries(id);
    const order = (accountId: string) => stored.filter((d) => d.accountId === accountId).map((d) => d.eventId);
    const arrived = (accountId: string) => hooks.accepted.filter((r) => r.payload.accountId === accountId).map((r) => r.id);
    expect(arrived(slow._id)).to.deep.equal(order(slow._id));
    expect(arrived(fast._id)).to.deep.equal(order(fast._id));
    // The other account was not held up by the failing one.
    const firstSlow = hooks.accepted.findIndex((r) => r.payload.accountId === slow._id);
    expect(hooks.accepted.slice(0, firstSlow).filter((r) => r.payload.accountId === fast._id).length).to.be.greaterThan(0);
    expect(hooks.accepted.length).to.equal(10); // each once
  });

  it('an endpoint that is down for a while gets everything afterwards, once each, in order', async () => {
    const { receiver: hooks, id } = await endpointAt(['account.updated', 'account.disabled', 'account.enabled', 'account.unlocked']);
    await hooks.stop();
    const people = [await newAccount('down-a'), await newAccount('down-b')];
    for (const person of people) {
      await editAccount(server.deps, person._id, { name: 'while down' }, ctx);
      await setDisabled(server.deps, person._id, true, ctx);
      await setDisabled(server.deps, person._id, false, ctx);
      await adminUnlock(server.deps, person._id, ctx);
    }
    await waitFor('failed attempts while down', async () => (await deliveries(id)).some((d) => d.attempts >= 2));
    const whileDown = await deliveries(id);
    expect(whileDown.every((d) => d.status === 'pending')).to.equal(true);
    expect(whileDown.find((d) => d.attempts > 0)!.lastResponse!.error).to.match(/could not connect/);
    await hooks.start();
    await waitFor('everything after the outage', async () => (await deliveries(id)).every((d) => d.status === 'delivered'));
    const stored = await deliveries(id);
    expect(hooks.accepted.map((r) => r.id).sort()).to.deep.equal(stored.map((d) => d.eventId).sort());
    for (const person of people) {
      expect(hooks.accepted.filter((r) => r.payload.accountId === person._id).map((r) => r.payload.type))
        .to.deep.equal(['account.updated', 'account.disabled', 'account.enabled', 'account.unlocked']);
    }
  });

  it('an endpoint that does not answer does not hold up the others', async () => {
    quicken(server, { retryBaseMs: 5_000, retryMaxMs: 5_000 });
    const dead = await endpointAt(['account.updated']);
    dead.receiver.answer = () => 'hang';
    const alive = await endpointAt(['account.updated']);
    const people = await Promise.all(Array.from({ length: 40 }, (_, i) => newAccount(`dead-${i}`)));
    for (const person of people) await editAccount(server.deps, person._id, { notes: 'for both' }, ctx);
    await waitFor('every event at the live endpoint', () => alive.receiver.accepted.length === 40);
    // One round of attempts at most (eight at once), then the dead endpoint's other events wait for its retry.
    expect(dead.receiver.requests.length).to.be.within(1, 16);
    const waiting = (await deliveries(dead.id)).filter((d) => d.attempts === 0 && d.nextAttemptAt.getTime() > Date.now());
    expect(waiting.length).to.be.greaterThan(20);
  });

  it('gives up after the retry period, shows the last answer, and redelivers by hand', async () => {
    quicken(server, { retryForMs: 1_500 });
    const { receiver: hooks, id } = await endpointAt(['account.updated']);
    hooks.answer = () => 500;
    const user = await newAccount('failed');
    await editAccount(server.deps, user._id, { name: 'Failing' }, ctx);
    await waitFor('the delivery to fail', async () => (await deliveries(id))[0]?.status === 'failed');
    const [failed] = await deliveries(id);
    expect(failed!.attempts).to.be.greaterThan(1);
    expect(failed!.lastResponse).to.include({ status: 500, body: 'receiver says 500' });
    const attempts = hooks.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(hooks.requests.length, 'no attempt after failing').to.equal(attempts);

    hooks.answer = () => 200;
    await server.deps.webhooks.redeliver(failed!._id);
    await waitFor('the redelivery', async () => (await deliveries(id))[0]?.status === 'delivered');
    expect(hooks.accepted.map((r) => r.id)).to.deep.equal([failed!.eventId]);
    const [delivered] = await deliveries(id);
    expect(delivered!.redeliveries).to.equal(1);
    // A delivered event is sent again only by hand; a pending one cannot be redelivered.
    await server.deps.webhooks.redeliver(failed!._id);
    await waitFor('the second redelivery', () => hooks.accepted.length === 2);
    expect(hooks.accepted.map((r) => r.id)).to.deep.equal([failed!.eventId, failed!.eventId]);
  });

  it('leaves a claimed delivery to its sender, and sends it again (same webhook-id) once the claim of a dead sender runs out', async () => {
    const { receiver: hooks, id } = await endpointAt(['account.updated']);
    const claimUntil = new Date(Date.now() + 1_500);
    const body = JSON.stringify({ id: 'msg_claimed', type: 'account.updated', time: new Date().toISOString(), accountId: 'u-claimed', actor: 'cli', data: {} });
    // As an instance that died in the middle of sending it would have left it.
    await server.deps.webhooks.collections.deliveries.insertOne({
      _id: 'dlv_claimed', eventId: 'msg_claimed', endpointId: id, type: 'account.updated', accountId: 'u-claimed', orderKey: 'u-claimed', seq: 0, body,
      createdAt: new Date(), status: 'pending', attempts: 0, nextAttemptAt: new Date(), deadlineAt: new Date(Date.now() + 60_000),
      claim: 'a-dead-instance', claimUntil, lastResponse: null, deliveredAt: null, redeliveries: 0, expiresAt: null,
    });
    server.deps.webhooks.dispatcher.kick();
    await waitFor('the delivery after the claim ran out', () => hooks.accepted.length === 1);
    expect(Number(hooks.accepted[0]!.timestamp) * 1000).to.be.at.least(Math.floor(claimUntil.getTime() / 1000) * 1000);
    expect(hooks.accepted[0]!).to.deep.include({ id: 'msg_claimed', body, verified: true });
    expect((await deliveries(id))[0]).to.deep.include({ status: 'delivered', claim: null });
  });

  it('announces a finished CSV import once, with its counts', async () => {
    const { receiver: hooks } = await endpointAt(['import.finished', 'account.created']);
    const csv = `email,name\n${uniqueEmail('import-a')},A\n${uniqueEmail('import-b')},B\nnot-an-email,C\n`;
    const jobId = await startImportJob(server.deps, Readable.from([csv]), { startedBy: 'admin-x', fileName: 'people.csv', context: { actor: 'admin:admin-x' } });
    await waitFor('import.finished', () => hooks.accepted.some((r) => r.payload.type === 'import.finished'));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const finished = hooks.accepted.filter((r) => r.payload.type === 'import.finished');
    expect(finished).to.have.length(1);
    expect(finished[0]!.payload).to.deep.include({ accountId: null, actor: 'admin:admin-x' });
    expect(finished[0]!.payload.data).to.include({ jobId, status: 'done', created: 2, rejected: 1 });
    // The import's accounts are summed up by import.finished, not sent one by one.
    expect(hooks.accepted.filter((r) => r.payload.type === 'account.created')).to.have.length(0);
  });

  it('a webhook problem never fails the change it describes', async () => {
    const { id } = await endpointAt(['account.updated']);
    const user = await newAccount('never-fails');
    // The outbox cannot be written: the change still happens and is audited.
    const { deliveries: outbox } = server.deps.webhooks.collections;
    const insertMany = outbox.insertMany;
    outbox.insertMany = (() => Promise.reject(new Error('outbox down'))) as never;
    try {
      const result = await editAccount(server.deps, user._id, { name: 'Still changed' }, ctx);
      expect(result.ok).to.equal(true);
    } finally {
      outbox.insertMany = insertMany;
    }
    expect((await server.deps.users.findById(user._id).lean())!.name).to.equal('Still changed');
    expect((await server.deps.audit.list({ userId: user._id })).map((r) => r.event)).to.include('account.updated');
    expect(await deliveries(id)).to.have.length(0);
  });

  describe('CLI', () => {
    // The CLI encrypts the secret with the DATA_KEYS the servers have (a deployment shares them).
    const cli = (args: string[], stdin = '') => runCli(args, cliEnvironment(server.database.name, {
      DATA_KEYS: (JSON.parse(readFileSync(join(server.deps.config.dataDir, 'data-keys.json'), 'utf8')) as string[]).join(','),
    }), stdin);

    it('registers an endpoint, and the server delivers what the CLI changes; deliveries, redelivery, removal', async () => {
      const hooks = await receiver();
      const refused = await cli(['webhook:add', '--url', 'http://example.com/hooks', '--events', 'account.disabled']);
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.match(/^latchkey: --url: Use https/);
      const unknown = await cli(['webhook:add', '--url', hooks.url, '--events', 'account.exploded']);
      expect(unknown.code).to.equal(1);
      expect(unknown.stderr).to.contain('Unknown event account.exploded');
      expect(await server.deps.webhooks.collections.endpoints.countDocuments()).to.equal(0);

      const added = await cli(['webhook:add', '--url', hooks.url, '--events', 'account.disabled,account.enabled', '--description', 'from the CLI']);
      expect(added.code, added.stderr).to.equal(0);
      const [, id] = /registered webhook endpoint (whe_\S+)/.exec(added.stdout)!;
      const [, secret] = /secret: (whsec_\S+)/.exec(added.stdout)!;
      hooks.secret = secret!;
      const listed = await cli(['webhook:list']);
      expect(listed.stdout).to.contain(id).and.contain(hooks.url);
      expect(listed.stdout).to.not.contain('whsec_');

      const user = await newAccount('cli');
      const disabled = await cli(['user:disable', '--email', user.email]);
      expect(disabled.code, disabled.stderr).to.equal(0);
      await waitFor('the CLI change delivered by the server', () => hooks.accepted.length === 1);
      expect(hooks.accepted[0]!).to.deep.include({ verified: true });
      expect(hooks.accepted[0]!.payload).to.include({ type: 'account.disabled', accountId: user._id, actor: 'cli' });

      const shown = await cli(['webhook:deliveries', id!, '--json']);
      const [delivery] = JSON.parse(shown.stdout) as Array<{ id: string; status: string; lastResponse: { status: number } }>;
      expect(delivery).to.deep.include({ status: 'delivered' });
      expect(delivery!.lastResponse.status).to.equal(200);
      const again = await cli(['webhook:redeliver', delivery!.id]);
      expect(again.code, again.stderr).to.equal(0);
      await waitFor('the redelivery', () => hooks.accepted.length === 2);
      expect((await cli(['webhook:redeliver', 'dlv_unknown'])).stderr).to.contain('no webhook delivery');

      const removed = await cli(['webhook:remove', id!]);
      expect(removed.code, removed.stderr).to.equal(0);
      expect(await server.deps.webhooks.collections.endpoints.countDocuments()).to.equal(0);
    });
  });

  describe('console', () => {
    let agent: Agent;
    const url = (path: string) => `${server.url}${path}`;
    const decode = (html: string) => html.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');

    before(async () => {
      const password = 'quiet harbour lantern webhooks 7';
      const admin = await createUser(server.deps, { email: uniqueEmail('console-admin'), password, name: 'Console Admin', roles: ['admin'] });
      agent = new Agent();
      const login = await agent.follow(url('/admin/webhooks'));
      const form = formOn(login.body, /\/login$/);
      const page = await agent.follow(new URL(form.action, login.url).href, { form: { ...form.fields, email: admin.email, password } });
      expect(page.status, page.body.slice(0, 300)).to.equal(200);
      expect(page.body).to.contain('No webhook endpoints yet');
    });

    /** Posts the form on `page` whose action matches, with these fields (repeated names as a list). */
    async function submit(page: string, action: RegExp, fields: Array<[string, string]>): Promise<Page> {
      const shown = await agent.request(url(page));
      expect(shown.status, `GET ${page}`).to.equal(200);
      const form = formOn(shown.body, action);
      return agent.request(new URL(form.action, shown.url).href, { form: new URLSearchParams([['_csrf', form.fields._csrf!], ...fields]) });
    }

    it('registers an endpoint (secret shown once), shows deliveries with the last answer, redelivers, changes and deletes it', async () => {
      const hooks = await receiver();
      const list = await agent.request(url('/admin/webhooks'));
      expect(list.body).to.match(/<a href="\/admin\/webhooks" aria-current="page">Webhooks<\/a>/);

      const badUrl = await submit('/admin/webhooks', /\/admin\/webhooks$/, [['url', 'http://example.com/x'], ['events', 'account.disabled']]);
      expect(badUrl.status).to.equal(400);
      expect(decode(badUrl.body)).to.match(/id="url-error"[^>]*>Use https/);
      const noEvents = await submit('/admin/webhooks', /\/admin\/webhooks$/, [['url', hooks.url]]);
      expect(noEvents.status).to.equal(400);
      expect(noEvents.body).to.match(/id="events-error"[^>]*>Choose at least one event/);
      expect(noEvents.body, 'the URL is kept').to.contain(`value="${hooks.url}"`);
      const operator = await submit('/admin/webhooks', /\/admin\/webhooks$/, [['url[$ne]', 'x'], ['events', 'account.disabled']]);
      expect(operator.status).to.equal(400);
      expect(await server.deps.webhooks.collections.endpoints.countDocuments()).to.equal(0);

      const created = await submit('/admin/webhooks', /\/admin\/webhooks$/, [['url', hooks.url], ['events', 'account.disabled'], ['events', 'account.updated'], ['description', 'Console <b>test</b>']]);
      expect(created.status, created.body.slice(0, 500)).to.equal(200);
      const secret = /id="secret"[^>]*value="(whsec_[^"]+)"/.exec(created.body)?.[1] ?? /value="(whsec_[^"]+)"/.exec(created.body)![1]!;
      hooks.secret = secret;
      const [stored] = await server.deps.webhooks.list();
      expect(stored!.events).to.deep.equal(['account.updated', 'account.disabled']);
      const detailPath = `/admin/webhooks/${stored!.id}`;
      const detail = await agent.request(url(detailPath));
      expect(detail.body).to.not.contain('whsec_');
      expect(detail.body).to.contain('Console &lt;b&gt;test&lt;/b&gt;');

      quicken(server, { retryForMs: 1_000 });
      hooks.answer = () => 500;
      const user = await newAccount('console');
      await setDisabled(server.deps, user._id, true, ctx);
      await waitFor('the delivery to fail', async () => (await deliveries(stored!.id))[0]?.status === 'failed');
      const failedPage = await agent.request(url(`${detailPath}?status=failed`));
      expect(failedPage.body).to.contain('Failed').and.contain('HTTP 500').and.contain('receiver says 500').and.contain('account.disabled');

      hooks.answer = () => 200;
      const [failed] = await deliveries(stored!.id);
      const again = await submit(detailPath, new RegExp(`/deliveries/${failed!._id}/redeliver$`), []);
      expect(again.status).to.equal(303);
      const noticed = await agent.request(url(again.headers.get('location')!));
      expect(noticed.body).to.contain('The event will be sent again');
      await waitFor('the redelivery', async () => (await deliveries(stored!.id))[0]?.status === 'delivered');
      expect(hooks.accepted.map((r) => r.id)).to.deep.equal([failed!.eventId]);
      expect((await agent.request(url(detailPath))).body).to.contain('Delivered').and.contain('HTTP 200');

      const edited = await submit(detailPath, /\/edit$/, [['url', hooks.url], ['events', 'account.enabled']]);
      expect(edited.status).to.equal(303);
      expect((await server.deps.webhooks.get(stored!.id)).events).to.deep.equal(['account.enabled']);
      const badEdit = await submit(detailPath, /\/edit$/, [['url', 'ftp://example.com'], ['events', 'account.enabled']]);
      expect(badEdit.status).to.equal(400);

      const rotated = await submit(detailPath, /\/secret$/, []);
      expect(rotated.status).to.equal(200);
      const newSecret = /value="(whsec_[^"]+)"/.exec(rotated.body)![1]!;
      expect(newSecret).to.not.equal(secret);

      expect((await agent.request(url('/admin/webhooks/whe_unknown'))).status).to.equal(404);
      expect((await agent.request(url('/admin/webhooks/%24ne'))).status).to.equal(404);
      const removed = await submit(detailPath, /\/delete$/, []);
      expect(removed.status).to.equal(303);
      expect(await server.deps.webhooks.collections.endpoints.countDocuments()).to.equal(0);
    });
  });

  describe('admin API', () => {
    let token: string;
    before(async () => {
      token = (await oidc.clientCredentialsGrant(await discover(server.url, automation), { scope: 'admin' })).access_token;
    });
    const call = (path: string, init: CallInit = {}) => callApi(server.url, path, { token, ...init });

    it('registers an endpoint (secret shown once), lists, changes and deletes it', async () => {
      const hooks = await receiver();
      const created = await call('/api/admin/webhooks', { method: 'POST', body: { url: hooks.url, events: ['account.disabled'], description: 'CRM sync' } });
      expect(created.status, created.text).to.equal(201);
      expect(created.json.secret).to.match(/^whsec_/);
      expect(created.json.endpoint).to.include({ url: hooks.url, description: 'CRM sync' });
      const id = created.json.endpoint.id as string;
      const shown = await call(`/api/admin/webhooks/${id}`);
      expect(shown.status).to.equal(200);
      expect(shown.text).to.not.include('whsec_');
      const listed = await call('/api/admin/webhooks');
      expect(listed.json.items.map((e: { id: string }) => e.id)).to.include(id);
      const changed = await call(`/api/admin/webhooks/${id}`, { method: 'PATCH', body: { events: ['account.disabled', 'account.enabled'] } });
      expect(changed.status, changed.text).to.equal(200);
      expect(changed.json.events).to.deep.equal(['account.disabled', 'account.enabled']);

      hooks.secret = created.json.secret;
      const user = await newAccount('api');
      await setDisabled(server.deps, user._id, true, ctx);
      await waitFor('the delivery', () => hooks.accepted.length === 1);
      expect(hooks.accepted[0]!.verified).to.equal(true);
      const history = await call(`/api/admin/webhooks/${id}/deliveries`);
      expect(history.status, history.text).to.equal(200);
      expect(history.json.items[0]).to.include({ type: 'account.disabled', status: 'delivered', attempts: 1 });
      expect(history.json.items[0].lastResponse.status).to.equal(200);
      const again = await call(`/api/admin/webhooks/${id}/deliveries/${history.json.items[0].id}/redeliver`, { method: 'POST' });
      expect(again.status, again.text).to.equal(202);
      await waitFor('the redelivery', () => hooks.accepted.length === 2);

      const rotated = await call(`/api/admin/webhooks/${id}/secret`, { method: 'POST' });
      expect(rotated.status, rotated.text).to.equal(200);
      expect(rotated.json.secret).to.match(/^whsec_/).and.not.equal(created.json.secret);

      expect((await call(`/api/admin/webhooks/${id}`, { method: 'DELETE' })).status).to.equal(204);
      expectProblem(await call(`/api/admin/webhooks/${id}`), 404, 'about:blank', server.url);
    });

    it('refuses bad input with a clear 4xx and stores nothing', async () => {
      const bad: unknown[] = [
        { url: 'ftp://example.com/x', events: ['account.created'] },
        { url: 'http://example.com/hooks', events: ['account.created'] },
        { url: 'https://user:pw@example.com/hooks', events: ['account.created'] },
        { url: 'not a url', events: ['account.created'] },
        { url: 'https://example.com/hooks', events: [] },
        { url: 'https://example.com/hooks', events: ['account.exploded'] },
        { url: 'https://example.com/hooks', events: ['account.created'], secret: 'short' },
        { url: 'https://example.com/hooks', events: ['account.created'], extra: true },
        { url: { $ne: null }, events: ['account.created'] },
        { url: 'https://example.com/hooks', events: 'account.created' },
        { url: 'https://example.com/hooks', events: ['account.created'], description: 'x'.repeat(201) },
      ];
      for (const body of bad) {
        const answer = await call('/api/admin/webhooks', { method: 'POST', body });
        expectProblem(answer, 400, 'invalid-request', server.url);
      }
      expectProblem(await call('/api/admin/webhooks', { method: 'POST', body: '{"url":' }), 400, 'invalid-request', server.url);
      expectProblem(await call('/api/admin/webhooks/whe_nope/deliveries'), 404, 'about:blank', server.url);
      expectProblem(await call('/api/admin/webhooks/whe_nope/deliveries/dlv_nope/redeliver', { method: 'POST' }), 404, 'about:blank', server.url);
      expectProblem(await call('/api/admin/webhooks', { token: null }), 401, 'invalid-token', server.url);
      expectProblem(await call(`/api/admin/webhooks/whe_${'x'.repeat(300)}`), 404, 'about:blank', server.url);
      expect(await server.deps.webhooks.collections.endpoints.countDocuments()).to.equal(0);

      // On an endpoint that exists: bad changes, bad queries, a redelivery of what is still pending.
      const hooks = await receiver();
      hooks.answer = () => 500;
      const { json: { endpoint } } = await call('/api/admin/webhooks', { method: 'POST', body: { url: hooks.url, events: ['account.updated'] } });
      const path = `/api/admin/webhooks/${endpoint.id}`;
      for (const body of [{}, { url: 'http://example.com/x' }, { events: [] }, { secret: 'whsec_x' }, { description: 7 }]) {
        expectProblem(await call(path, { method: 'PATCH', body }), 400, 'invalid-request', server.url);
      }
      for (const query of ['?status=nope', '?limit=0', '?limit=9999', '?extra=1', '?status=failed&status=pending']) {
        expectProblem(await call(`${path}/deliveries${query}`), 400, 'invalid-request', server.url);
      }
      const user = await newAccount('api-pending');
      await editAccount(server.deps, user._id, { name: 'Pending' }, ctx);
      await waitFor('a failed attempt', () => hooks.requests.length >= 1);
      const [pending] = (await call(`${path}/deliveries?status=pending`)).json.items as Array<{ id: string }>;
      expectProblem(await call(`${path}/deliveries/${pending!.id}/redeliver`, { method: 'POST' }), 409, 'about:blank', server.url);
      expectProblem(await call(`/api/admin/webhooks/whe_other/deliveries/${pending!.id}/redeliver`, { method: 'POST' }), 404, 'about:blank', server.url);
      expect((await server.deps.webhooks.get(endpoint.id)).events).to.deep.equal(['account.updated']);
    });

    it('answers random bodies with 201 or a 4xx, never a 5xx, and stores only endpoints that keep the rules', async () => {
      let state = 20261202;
      const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      const values: unknown[] = [
        'https://hooks.example.com/in', 'http://127.0.0.1:9/h', 'http://example.com/h', 'ftp://x', '', ' ', 'x'.repeat(3000), 'ünïcode ✓ \u0000',
        'account.created', 'all', 'account.exploded', `whsec_${Buffer.alloc(32, 1).toString('base64')}`, 'whsec_short',
        0, -1, 1e308, true, null, [], ['account.created'], ['all'], ['all', 'account.created'], [1, 2], { $ne: null }, [{ $gt: '' }],
        Array.from({ length: 30 }, () => 'account.created'),
      ];
      const keys = ['url', 'events', 'description', 'secret', 'extra', '$where', '__proto__'];
      const failures: string[] = [];
      for (let round = 0; round < 150; round++) {
        const body = Object.fromEntries(Array.from({ length: 1 + Math.floor(random() * 4) }, () => [pick(keys), pick(values)]));
        const answer = await call('/api/admin/webhooks', { method: 'POST', body });
        if (answer.status !== 201 && (answer.status < 400 || answer.status >= 500)) failures.push(`${answer.status} ${JSON.stringify(body).slice(0, 200)}`);
        if (/\bat \S+ \(|node_modules/.test(answer.text)) failures.push(`stack trace for ${JSON.stringify(body).slice(0, 200)}`);
      }
      expect(failures, failures.slice(0, 5).join('\n')).to.deep.equal([]);
      for (const endpoint of await server.deps.webhooks.list()) {
        expect(endpoint.url).to.match(/^(https:\/\/|http:\/\/127\.0\.0\.1[:/])/);
        expect(endpoint.events.length).to.be.greaterThan(0);
      }
    });

    it('describes every event in the OpenAPI document\'s webhooks section', async () => {
      const document = (await callApi(server.url, '/api/openapi.json')).json;
      expect(Object.keys(document.webhooks).sort()).to.deep.equal([...WEBHOOK_EVENT_TYPES].sort());
      const disabled = document.webhooks['account.disabled'].post;
      expect(disabled.requestBody.content['application/json'].schema).to.be.an('object');
      expect(disabled.parameters.map((p: { name: string }) => p.name)).to.include.members(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
    });
  });
});

describe('webhooks across instances', function () {
  this.timeout(180_000);
  let cluster: Cluster;
  const hooks = new Receiver();

  before(async function () {
    this.timeout(120_000);
    cluster = await startCluster(3, { env: { JOB_POLL_MS: '200', JOB_LEASE_MS: '4000', JOB_HEARTBEAT_MS: '1000' } });
    for (const instance of cluster.instances) quicken(instance, { pollMs: 200 });
    await hooks.start();
  });
  after(async () => {
    await hooks.stop();
    await cluster?.stop();
  });

  it('delivers each event exactly once per endpoint, from whichever instance holds the lease', async () => {
    const [first] = cluster.instances;
    const { secret } = await first!.deps.webhooks.create({ url: hooks.url, events: ['account.updated'] }, 'cli');
    hooks.secret = secret;
    const second = new Receiver();
    await second.start();
    try {
      const other = await first!.deps.webhooks.create({ url: second.url, events: ['account.updated'] }, 'cli');
      second.secret = other.secret;
      const people = await Promise.all([0, 1, 2].map((i) => createUser(first!.deps, { email: uniqueEmail(`cluster-${i}`) })));
      // Changes made on every instance, interleaved.
      for (let round = 0; round < 6; round++) {
        await Promise.all(cluster.instances.map((instance, i) => editAccount(instance.deps, people[i]!._id, { notes: `round ${round}` }, ctx)));
      }
      await waitFor('18 events at each endpoint', () => hooks.accepted.length >= 18 && second.accepted.length >= 18);
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // any duplicate would arrive meanwhile
      for (const got of [hooks, second]) {
        expect(got.requests.length).to.equal(18);
        expect(new Set(got.requests.map((r) => r.id)).size).to.equal(18);
        expect(got.requests.every((r) => r.verified)).to.equal(true);
      }
      const stored = await first!.deps.webhooks.collections.deliveries.find({}).sort({ seq: 1 }).toArray() as WebhookDeliveryDoc[];
      for (const person of people) {
        const order = stored.filter((d) => d.accountId === person._id && d.endpointId === stored[0]!.endpointId).map((d) => d.eventId);
        expect(hooks.requests.filter((r) => r.payload.accountId === person._id).map((r) => r.id)).to.deep.equal(order);
      }
      expect(cluster.instances.filter((instance) => instance.deps.webhooks.dispatcher.holdsLease)).to.have.length(1);
    } finally {
      await second.stop();
    }
  });

  it('another instance takes over when the lease holder stops', async () => {
    const holder = cluster.instances.find((instance) => instance.deps.webhooks.dispatcher.holdsLease)!;
    const others = cluster.instances.filter((instance) => instance !== holder);
    await holder.deps.webhooks.dispatcher.stop();
    const before = hooks.accepted.length;
    const person = await createUser(others[0]!.deps, { email: uniqueEmail('takeover') });
    await editAccount(others[0]!.deps, person._id, { notes: 'after the holder stopped' }, ctx);
    await waitFor('the event after the hand-over', () => hooks.accepted.length === before + 1);
    expect(others.filter((instance) => instance.deps.webhooks.dispatcher.holdsLease)).to.have.length(1);
  });
});

describe('webhooks when the delivering process is killed (real processes)', function () {
  this.timeout(240_000);
  let database: TestDatabase;
  let services: Services;
  const hooks = new Receiver();
  const processes: ServerProcess[] = [];
  const dataKeys = randomBytes(32).toString('base64url');

  before(async () => {
    database = await freshDatabase();
    // This process records the changes (as any instance would); the two servers deliver.
    services = createServices(testConfig({ env: { DATA_KEYS: dataKeys } }), createLogger('silent'), database.connection);
    (await prepareDatabase(services))();
    await hooks.start();
  });
  after(async () => {
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await hooks.stop();
    await database.drop();
  });

  it('the other process takes over: every event arrives, in order per account, and only what was in flight may arrive twice', async () => {
    const { secret } = await services.webhooks.create({ url: hooks.url, events: ['account.updated'] }, 'cli');
    hooks.secret = secret;
    hooks.answer = () => ({ status: 200, afterMs: 150 }); // slow enough to be killed in the middle
    for (let i = 0; i < 2; i++) {
      processes.push(await startServerProcess(database.name, { DATA_KEYS: dataKeys, JOB_LEASE_MS: '3000', JOB_HEARTBEAT_MS: '1000', JOB_POLL_MS: '300' }));
    }
    await Promise.all(processes.map((p) => p.ready()));

    const people = await Promise.all([0, 1, 2, 3].map((i) => createUser(services, { email: uniqueEmail(`killed-${i}`) })));
    for (let round = 0; round < 10; round++) {
      for (const person of people) await editAccount(services, person._id, { notes: `round ${round}` }, ctx);
    }
    const stored = await services.webhooks.collections.deliveries.find({}).sort({ seq: 1 }).toArray();
    expect(stored).to.have.length(40);

    await waitFor('the first deliveries', () => hooks.accepted.length >= 5, 90_000);
    const lease = await services.db.collection<LeaseDoc>(LEASES).findOne({ _id: 'webhooks' });
    const holder = processes.find((p) => String(p.child.pid) === lease!.owner.split(':')[1])!;
    expect(holder, `the lease holder (${lease!.owner}) is one of the servers`).to.not.equal(undefined);
    await holder.kill('SIGKILL');

    await waitFor('every event after the takeover', () => new Set(hooks.accepted.map((r) => r.id)).size === 40, 120_000);
    expect(hooks.requests.every((r) => r.verified)).to.equal(true);
    const arrivals = new Map<string, number>();
    for (const request of hooks.accepted) arrivals.set(request.id, (arrivals.get(request.id) ?? 0) + 1);
    // Only deliveries in flight when the holder died (at most eight at once) can arrive twice.
    expect([...arrivals.values()].filter((n) => n > 1).length).to.be.at.most(8);
    expect(Math.max(...arrivals.values())).to.be.at.most(2);
    for (const person of people) {
      const firsts = [...new Set(hooks.accepted.filter((r) => r.payload.accountId === person._id).map((r) => r.id))];
      expect(firsts).to.deep.equal(stored.filter((d) => d.accountId === person._id).map((d) => d.eventId));
    }
    const survivor = processes.find((p) => p !== holder)!;
    const now = await services.db.collection<LeaseDoc>(LEASES).findOne({ _id: 'webhooks' });
    expect(now!.owner.split(':')[1]).to.equal(String(survivor.child.pid));
    await waitFor('every delivery recorded as delivered', async () => (await services.webhooks.collections.deliveries.countDocuments({ status: 'delivered' })) === 40);
  });
});
