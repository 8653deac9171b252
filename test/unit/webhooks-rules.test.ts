// The webhook rules that need no server: which audit events are webhook events and
// what their payload carries, which URLs and events an endpoint may have, the
// backoff, the audit trail's followers, and the module's place in the layout.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AUDIT_EVENTS, AuditTrail } from '../../src/accounts/audit.ts';
import type { AuditModel } from '../../src/db/models/audit.ts';
import { createLogger } from '../../src/log.ts';
import { FROM_AUDIT, WEBHOOK_EVENT_TYPES, webhookEventFor } from '../../src/webhooks/events.ts';
import { WebhookError, checkEndpointUrl, checkEvents, endpointSecret, reencryptSecretIfNeeded } from '../../src/webhooks/endpoints.ts';
import { DataVault } from '../../src/secrets.ts';
import type { WebhookCollections, WebhookEndpointDoc } from '../../src/db/models/webhook.ts';
import { retryDelay } from '../../src/webhooks/dispatcher.ts';

const record = (event: string, userId: string | null = 'u-1', details: Record<string, string | number | boolean | null> = {}) => ({
  id: '0b6c2a8e-1d4f-4a7b-9c3e-5f1a2b3c4d5e', at: new Date('2026-12-02T10:00:00Z'), event, userId, actor: 'admin:a-1', details,
});

describe('webhook events from the audit trail', () => {
  it('maps account changes to webhook events, and leaves sign-ins, links and code checks out', () => {
    for (const event of Object.keys(FROM_AUDIT)) expect([...AUDIT_EVENTS, 'account.deleted'], event).to.include(event);
    for (const event of ['signin.succeeded', 'signin.failed', 'password.reset_requested', 'invite.sent', 'factor.verified']) {
      expect(webhookEventFor(record(event)), event).to.equal(null);
    }
    const mapped = new Set(Object.values(FROM_AUDIT));
    for (const type of WEBHOOK_EVENT_TYPES) if (type !== 'import.finished') expect(mapped.has(type), type).to.equal(true);
    expect(webhookEventFor(record('password.temporary_set'))!.type).to.equal('account.password_reset');
    expect(webhookEventFor(record('signout.everywhere'))!.type).to.equal('account.sessions_revoked');
  });

  it('builds the payload: id, type, time, account, actor and the audit details; nothing for a record without an account', () => {
    expect(webhookEventFor(record('account.updated', 'u-1', { fields: 'name' }))).to.deep.equal({
      id: 'msg_0b6c2a8e1d4f4a7b9c3e5f1a2b3c4d5e', type: 'account.updated', time: '2026-12-02T10:00:00.000Z', accountId: 'u-1', actor: 'admin:a-1', data: { fields: 'name' },
    });
    // An import's per-batch record has no account: import.finished sums it up.
    expect(webhookEventFor(record('account.created', null, { import: true, count: 100 }))).to.equal(null);
  });

  it('names a deleted account by its real id, never by the audit trail\'s pseudonym', () => {
    expect(webhookEventFor({ ...record('account.deleted', 'deleted:5f1a'), accountId: 'u-1' })).to.deep.include({ type: 'account.deleted', accountId: 'u-1' });
    expect(webhookEventFor(record('account.deleted', 'deleted:5f1a'))).to.equal(null);
  });
});

