// Removing one second factor of an account, on each operator surface: the admin
// console, the admin API and the CLI. One factor of several goes, the others stay;
// the person is emailed; the audit trail names the operator. Another account's
// factor, an unknown one and bad input (operator objects, oversized ids, a missing
// CSRF token) are refused with a clear 4xx (or a CLI error) and remove nothing.
// Real server, database and SMTP server; tokens from openid-client through the real
// sign-in; the CLI as a child process. Passkeys are stored directly (no browser is
// needed to remove one); TOTP and recovery codes through the domain.
import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import type { ClientMetadata } from 'oidc-provider';
import { Secret, TOTP } from 'otpauth';
import { confirmTotpEnrolment, factorsOf, generateRecoveryCodes, startTotpEnrolment, TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { createUser } from '../../src/accounts/users.ts';
import { passkeyModel } from '../../src/db/models/passkey.ts';
import type { ParsedMail } from '../helpers/smtp.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { callApi, expectProblem as expectProblemOf, type Answer, type CallInit } from '../helpers/api.ts';
import { discover, publicClient, signIn } from '../helpers/rp.ts';
import { cliEnvironment, runCli, type Run } from '../helpers/cli.ts';

const app = publicClient({ scope: 'openid email profile offline_access account groups admin' });
const automation = {
  client_id: 'automation',
  client_secret: 'automation-secret-that-is-long-enough-0000',
  grant_types: ['client_credentials'],
  scope: 'admin',
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
} as ClientMetadata;
const PASSWORD = 'lighthouse keeper vinyl 91 quiet harbour';
/** What an operator object, an oversized id and other junk look like as a factor id. */
const BAD_IDS = ['{"$ne":""}', '$ne', '../x', 'a b', 'x'.repeat(101), 'x'.repeat(5000)];

interface Person {
  id: string;
  email: string;
  /** Factor ids by what they are. */
  totp: string;
  codes: string;
  laptop: string;
  phone: string;
}

describe('admin: removing one second factor', function () {
  this.timeout(60_000);
  const { server, smtp } = useTestServer({ clients: [app, automation], smtp: true, policy: LENIENT_THROTTLES });
  let counter = 0;
  let admin: { id: string; email: string };

  const passkeys = () => passkeyModel(server.database.connection);

  async function storePasskey(userId: string, name: string): Promise<string> {
    const id = randomUUID();
    await passkeys().create({
      _id: id, userId, credentialId: randomBytes(32).toString('base64url'), publicKey: randomBytes(77).toString('base64url'),
      counter: 0, transports: ['internal'], name, deviceType: 'singleDevice', backedUp: false, aaguid: '00000000-0000-0000-0000-000000000000',
      createdAt: new Date(), lastUsedAt: null,
    });
    return id;
  }

  /** An account with an authenticator app, recovery codes and two passkeys. */
  async function personWithFactors(tag: string): Promise<Person> {
    const email = `factors-${tag}-${++counter}@example.com`;
    const { _id: id } = await createUser(server.deps, { email, password: PASSWORD, name: 'Many Factors' });
    const enrolment = await startTotpEnrolment(server.deps.factors, id, { issuer: 'Latchkey', account: email });
    const code = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) }).generate({ timestamp: Date.now() - 30_000 });
    const confirmed = await confirmTotpEnrolment(server.deps.factors, id, enrolment.enrolmentId, code);
    if (!confirmed.ok) throw new Error(`enrolment: ${confirmed.reason}`);
    const { factorId: codes } = await generateRecoveryCodes(server.deps.factors, id);
    const laptop = await storePasskey(id, 'Work laptop');
    const phone = await storePasskey(id, 'Phone');
    return { id, email, totp: confirmed.factorId, codes, laptop, phone };
  }

  const allOf = (person: Person) => [person.totp, person.codes, person.laptop, person.phone];
  const factorIds = async (userId: string) => (await factorsOf(server.deps.factors, userId)).map((f) => f.id).sort();
  const removals = (userId: string) => server.deps.audit.list({ userId, events: ['factor.removed'] });
  const mailTo = (to: string) => smtp.waitFor((m: ParsedMail) => (m.to as { text: string }).text.includes(to) && /second factor was removed/.test(m.subject ?? ''));
  const removalMails = async (to: string) => {
    await server.deps.tasks.idle();
    await server.deps.mailer.idle();
    return smtp.messages.filter((m) => (m.to as { text: string }).text.includes(to) && /second factor was removed/.test(m.subject ?? ''));
  };

  /** Only `removed` is gone; the person got one notice naming it; one factor.removed by `actor`. */
  async function expectRemovedOnly(person: Person, removed: string, actor: string, named: string): Promise<void> {
    expect(await factorIds(person.id)).to.deep.equal(allOf(person).filter((id) => id !== removed).sort());
    const records = await removals(person.id);
    expect(records).to.have.length(1);
    expect(records[0]!.actor).to.equal(actor);
    expect(records[0]!.details).to.deep.include({ factorId: removed });
    const mail = await mailTo(person.email);
    expect(mail.text).to.contain(named);
    expect(await removalMails(person.email)).to.have.length(1);
  }

  /** Every factor still there, nothing audited, nobody emailed. */
  async function expectUntouched(...people: Person[]): Promise<void> {
    for (const person of people) {
      expect(await factorIds(person.id), person.email).to.deep.equal(allOf(person).sort());
      expect(await removals(person.id), person.email).to.have.length(0);
      expect(await removalMails(person.email), person.email).to.have.length(0);
    }
  }

  before(async () => {
    const email = `factors-admin@example.com`;
    const user = await createUser(server.deps, { email, password: PASSWORD, name: 'Ada Admin', roles: ['admin'] });
    admin = { id: user._id, email };
  });

  describe('in the admin console', () => {
    let agent: Agent;
    const url = (path: string) => `${server.url}${path}`;
    const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

    before(async () => {
      agent = new Agent();
      const login = await agent.follow(url('/admin'));
      const form = formOn(login.body, /\/login$/);
      const page = await agent.follow(new URL(form.action, login.url).href, { form: { ...form.fields, email: admin.email, password: PASSWORD } });
      expect(page.status, page.body.slice(0, 500)).to.equal(200);
    });

    /** The account's page, and its CSRF token. */
    async function accountPage(userId: string): Promise<{ page: Page; csrf: string }> {
      const page = await agent.request(url(`/admin/accounts/${userId}`));
      expect(page.status, page.body.slice(0, 500)).to.equal(200);
      return { page, csrf: csrfOf(page.body) };
    }

    const remove = (userId: string, form: Record<string, string> | string) => agent.request(url(`/admin/accounts/${userId}/remove-factor`), { form });

    it('lists each factor (passkeys by name) with a Remove button; removing one leaves the others, emails the person, audits the admin', async () => {
      const person = await personWithFactors('console');
      const { page, csrf } = await accountPage(person.id);
      expect(page.body).to.contain('Authenticator app').and.contain('Recovery codes')
        .and.contain('Passkey “Work laptop”').and.contain('Passkey “Phone”');
      // One form per factor, each naming its factor, with the CSRF token.
      const forms = [...page.body.matchAll(/<form[^>]*action="\/admin\/accounts\/[^"]+\/remove-factor"[^>]*>([\s\S]*?)<\/form>/g)].map((m) => m[1]!);
      expect(forms).to.have.length(4);
      for (const id of allOf(person)) expect(forms.some((form) => form.includes(`value="${id}"`) && form.includes('name="_csrf"'))).to.equal(true);
      expect(page.body).to.contain('aria-label="Remove Passkey “Work laptop”"');

      const response = await remove(person.id, { _csrf: csrf, factorId: person.laptop });
      expect(response.status, response.body.slice(0, 500)).to.equal(303);
      const next = await agent.request(url(response.headers.get('location')!));
      expect(next.status).to.equal(200);
      expect(next.body).to.contain('Passkey “Work laptop” was removed').and.contain('Passkey “Phone”').and.not.contain('Passkey “Work laptop”</strong>');
      await expectRemovedOnly(person, person.laptop, `admin:${admin.id}`, 'a passkey ("Work laptop")');
    });

    it('another account\'s factor, an unknown one, an unknown account: 404, nothing removed', async () => {
      const [person, other] = await Promise.all([personWithFactors('console-owner'), personWithFactors('console-other')]);
      const { csrf } = await accountPage(person.id);
      for (const factorId of [other.phone, other.totp, randomUUID()]) {
        const response = await remove(person.id, { _csrf: csrf, factorId });
        expect(response.status, factorId).to.equal(404);
        expect(response.body).to.contain('no such second factor');
      }
      for (const account of [randomUUID(), 'x'.repeat(300)]) {
        expect((await remove(account, { _csrf: csrf, factorId: person.totp })).status).to.equal(404);
      }
      await expectUntouched(person, other);
    });

    it('bad input (operator objects, oversized or missing ids, a missing CSRF token): a clear 4xx, nothing removed', async () => {
      const person = await personWithFactors('console-bad');
      const { csrf } = await accountPage(person.id);
      const token = `_csrf=${encodeURIComponent(csrf)}`;
      for (const form of [
        `${token}&factorId[$ne]=`, `${token}&factorId[$gt]=`, `${token}&factorId[]=${person.totp}`, `${token}&factorId[0]=${person.totp}`,
        `${token}`, `${token}&factorId=`, ...BAD_IDS.map((id) => `${token}&factorId=${encodeURIComponent(id)}`),
      ]) {
        const response = await remove(person.id, form);
        expect(response.status, form.slice(0, 80)).to.equal(400);
        expect(response.body).to.contain('Choose a second factor to remove.');
        expect(response.body).to.not.match(/\bat \S+ \(|node_modules|\.ts:\d+|Error:/);
      }
      // Too large for a form at all.
      expect((await remove(person.id, `${token}&factorId=${'x'.repeat(20_000)}`)).status).to.equal(413);
      // Without the CSRF token, or with another: refused before anything is read.
      expect((await remove(person.id, { factorId: person.totp })).status).to.equal(403);
      expect((await remove(person.id, { _csrf: 'not-the-token', factorId: person.totp })).status).to.equal(403);
      // Not a form.
      const json = await agent.request(url(`/admin/accounts/${person.id}/remove-factor`), {
        method: 'POST', body: JSON.stringify({ _csrf: csrf, factorId: person.totp }), headers: { 'content-type': 'application/json' },
      });
      expect(json.status).to.equal(415);
      // Someone who is not signed in to the console.
      const stranger = await new Agent().request(url(`/admin/accounts/${person.id}/remove-factor`), { form: { _csrf: csrf, factorId: person.totp } });
      expect(stranger.status).to.equal(401);
      await expectUntouched(person);
    });
  });

  describe('through the admin API', () => {
    let adminToken: string;
    let clientToken: string;
    const call = (path: string, init: CallInit = {}) => callApi(server.url, path, { ...init, token: init.token === undefined ? adminToken : init.token });
    const expectProblem = (answer: Answer, status: number, code: string) => expectProblemOf(answer, status, code, server.url);
    const factorPath = (userId: string, factorId: string) => `/api/admin/accounts/${encodeURIComponent(userId)}/factors/${encodeURIComponent(factorId)}`;
    const del = (userId: string, factorId: string, init: CallInit = {}) => call(factorPath(userId, factorId), { method: 'DELETE', ...init });

    before(async () => {
      const { tokens } = await signIn(await discover(server.url, app), new Agent(), admin.email, PASSWORD, { scope: 'openid admin' });
      adminToken = tokens.access_token;
      clientToken = (await oidc.clientCredentialsGrant(await discover(server.url, automation), { scope: 'admin' })).access_token;
    });

    it('GET lists every factor with its id and kind, passkeys with their names, never a secret', async () => {
      const person = await personWithFactors('api-show');
      const answer = await call(`/api/admin/accounts/${person.id}`);
      expect(answer.status, answer.text.slice(0, 300)).to.equal(200);
      const factors = answer.json.factors as Array<Record<string, unknown>>;
      expect(factors.map((f) => f.id).sort()).to.deep.equal(allOf(person).sort());
      const byId = new Map(factors.map((f) => [f.id, f]));
      expect(byId.get(person.laptop)).to.deep.include({ kind: 'passkey', name: 'Work laptop', lastUsedAt: null });
      expect(byId.get(person.phone)).to.deep.include({ kind: 'passkey', name: 'Phone' });
      expect(byId.get(person.totp)).to.deep.include({ kind: 'totp', name: null });
      expect(byId.get(person.codes)).to.deep.include({ kind: 'recovery_codes', name: null, remainingCodes: 10, codeCount: 10 });
      for (const factor of factors) {
        expect(Object.keys(factor).sort()).to.deep.equal(['codeCount', 'createdAt', 'id', 'kind', 'lastUsedAt', 'name', 'remainingCodes']);
      }
    });

    it('DELETE removes that one factor (204): the others stay, the person is emailed, the caller is the actor', async () => {
      const person = await personWithFactors('api');
      const answer = await del(person.id, person.phone);
      expect(answer.status, answer.text.slice(0, 300)).to.equal(204);
      expect(answer.text).to.equal('');
      expect(answer.headers.get('cache-control')).to.equal('no-store');
      await expectRemovedOnly(person, person.phone, `admin:${admin.id}`, 'a passkey ("Phone")');
      // Again: it is gone.
      expectProblem(await del(person.id, person.phone), 404, 'not-found');

      // Client credentials: the client is the actor.
      const second = await personWithFactors('api-client');
      expect((await del(second.id, second.totp, { token: clientToken })).status).to.equal(204);
      await expectRemovedOnly(second, second.totp, 'client:automation', 'an authenticator app');
    });

    it('another account\'s factor, an unknown factor or account: a 404 problem, nothing removed', async () => {
      const [person, other] = await Promise.all([personWithFactors('api-owner'), personWithFactors('api-other')]);
      for (const factorId of [other.laptop, other.codes, randomUUID()]) {
        const answer = await del(person.id, factorId);
        expectProblem(answer, 404, 'not-found');
        expect(answer.json.detail).to.equal('The account has no second factor with this id.');
      }
      for (const account of [randomUUID(), 'x'.repeat(201)]) {
        const answer = await del(account, person.totp);
        expectProblem(answer, 404, 'not-found');
        expect(answer.json.detail).to.equal('There is no account with this id.');
      }
      await expectUntouched(person, other);
    });

    it('bad input (operator objects, oversized ids, a body, no token, another method): a clear 4xx, nothing removed', async () => {
      const person = await personWithFactors('api-bad');
      for (const factorId of BAD_IDS) expectProblem(await del(person.id, factorId), 404, 'not-found');
      // A body must be empty: an operator object in it is refused.
      for (const body of [{ factorId: { $ne: '' } }, { $where: '1' }, []]) {
        expectProblem(await del(person.id, person.totp, { body }), 400, 'invalid-request');
      }
      expectProblem(await del(person.id, person.totp, { body: 'factorId=x', type: 'application/x-www-form-urlencoded' }), 415, 'unsupported-media-type');
      expectProblem(await del(person.id, person.totp, { token: null }), 401, 'invalid-token');
      expectProblem(await del(person.id, person.totp, { token: 'not-a-token' }), 401, 'invalid-token');
      const posted = await call(factorPath(person.id, person.totp), { method: 'POST' });
      expectProblem(posted, 405, 'about:blank');
      expect(posted.headers.get('allow')).to.equal('DELETE');
      await expectUntouched(person);
    });

    it('is in the OpenAPI document, with its path parameters and its answers', async () => {
      const doc = (await call('/api/openapi.json', { token: null })).json;
      const operation = doc.paths['/api/admin/accounts/{id}/factors/{factorId}'].delete;
      expect(operation.operationId).to.equal('adminRemoveFactor');
      expect(operation.parameters.map((p: { name: string }) => p.name)).to.deep.equal(['id', 'factorId']);
      const factorId = operation.parameters[1];
      expect(factorId).to.deep.include({ in: 'path', required: true });
      expect(new RegExp(factorId.schema.pattern).test(randomUUID())).to.equal(true);
      expect(Object.keys(operation.responses)).to.include.members(['204', '400', '401', '403', '404']);
      expect(operation.security).to.deep.equal([{ bearerAuth: ['admin'] }, { adminClientCredentials: ['admin'] }]);
    });
  });

  describe('with the CLI', () => {
    let env: NodeJS.ProcessEnv;
    const latchkey = (...args: string[]) => runCli(args, env);

    /** A refusal: exit 1, a `latchkey: ` message matching `pattern`, nothing on stdout. */
    function expectRefused(run: Run, pattern: RegExp): void {
      expect(run.code, run.stderr).to.equal(1);
      expect(run.stderr).to.match(/^latchkey: /).and.match(pattern);
      expect(run.stdout).to.equal('');
    }

    before(() => {
      env = cliEnvironment(server.database.name, { SMTP_URL: smtp.url });
    });

    it('user:show lists each factor with its id, passkeys by name; user:remove-factor removes that one, emails the person, audits cli', async () => {
      const person = await personWithFactors('cli');
      const shown = await latchkey('user:show', '--email', person.email);
      expect(shown.code, shown.stderr).to.equal(0);
      expect(shown.stdout).to.match(/second factors \(4\):\n {2}kind\s+id\s+added/);
      expect(shown.stdout).to.match(new RegExp(`^ {2}authenticator app\\s+${person.totp}\\s`, 'm'));
      expect(shown.stdout).to.match(new RegExp(`^ {2}recovery codes\\s+${person.codes}\\s.*10 of 10$`, 'm'));
      expect(shown.stdout).to.match(new RegExp(`^ {2}passkey "Work laptop"\\s+${person.laptop}\\s`, 'm'));
      expect(shown.stdout).to.match(new RegExp(`^ {2}passkey "Phone"\\s+${person.phone}\\s`, 'm'));

      const run = await latchkey('user:remove-factor', person.email, person.codes);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.equal(`removed the recovery codes of ${person.email} (the person was told by email)\n`);
      await expectRemovedOnly(person, person.codes, 'cli', 'recovery codes');

      expectRefused(await latchkey('user:remove-factor', person.email, person.codes), /has no second factor with id/);
    });

    it('another account\'s factor, an unknown account, bad or missing input: an error, nothing removed', async () => {
      const [person, other] = await Promise.all([personWithFactors('cli-owner'), personWithFactors('cli-other')]);
      expectRefused(await latchkey('user:remove-factor', person.email, other.laptop), new RegExp(`${person.email} has no second factor with id ${other.laptop}`));
      expectRefused(await latchkey('user:remove-factor', person.email, randomUUID()), /has no second factor with id/);
      expectRefused(await latchkey('user:remove-factor', 'nobody@example.com', person.totp), /no account with email nobody@example\.com/);
      const [missing, ...bad] = await Promise.all([
        latchkey('user:remove-factor', person.email),
        ...[...BAD_IDS, ''].map((id) => latchkey('user:remove-factor', person.email, id)),
      ]);
      for (const run of bad) {
        expectRefused(run, /not a second factor id/);
        expect(run.stderr.length).to.be.below(300);
      }
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.match(/missing required argument 'factorId'/);
      await expectUntouched(person, other);
    });
  });
});
