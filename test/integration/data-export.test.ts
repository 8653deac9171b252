// "Download my data" (issue 14) end to end: a person signed in to the portal and to an
// app (openid-client) with a profile, an authenticator app, recovery codes, a passkey,
// a trusted browser and a change of address downloads the JSON from /account/data; it
// validates against the published schema (docs/schemas/account-export.schema.json,
// with ajv's draft 2020-12 validator), holds their data and none of the secrets; the
// download is a CSRF-checked POST, an attachment nobody caches, limited per account and
// hour with a clear 429 page (axe in English and Arabic).
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { BrowserContext } from 'playwright-core';
import { Secret, TOTP } from 'otpauth';
import { createUser } from '../../src/accounts/users.ts';
import { confirmTotpEnrolment, generateRecoveryCodes, startTotpEnrolment, TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { setRole } from '../../src/accounts/admin.ts';
import { EMAIL_CHANGES } from '../../src/accounts/email-change.ts';
import { ExportLimit } from '../../src/accounts/export.ts';
import { deleteAccount } from '../../src/accounts/deletion.ts';
import { translator } from '../../src/i18n/messages.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page, signedInToPortal } from '../helpers/agent.ts';
import { confidentialClient, discover, signIn } from '../helpers/rp.ts';
import { useBrowser } from '../helpers/browser.ts';
import { axeViolations, describeViolations } from '../helpers/axe.ts';

const SCHEMA = JSON.parse(readFileSync(new URL('../../docs/schemas/account-export.schema.json', import.meta.url), 'utf8'));
const PER_HOUR = 3;
const app = confidentialClient({ client_name: 'Export App', scope: 'openid email profile offline_access' });

/** The published schema, compiled strictly; formats checked by simple patterns (ajv-formats is not a dependency). */
function validator() {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
  ajv.addFormat('email', /^[^\s@]+@[^\s@]+$/);
  return ajv.compile(SCHEMA);
}

describe('export my data', function () {
  this.timeout(120_000);
  const { server } = useTestServer({ clients: [app], policy: { ...LENIENT_THROTTLES, dataExport: { perAccountPerHour: PER_HOUR } } });
  let counter = 0;

  const url = (path: string) => `${server.url}${path}`;
  const db = () => server.database.connection;

  async function newPerson(tag: string) {
    const email = `export-${tag}-${++counter}@example.com`;
    const password = `an orderly archive shelf ${counter}`;
    const user = await createUser(server.deps, { email, password, name: 'Curious Person' });
    return { email, password, userId: user._id };
  }

  /** A browser signed in to the portal just now (its password typed at the provider). */
  const portalAgent = (email: string, password: string) => signedInToPortal(url(''), email, password);

  /** The "Download my data" form of /account/data, sent (extra raw fields appended when given). */
  async function download(agent: Agent, extra = ''): Promise<Page> {
    const page = await agent.request(url('/account/data'));
    expect(page.status).to.equal(200);
    const form = formOn(page.body, /\/account\/data$/);
    return agent.request(url('/account/data'), { form: `${new URLSearchParams(form.fields).toString()}${extra}` });
  }

  it('downloads everything held about the person as JSON that the published schema accepts, with none of the secrets', async () => {
    const person = await newPerson('full');
    await server.deps.users.updateOne({ _id: person.userId }, {
      $set: { phoneNumber: '+442079460958', locale: 'en-GB', address: { locality: 'London', country: 'GB' }, termsAccepted: { version: '2026-01', at: new Date('2026-01-05T10:00:00Z'), clientId: null } },
    });
    const { tokens } = await signIn(await discover(server.url, app), new Agent(), person.email, person.password, { scope: 'openid email profile offline_access' });
    // Signed in to the portal before a second factor exists (the password alone then).
    const agent = await portalAgent(person.email, person.password);
    const enrolment = await startTotpEnrolment(server.deps.factors, person.userId, { issuer: 'Latchkey', account: person.email });
    const totp = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) });
    expect((await confirmTotpEnrolment(server.deps.factors, person.userId, enrolment.enrolmentId, totp.generate())).ok).to.equal(true);
    const { codes } = await generateRecoveryCodes(server.deps.factors, person.userId);
    const credentialId = `credential-${randomUUID()}`;
    const publicKey = `public-key-${randomUUID()}`;
    await server.deps.factors.passkeys.create({
      _id: randomUUID(), userId: person.userId, credentialId, publicKey, counter: 0, transports: [], name: 'Work laptop',
      deviceType: 'multiDevice', backedUp: true, aaguid: '', createdAt: new Date(), lastUsedAt: null,
    });
    await db().collection('trusted_browsers').insertOne({ _id: `${person.userId}:device` as never, userId: person.userId, deviceId: 'device-secret-id', createdAt: new Date(), expiresAt: new Date(Date.now() + 86_400_000) });
    await db().collection(EMAIL_CHANGES).insertOne({
      _id: randomUUID() as never, userId: person.userId, oldEmail: `old-${person.email}`, newEmail: person.email, mode: 'confirm', status: 'confirmed', actor: 'self',
      requestedAt: new Date(Date.now() - 60_000), confirmUntil: null, confirmedAt: new Date(), undoneAt: null, confirmLinkId: 'link-hash', undoLinkId: null, undoUntil: null,
    });
    // An operator acted on the account: the export says so without naming them.
    const admin = await createUser(server.deps, { email: `export-admin-${counter}@example.com`, password: 'the operator on duty 1', roles: ['admin'] });
    await setRole(server.deps, person.userId, 'auditor', true, { actor: `admin:${admin._id}` });

    const page = await agent.request(url('/account/data'));
    expect(page.body).to.contain('Download my data').and.contain(`${PER_HOUR} times an hour`).and.contain('href="/account/delete"');
    const answer = await download(agent);
    expect(answer.status, answer.body.slice(0, 300)).to.equal(200);
    expect(answer.headers.get('content-type')).to.equal('application/json; charset=utf-8');
    expect(answer.headers.get('content-disposition')).to.match(/^attachment; filename="account-data-\d{4}-\d{2}-\d{2}\.json"$/);
    expect(answer.headers.get('cache-control')).to.equal('no-store');
    const data = JSON.parse(answer.body);

    const validate = validator();
    expect(validate(data), JSON.stringify(validate.errors, null, 2)).to.equal(true);
    expect(data).to.include({ format: 'latchkey.account-export', version: 1 });
    expect(data.profile).to.include({ id: person.userId, email: person.email, name: 'Curious Person', phoneNumber: '+442079460958', locale: 'en-GB', hasPassword: true });
    expect(data.profile.address).to.deep.equal({ locality: 'London', country: 'GB' });
    expect(data.profile.roles).to.deep.equal(['auditor']);
    expect(data.termsAccepted).to.deep.equal({ version: '2026-01', at: '2026-01-05T10:00:00.000Z', clientId: null });
    expect(data.emailHistory).to.have.length(1);
    expect(data.emailHistory[0]).to.include({ from: `old-${person.email}`, to: person.email, status: 'confirmed', by: 'self' });
    expect(data.sessions.length, 'the app\'s sign-in and the portal\'s').to.be.at.least(2);
    expect(data.sessions.flatMap((s: { apps: string[] }) => s.apps)).to.include(app.client_id);
    const connected = data.connectedApps.find((a: { clientId: string }) => a.clientId === app.client_id);
    expect(connected).to.include({ name: 'Export App' });
    expect(connected.scopes).to.include.members(['openid', 'email', 'profile']);
    expect(data.factors.map((f: { kind: string }) => f.kind).sort()).to.deep.equal(['passkey', 'recovery_codes', 'totp']);
    expect(data.factors.find((f: { kind: string }) => f.kind === 'passkey')).to.include({ name: 'Work laptop', lastUsedAt: null });
    expect(data.factors.find((f: { kind: string }) => f.kind === 'recovery_codes')).to.include({ remainingCodes: codes.length });
    expect(data.trustedBrowsers).to.have.length(1);
    // The browser it signed in from, by its dates only (the device id's hash stays with us).
    expect(data.knownBrowsers).to.have.length.at.least(1);
    expect(Object.keys(data.knownBrowsers[0]).sort()).to.deep.equal(['firstSeenAt', 'lastSeenAt']);
    const events = data.recentActivity.map((e: { event: string }) => e.event);
    expect(events).to.include.members(['signin.succeeded', 'factor.added', 'account.updated']);
    expect(data.recentActivity.find((e: { event: string }) => e.event === 'account.updated')).to.include({ actor: 'administrator' });

    // Nothing secret, nothing of the operator's.
    const stored = await db().collection('users').findOne({ _id: person.userId as never });
    const totpSecret = (await db().collection('factors').findOne({ userId: person.userId, kind: 'totp' }))!;
    const forbidden = [
      stored!.passwordHash as string, person.password, enrolment.secretBase32, JSON.stringify(totpSecret.secret ?? totpSecret.secretSealed ?? ''), ...codes,
      credentialId, publicKey, 'device-secret-id', 'link-hash', tokens.access_token, tokens.refresh_token!, admin._id, admin.email,
    ].filter((value) => value && value.length > 4);
    for (const value of forbidden) expect(answer.body, `the export holds ${value.slice(0, 12)}…`).to.not.contain(value);
    expect(answer.body).to.not.match(/passwordHash|passwordHistory|publicKey|credentialId|secret/i);

    // The schema itself keeps secrets out: a hash in the profile, or an unknown field anywhere, is refused.
    expect(validate({ ...data, profile: { ...data.profile, passwordHash: 'x' } })).to.equal(false);
    expect(validate({ ...data, factors: [{ ...data.factors[0], secret: 'x' }] })).to.equal(false);
  });

  it('is limited per account and hour (429 with Retry-After and a page saying how long); another account is not', async () => {
    const person = await newPerson('limited');
    const other = await newPerson('other');
    const agent = await portalAgent(person.email, person.password);
    for (let i = 0; i < PER_HOUR; i++) expect((await download(agent)).status, `download ${i + 1}`).to.equal(200);
    const refused = await download(agent);
    expect(refused.status).to.equal(429);
    expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 3600);
    expect(refused.headers.get('content-type')).to.match(/^text\/html/);
    expect(refused.body).to.contain('Too many downloads').and.match(/Try again in \d+ minutes?/).and.contain('href="/account/data"');
    expect((await download(await portalAgent(other.email, other.password))).status).to.equal(200);
    // The counter names the account: it goes when the account does.
    const counter = { key: `export-account:${person.userId}` };
    expect(await db().collection('throttles').countDocuments(counter)).to.equal(1);
    await deleteAccount(server.deps, person.userId, { actor: 'self' });
    expect(await db().collection('throttles').countDocuments(counter)).to.equal(0);
  });

  it('takes no input: without the CSRF token 403, without a session 401, oversized 413, extra fields (operator objects) ignored', async () => {
    const person = await newPerson('input');
    const agent = await portalAgent(person.email, person.password);
    expect((await agent.request(url('/account/data'), { form: {} })).status).to.equal(403);
    expect((await agent.request(url('/account/data'), { form: { _csrf: 'forged' } })).status).to.equal(403);
    const anonymous = await new Agent().request(url('/account/data'), { form: {} });
    expect(anonymous.status).to.be.oneOf([401, 403]);
    expect(anonymous.headers.get('content-disposition')).to.equal(null);
    const oversized = await download(agent, `&junk=${'x'.repeat(40_000)}`);
    expect(oversized.status).to.equal(413);
    const extra = await download(agent, '&userId[$ne]=x&userId=someone-else');
    expect(extra.status).to.equal(200);
    expect(JSON.parse(extra.body).profile.id, 'always the signed-in person').to.equal(person.userId);
    const json = await agent.request(url('/account/data'), { body: '{}', headers: { 'content-type': 'application/json' } });
    expect(json.status).to.be.within(400, 499);
  });

  describe('accessibility of the limit page (axe, WCAG 2.2 AA)', () => {
    const browser = useBrowser();
    for (const lang of ['en', 'ar'] as const) {
      it(`passes in ${lang === 'en' ? 'English' : 'Arabic'}`, async () => {
        const person = await newPerson(`a11y-${lang}`);
        const limit = new ExportLimit(server.deps.db, PER_HOUR);
        for (let i = 0; i < PER_HOUR; i++) await limit.consume(person.userId);
        let context: BrowserContext | undefined;
        try {
          context = await browser.newContext();
          await context.addCookies([{ name: 'lk_lang', value: lang, url: server.url }]);
          const page = await context.newPage();
          await page.goto(url('/account/data'));
          await page.locator('#email').fill(person.email);
          await page.locator('#password').fill(person.password);
          await page.locator('button[type="submit"].primary').first().click();
          await page.waitForURL(url('/account/data'));
          await page.locator('form[action="/account/data"] button[type="submit"]').click();
          await page.locator('h1').filter({ hasText: translator(lang)('portal.data.tooManyTitle') }).waitFor();
          expect(await page.getAttribute('html', 'dir')).to.equal(lang === 'ar' ? 'rtl' : 'ltr');
          const violations = await axeViolations(page);
          expect(violations, describeViolations(violations)).to.deep.equal([]);
        } finally {
          await context?.close();
        }
      });
    }
  });
});