describe('webhook endpoint rules', () => {
  const refused = (url: string, production = false) => {
    try {
      checkEndpointUrl(url, production);
    } catch (error) {
      expect(error).to.be.instanceOf(WebhookError);
      expect((error as WebhookError).field).to.equal('url');
      return (error as WebhookError).message;
    }
    return null;
  };

  it('takes https anywhere, and plain http only to this machine outside production', () => {
    expect(checkEndpointUrl(' https://crm.example.com/hooks?x=1 ', true)).to.equal('https://crm.example.com/hooks?x=1');
    for (const local of ['http://127.0.0.1:8080/h', 'http://localhost/h', 'http://[::1]:9/h']) {
      expect(refused(local), local).to.equal(null);
      expect(refused(local, true), local).to.match(/development only/);
    }
    for (const bad of ['http://example.com/h', 'http://10.0.0.1/h', 'http://127.0.0.1.example.com/h', 'ftp://example.com/h', 'javascript:alert(1)', 'file:///etc/passwd', 'example.com/h', '', `https://example.com/${'x'.repeat(2000)}`, 'https://u:p@example.com/h', 'https://example.com/h#frag']) {
      expect(refused(bad), bad).to.be.a('string');
    }
  });

  it('takes known events once each, in the catalogue\'s order, or "all"', () => {
    expect(checkEvents(['account.disabled', 'account.created', 'account.disabled'])).to.deep.equal(['account.created', 'account.disabled']);
    expect(checkEvents(['all'])).to.deep.equal(WEBHOOK_EVENT_TYPES);
    for (const bad of [[], ['account.exploded'], ['all', 'account.created'], [42 as unknown as string]]) {
      expect(() => checkEvents(bad), JSON.stringify(bad)).to.throw(WebhookError);
    }
  });

  it('backs off exponentially, with jitter, up to the cap', () => {
    const timing = { retryBaseMs: 10_000, retryMaxMs: 3_600_000 };
    expect([1, 2, 3, 4].map((n) => retryDelay(n, timing, 0.5))).to.deep.equal([10_000, 20_000, 40_000, 80_000]);
    expect(retryDelay(30, timing, 0.5)).to.equal(3_600_000);
    expect(retryDelay(1000, timing, 0.5)).to.equal(3_600_000);
    expect(retryDelay(1, timing, 0)).to.equal(8_000);
    expect(retryDelay(1, timing, 1)).to.equal(12_000);
  });
});

describe('webhook secrets at rest', () => {
  it('are bound to their endpoint, and re-encrypted under the first key after a rotation', async () => {
    const oldKey = 'o'.repeat(40);
    const newKey = 'n'.repeat(40);
    const before = new DataVault([oldKey]);
    const doc = { _id: 'whe_1', secret: before.encrypt('whsec_x', 'webhook:whe_1') } as WebhookEndpointDoc;
    expect(endpointSecret({ vault: before }, doc)).to.equal('whsec_x');
    expect(() => endpointSecret({ vault: before }, { ...doc, _id: 'whe_2' })).to.throw();
    const updates: unknown[][] = [];
    const collections = { endpoints: { updateOne: async (...args: unknown[]) => updates.push(args) } } as unknown as WebhookCollections;
    await reencryptSecretIfNeeded({ vault: before, collections }, doc, 'whsec_x');
    expect(updates).to.have.length(0);
    const rotated = new DataVault([newKey, oldKey]);
    await reencryptSecretIfNeeded({ vault: rotated, collections }, doc, endpointSecret({ vault: rotated }, doc));
    const [[filter, update]] = updates as [[Record<string, unknown>, { $set: { secret: string } }]];
    expect(filter).to.deep.equal({ _id: 'whe_1', secret: doc.secret });
    expect(endpointSecret({ vault: new DataVault([newKey]) }, { ...doc, secret: update.$set.secret })).to.equal('whsec_x');
  });
});

describe('the audit trail\'s followers', () => {
  const log = createLogger('silent');
  const model = { create: async () => ({}), collection: { insertMany: async () => ({}) } } as unknown as AuditModel;

  it('are awaited after each record, with what was stored, and their failures never fail the change', async () => {
    const trail = new AuditTrail(model, 30, log);
    const seen: string[] = [];
    trail.follow(async () => {
      throw new Error('the outbox is down');
    });
    trail.follow(async (records) => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      seen.push(...records.map((r) => `${r.event}:${r.userId}:${r.actor}`));
    });
    await trail.record('account.disabled', 'u-1', { actor: 'cli', ip: '10.0.0.1' });
    expect(seen).to.deep.equal(['account.disabled:u-1:cli']);
    const deleted: Array<string | null> = [];
    trail.follow(async (records) => void deleted.push(...records.map((r) => r.accountId)));
    await trail.record('account.deleted', 'deleted:5f1a', {}, {}, { accountId: 'u-1' });
    expect(deleted).to.deep.equal(['u-1']);
    seen.length = 0;
    await trail.recordMany([{ event: 'account.created', userId: null, context: { actor: 'import' } }]);
    expect(seen).to.deep.equal(['account.created:null:import']);
  });
});

describe('the layout of src/webhooks', () => {
  it('is free of the web layer and of Koa: every surface calls it', () => {
    const dir = resolve(import.meta.dirname, '../../src/webhooks');
    for (const file of readdirSync(dir)) {
      const text = readFileSync(join(dir, file), 'utf8');
      expect(text, file).to.not.match(/from '(koa|@koa\/[^']+)'|from '\.\.\/web\//);
    }
  });
});
