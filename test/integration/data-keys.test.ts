// Re-encrypting stored secrets after a DATA_KEYS rotation, with the real CLI
// (`latchkey data-keys:reencrypt`, child processes) on a real database: authenticator
// apps enrolled under one key; the server restarted with a new first key and the old
// one after it; the command, twice at once (each value written once) and again
// (nothing to do); then the old key removed, and a sign-in with a code from the
// authenticator app still works (and a webhook's signing secret still decrypts, and
// the server starts: its signing keys were re-sealed too).
// A value no configured key decrypts is left alone.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import * as oidc from 'openid-client';
import { createUser } from '../../src/accounts/users.ts';
import { confirmTotpEnrolment, startTotpEnrolment, TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { DataVault } from '../../src/secrets.ts';
import { createEndpoint, endpointSecret } from '../../src/webhooks/endpoints.ts';
import { WEBHOOK_EVENT_TYPES } from '../../src/webhooks/events.ts';
import { freshDatabase, LENIENT_THROTTLES, startTestServer, type TestDatabase, type TestServer } from '../helpers/server.ts';
import { Agent, formOn } from '../helpers/agent.ts';
import { cliEnvironment, runCli, type Run } from '../helpers/cli.ts';
import { confidentialClient, discover, openSignIn, RP_CALLBACK, startAuthorization, submitSignIn } from '../helpers/rp.ts';

const OLD_KEY = 'the-old-data-key-for-this-test-0000000000';
const NEW_KEY = 'the-new-data-key-for-this-test-1111111111';
const UNKNOWN_KEY = 'a-key-nobody-configured-for-this-test-22222';
const STEP_MS = 30_000;
const web = confidentialClient();

/** The totals line of the command's output. */
function totals(run: Run): { reencrypted: number; current: number; failed: number } {
  const match = /^total: (\d+) re-encrypted, (\d+) already current, (\d+) failed to decrypt/m.exec(run.stdout);
  if (!match) throw new Error(`no totals in the output (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  return { reencrypted: Number(match[1]), current: Number(match[2]), failed: Number(match[3]) };
}

describe('data-keys:reencrypt after a DATA_KEYS rotation', function () {
  this.timeout(180_000);
  let database: TestDatabase;
  let server: TestServer | null = null;

  const start = async (dataKeys: string) => {
    server = await startTestServer({ database, clients: [web], policy: LENIENT_THROTTLES, env: { DATA_KEYS: dataKeys } });
    return server;
  };
  const stop = async () => {
    await server?.stop();
    server = null;
  };
  const reencrypt = (dataKeys: string) => runCli(['data-keys:reencrypt'], cliEnvironment(database.name, { DATA_KEYS: dataKeys }));
  const factors = () => database.connection.collection('factors');
  const enrolments = () => database.connection.collection('factor_enrolments');

  before(async () => {
    database = await freshDatabase();
  });

  after(async () => {
    await stop();
    await database.drop();
  });

  it('re-encrypts every secret once (two runs at once), changes nothing when run again, and sign-in works without the old key', async () => {
    // Enrolled under the old key: one person to sign in, more for the two runs to share, and a set-up in progress.
    const first = await start(OLD_KEY);
    const people: Array<{ email: string; password: string; userId: string; secret: string }> = [];
    for (let i = 0; i < 12; i++) {
      const email = `rotation-${i}@example.com`;
      const password = `a rotation passphrase number ${i}`;
      const user = await createUser(first.deps, { email, password });
      const enrolment = await startTotpEnrolment(first.deps.factors, user._id, { issuer: 'Latchkey', account: email });
      const code = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) }).generate({ timestamp: Date.now() - STEP_MS });
      expect((await confirmTotpEnrolment(first.deps.factors, user._id, enrolment.enrolmentId, code)).ok).to.equal(true);
      people.push({ email, password, userId: user._id, secret: enrolment.secretBase32 });
    }
    const pending = await createUser(first.deps, { email: 'rotation-pending@example.com', password: 'a rotation passphrase pending' });
    const pendingEnrolment = await startTotpEnrolment(first.deps.factors, pending._id, { issuer: 'Latchkey', account: 'rotation-pending@example.com' });
    const webhookDeps = { collections: first.deps.webhooks.collections, vault: first.deps.factors.vault, production: false };
    const webhook = await createEndpoint(webhookDeps, { url: 'http://127.0.0.1:9/hook', events: [WEBHOOK_EVENT_TYPES[0]!] }, 'cli');
    await stop();
    // 12 authenticator apps, 1 being set up, 1 webhook secret, and the 2 token signing keys the first start sealed.
    const stored = 16;
    const oldVault = new DataVault([OLD_KEY]);
    for (const doc of [...await factors().find({ kind: 'totp' }).toArray(), ...await enrolments().find().toArray()]) {
      expect(oldVault.needsReencryption(doc.secret), 'under the old key').to.equal(false);
    }

    // The new key first, the old one after it; the command twice at once, as on two machines.
    await start(`${NEW_KEY},${OLD_KEY}`);
    const runs = await Promise.all([reencrypt(`${NEW_KEY},${OLD_KEY}`), reencrypt(`${NEW_KEY},${OLD_KEY}`)]);
    for (const run of runs) {
      expect(run.code, run.stderr).to.equal(0);
      expect(totals(run).failed).to.equal(0);
      expect(run.stdout).to.match(/^authenticator apps: \d+ re-encrypted/m).and.match(/^authenticator apps being set up: \d+ re-encrypted/m)
        .and.match(/^webhook signing secrets: \d+ re-encrypted/m).and.match(/^token signing keys: \d+ re-encrypted/m);
      // Never a secret, in any form.
      for (const person of [...people, { secret: pendingEnrolment.secretBase32 }, webhook]) expect(run.stdout + run.stderr).to.not.contain(person.secret);
      expect(run.stdout + run.stderr).to.not.contain(OLD_KEY).and.not.contain(NEW_KEY);
    }
    expect(runs.map((run) => totals(run).reencrypted).reduce((a, b) => a + b), 'each value written once').to.equal(stored);

    const newVault = new DataVault([NEW_KEY]);
    const factorDocs = await factors().find({ kind: 'totp' }).toArray();
    expect(factorDocs).to.have.length(12);
    for (const doc of factorDocs) {
      const person = people.find((p) => p.userId === doc.userId)!;
      expect(newVault.decrypt(doc.secret, `totp:${doc.userId}`)).to.equal(person.secret);
    }
    const pendingDoc = (await enrolments().findOne({ userId: pending._id }))!;
    expect(newVault.decrypt(pendingDoc.secret, `totp:${pending._id}`)).to.equal(pendingEnrolment.secretBase32);
    const webhookDoc = (await webhookDeps.collections.endpoints.findOne({ _id: webhook.endpoint.id }))!;
    expect(endpointSecret({ vault: newVault }, webhookDoc)).to.equal(webhook.secret);

    // Again: nothing to do, nothing written.
    const before = factorDocs.map((doc) => doc.secret).sort();
    const again = await reencrypt(`${NEW_KEY},${OLD_KEY}`);
    expect(again.code).to.equal(0);
    expect(totals(again)).to.deep.equal({ reencrypted: 0, current: stored, failed: 0 });
    expect((await factors().find({ kind: 'totp' }).toArray()).map((doc) => doc.secret).sort()).to.deep.equal(before);
    await stop();

    // The old key removed: a sign-in with the password and a code from the app still works.
    const last = await start(NEW_KEY);
    const person = people[0]!;
    const config = await discover(last.url, web);
    const agent = new Agent();
    const authorization = await startAuthorization(config);
    const second = await submitSignIn(agent, await openSignIn(agent, authorization), person.email, person.password);
    const form = formOn(second.body, /\/second-factor$/);
    const code = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(person.secret) }).generate();
    const done = await agent.follow(new URL(form.action, second.url).href, { form: { ...form.fields, code } }, RP_CALLBACK);
    expect(done.url.startsWith(RP_CALLBACK), done.body.slice(0, 500)).to.equal(true);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.url), {
      pkceCodeVerifier: authorization.verifier, expectedState: authorization.state, expectedNonce: authorization.nonce,
    });
    expect(tokens.claims()!.acr).to.equal('urn:latchkey:acr:mfa');
    await stop();
  });

  it('leaves a value that no configured key decrypts as it is, names its document, and exits 3', async () => {
    const userId = randomUUID();
    const id = randomUUID();
    const foreign = new DataVault([UNKNOWN_KEY]).encrypt('JBSWY3DPEHPK3PXP', `totp:${userId}`);
    // Under a configured key but bound to another account (copied over): it does not decrypt here either.
    const copied = new DataVault([OLD_KEY]).encrypt('KRSXG5CTMVRXEZLU', `totp:${randomUUID()}`);
    const copiedId = randomUUID();
    await factors().insertMany([
      { _id: id as never, userId, kind: 'totp', createdAt: new Date(), lastUsedAt: null, secret: foreign, lastStep: -1, unusedCodes: [], codeCount: 0 },
      { _id: copiedId as never, userId: randomUUID(), kind: 'totp', createdAt: new Date(), lastUsedAt: null, secret: copied, lastStep: -1, unusedCodes: [], codeCount: 0 },
    ]);
    const run = await reencrypt(`${NEW_KEY},${OLD_KEY}`);
    expect(run.code).to.equal(3);
    expect(totals(run).failed).to.equal(2);
    expect(run.stdout).to.contain(id).and.contain(copiedId);
    expect(run.stdout).to.match(/do not remove a key/);
    expect(run.stdout).to.not.contain('JBSWY3DPEHPK3PXP').and.not.contain('KRSXG5CTMVRXEZLU');
    expect((await factors().findOne({ _id: id as never }))!.secret).to.equal(foreign);
    expect((await factors().findOne({ _id: copiedId as never }))!.secret).to.equal(copied);
  });
});
