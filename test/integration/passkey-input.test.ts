// Passkey and enrolment routes under bad input (issue 12), without a browser: every
// route a passkey ceremony uses (the sign-in page's /passkey/options and /passkey, the
// second step, setting up a factor in the sign-in, the portal's add, rename and remove)
// answers what cannot be a passkey response, what is not this person's, and what comes
// at the wrong moment with a clear 4xx page (or problem+json where the page's script asked
// for JSON), never a 500 or a trace, and stores nothing: no passkey, no factor, no audit
// record, and the open challenge is not used up by input that cannot answer it.
// Real answers from an authenticator are in test/browser/passkey-attacks.test.ts.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type * as oidc from 'openid-client';
import { createUser } from '../../src/accounts/users.ts';
import { confirmTotpEnrolment, startTotpEnrolment, TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { PORTAL_SESSIONS } from '../../src/accounts/revocation.ts';
import { PENDING_SECOND_STEPS } from '../../src/accounts/second-step.ts';
import { collectionName } from '../../src/oidc/adapter.ts';
import { auditModel } from '../../src/db/models/audit.ts';
import type { StoredPasskey } from '../../src/db/models/passkey.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { confidentialClient, discover, openSignIn, RP_CALLBACK, startAuthorization, submitSignIn } from '../helpers/rp.ts';

const web = confidentialClient();
const thirdParty = confidentialClient({ client_id: 'third-party-app', client_name: 'Third Party App', first_party: false } as never);
const TRACE = /\bat \S+ \(|node_modules|\.ts:\d+|Error:/;
const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** A response of the right shape whose contents no authenticator made. */
function fakeAssertion(overrides: Record<string, unknown> = {}, response: Record<string, unknown> = {}) {
  const id = b64(randomUUID());
  return {
    id, rawId: id, type: 'public-key', clientExtensionResults: {},
    response: { clientDataJSON: b64('{"type":"webauthn.get"}'), authenticatorData: b64('x'.repeat(37)), signature: b64('sig'), ...response },
    ...overrides,
  };
}
function fakeAttestation(overrides: Record<string, unknown> = {}, response: Record<string, unknown> = {}) {
  const id = b64(randomUUID());
  return {
    id, rawId: id, type: 'public-key', clientExtensionResults: {},
    response: { clientDataJSON: b64('{"type":"webauthn.create"}'), attestationObject: b64('not cbor'), transports: ['internal'], ...response },
    ...overrides,
  };
}

/**
 * Values for the `credential` field that are not a passkey response, each with what it
 * is; `shape` builds a well-formed response to break. Read by the routes before any
 * challenge is looked at.
 */
function unreadableCredentials(shape: (overrides?: Record<string, unknown>, response?: Record<string, unknown>) => Record<string, unknown>): [string, string][] {
  const good = shape();
  let nested = '1';
  for (let i = 0; i < 2000; i++) nested = `[${nested}]`;
  return [
    ['malformed JSON', '{"id": "abc", '],
    ['JSON null', 'null'],
    ['a JSON array', '[]'],
    ['a JSON string', '"public-key"'],
    ['an empty object', '{}'],
    ['deeply nested arrays', nested],
    ['type other than public-key', JSON.stringify(shape({ type: 'password' }))],
    ['type missing', JSON.stringify({ ...good, type: undefined })],
    ['a non-base64url id', JSON.stringify(shape({ id: 'ab+c/d==', rawId: 'ab+c/d==' }))],
    ['an id with a space', JSON.stringify(shape({ id: 'abc def', rawId: 'abc def' }))],
    ['an empty id', JSON.stringify(shape({ id: '', rawId: '' }))],
    ['an id as an operator object', JSON.stringify(shape({ id: { $ne: '' }, rawId: { $ne: '' } }))],
    ['an id as an array', JSON.stringify(shape({ id: ['a'], rawId: ['a'] }))],
    ['response missing', JSON.stringify({ ...good, response: undefined })],
    ['response a string', JSON.stringify(shape({ response: 'x' }))],
    ['clientDataJSON a number', JSON.stringify(shape({}, { clientDataJSON: 12 }))],
    ['clientDataJSON not base64url', JSON.stringify(shape({}, { clientDataJSON: '{"type":"webauthn.get"}' }))],
    ['__proto__ in place of the fields', `{"__proto__":${JSON.stringify(good)}}`],
  ];
}

describe('passkey and enrolment routes refuse bad input', function () {
  this.timeout(60_000);
  const { server } = useTestServer({ clients: [web, thirdParty], policy: LENIENT_THROTTLES });
  let config: oidc.Configuration;
  let thirdPartyConfig: oidc.Configuration;
  let people = 0;

  before(async () => {
    config = await discover(server.url, web);
    thirdPartyConfig = await discover(server.url, thirdParty);
  });

  const url = (path: string) => `${server.url}${path}`;
  const conn = () => server.database.connection;
  const deps = () => server.deps.factors;

  /** What a refused request must leave as it was. */
  async function stored() {
    return {
      passkeys: await deps().passkeys.countDocuments(),
      challenges: (await deps().challenges.find().sort({ _id: 1 }).lean()).map((c) => `${c._id}=${c.challenge}`),
      factors: await deps().factors.countDocuments(),
      audit: await auditModel(conn()).countDocuments(),
      pendingSteps: (await conn().collection(PENDING_SECOND_STEPS).find().sort({ _id: 1 }).toArray()).map((s) => `${s._id}:${s.kind}`),
    };
  }

  async function newPerson(tag: string, extra: { mustEnrolSecondFactor?: boolean } = {}) {
    const email = `passkey-input-${tag}-${++people}@example.com`;
    const password = `plain blue window ${people}`;
    const user = await createUser(server.deps, { email, password, name: `Person ${people}` });
    if (extra.mustEnrolSecondFactor) await server.deps.users.updateOne({ _id: user._id }, { $set: { mustEnrolSecondFactor: true } });
    return { email, password, userId: user._id };
  }

  /** A passkey stored directly (its key verifies nothing): enough for lookups, renames and removal. */
  async function storedPasskey(userId: string, name = 'Laptop'): Promise<StoredPasskey> {
    const passkey: StoredPasskey = {
      _id: randomUUID(), userId, credentialId: b64(randomUUID()), publicKey: b64('not a key'), counter: 0, transports: ['internal'],
      name, deviceType: 'singleDevice', backedUp: false, aaguid: '00000000-0000-0000-0000-000000000000', createdAt: new Date(), lastUsedAt: null,
    };
    await deps().passkeys.create(passkey);
    return passkey;
  }

  async function withTotp(userId: string, email: string) {
    const enrolment = await startTotpEnrolment(deps(), userId, { issuer: 'Latchkey', account: email });
    const totp = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) });
    expect((await confirmTotpEnrolment(deps(), userId, enrolment.enrolmentId, totp.generate({ timestamp: Date.now() - 30_000 }))).ok).to.equal(true);
    return () => totp.generate();
  }

  /** A sign-in to `app` opened in `agent`: its page, uid and CSRF token. */
  async function openLogin(agent: Agent, app = config) {
    const authorization = await startAuthorization(app);
    const page = await openSignIn(agent, authorization);
    expect(page.status, page.body.slice(0, 300)).to.equal(200);
    const form = formOn(page.body, /\/login$/);
    const uid = /^\/interaction\/([\w-]+)\/login$/.exec(form.action)![1]!;
    return { page, uid, csrf: form.fields._csrf!, at: (path: string) => url(`/interaction/${uid}${path}`) };
  }

  /** The password step of a sign-in: the page after it, with the interaction's uid and CSRF token. */
  async function afterPassword(agent: Agent, person: { email: string; password: string }, app = config) {
    const login = await openLogin(agent, app);
    const page = await submitSignIn(agent, login.page, person.email, person.password);
    return { ...login, page };
  }

  async function portalAgent(person: { email: string; password: string }): Promise<{ agent: Agent; csrf: string; page: Page }> {
    const agent = new Agent();
    const login = await agent.follow(url('/account'));
    const form = formOn(login.body, /\/login$/);
    const home = await agent.follow(new URL(form.action, login.url).href, { form: { ...form.fields, email: person.email, password: person.password } });
    expect(home.url, home.body.slice(0, 500)).to.equal(url('/account'));
    const page = await agent.request(url('/account/security'));
    expect(page.status).to.equal(200);
    return { agent, csrf: formOn(page.body, /\/account\/security\/totp$/).fields._csrf!, page };
  }

  const form = (csrf: string | null, fields: string) => [csrf === null ? '' : `_csrf=${encodeURIComponent(csrf)}`, fields].filter(Boolean).join('&');
  const credential = (json: string) => `credential=${encodeURIComponent(json)}`;

  /** Posts each case and checks the status, the page (never a trace) and, when given, what it says. */
  async function expectRefusals(agent: Agent, target: string, cases: [string, string, number][], says?: RegExp) {
    for (const [what, body, status] of cases) {
      const answer = await agent.request(target, { form: body });
      expect(answer.status, `${what}: ${answer.body.slice(0, 200)}`).to.equal(status);
      expect(answer.headers.get('location'), what).to.equal(null);
      expect(answer.body, what).to.not.match(TRACE);
      expect(answer.headers.get('content-type'), what).to.match(/^text\/html/);
      if (says && status !== 403 && status !== 413) expect(answer.body, what).to.match(says);
      expect(answer.headers.getSetCookie().some((c) => /^_session=/.test(c)), `${what}: no provider session`).to.equal(false);
    }
  }

  /** The form-field cases every credential route gets: missing, empty, operator objects, repeated, oversized, no CSRF. */
  function fieldCases(csrf: string, unreadable: number): [string, string, number][] {
    return [
      ['credential missing', form(csrf, ''), 400],
      ['credential empty', form(csrf, 'credential='), 400],
      ['credential one character', form(csrf, 'credential=x'), 400],
      ['credential[$ne]=', form(csrf, 'credential[$ne]='), 400],
      ['credential as an object', form(csrf, 'credential[id]=abc&credential[type]=public-key'), 400],
      ['credential repeated', form(csrf, 'credential=a&credential=b'), 400],
      ['credential[]', form(csrf, `credential[]=${encodeURIComponent(JSON.stringify(fakeAssertion()))}`), 400],
      ['credential[0] and credential[1]', form(csrf, 'credential[0]=ab&credential[1]=cd'), 400],
      ['__proto__[credential]', form(csrf, `__proto__[credential]=${encodeURIComponent(JSON.stringify(fakeAssertion()))}`), 400],
      ['constructor[prototype][credential]', form(csrf, `constructor[prototype][credential]=${encodeURIComponent(JSON.stringify(fakeAssertion()))}`), 400],
      ['credential over 12 kB', form(csrf, credential(JSON.stringify(fakeAssertion({ id: 'a'.repeat(13_000) })))), 400],
      ['a form over 16 kB', form(csrf, credential('x'.repeat(17_000))), 413],
      ['no CSRF token', form(null, credential(JSON.stringify(fakeAssertion()))), 403],
      ['another CSRF token', form('x'.repeat(43), credential(JSON.stringify(fakeAssertion()))), 403],
    ].map(([what, body, status]) => [what as string, body as string, status === 400 ? unreadable : status as number]);
  }

  describe('the sign-in page: a passkey alone', () => {
    it('/passkey/options gives a challenge bound to this sign-in, for JSON; refuses no CSRF token, another browser, an unknown sign-in and a body that is not a form', async () => {
      const agent = new Agent();
      const login = await openLogin(agent);
      const before = await stored();
      const options = await agent.request(login.at('/passkey/options'), { form: form(login.csrf, ''), headers: { accept: 'application/json' } });
      expect(options.status).to.equal(200);
      expect(options.headers.get('cache-control')).to.equal('no-store');
      const json = JSON.parse(options.body) as { challenge: string; rpId: string; userVerification: string; allowCredentials: unknown[] };
      expect(json.rpId).to.equal('localhost');
      expect(json.userVerification).to.equal('required');
      expect(json.allowCredentials).to.deep.equal([]);
      const challenge = await deps().challenges.findById(`sign_in:interaction:${login.uid}`).lean();
      expect(challenge!.challenge).to.equal(json.challenge);
      expect(challenge!.userId, 'any passkey may answer').to.equal(null);
      // Asking again replaces it: one open challenge per sign-in.
      const again = JSON.parse((await agent.request(login.at('/passkey/options'), { form: form(login.csrf, '') })).body) as { challenge: string };
      expect(again.challenge).to.not.equal(json.challenge);
      expect((await stored()).challenges).to.have.length(before.challenges.length + 1);

      const snapshot = await stored();
      // The page's script asks for JSON: refusals come back as problem+json it can read.
      const noCsrf = await agent.request(login.at('/passkey/options'), { form: '', headers: { accept: 'application/json' } });
      expect(noCsrf.status).to.equal(403);
      expect(noCsrf.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(JSON.parse(noCsrf.body)).to.include({ status: 403, title: 'Form expired' });
      // Without asking for JSON: the page.
      const noCsrfPage = await agent.request(login.at('/passkey/options'), { form: '' });
      expect(noCsrfPage.status).to.equal(403);
      expect(noCsrfPage.body).to.contain('This form has expired').and.not.match(TRACE);

      for (const uid of ['no-such-sign-in', 'a'.repeat(2000), '%00', '..%2F..%2Faccount', `${login.uid}%20`, `${login.uid.toUpperCase()}`]) {
        for (const path of ['/passkey/options', '/passkey', '/enrol/passkey/options', '/enrol/passkey', '/enrol/totp']) {
          const unknown = await agent.request(url(`/interaction/${uid}${path}`), { form: form(login.csrf, credential(JSON.stringify(fakeAssertion()))), headers: { accept: 'application/json' } });
          expect(unknown.status, `${uid.slice(0, 20)}${path}`).to.be.oneOf([400, 404]);
          expect(JSON.parse(unknown.body).status, `${uid.slice(0, 20)}${path}`).to.be.oneOf([400, 404]);
          expect(unknown.body).to.not.match(TRACE);
        }
      }
      const unknown = await agent.request(url('/interaction/no-such-sign-in/passkey/options'), { form: form(login.csrf, ''), headers: { accept: 'application/json' } });
      expect(unknown.status).to.equal(400);
      expect(JSON.parse(unknown.body)).to.include({ status: 400, title: 'This sign-in has expired' });

      // Another browser (its own CSRF token, no cookie of this sign-in) cannot ask for this sign-in's challenge.
      const stranger = new Agent();
      const theirs = await openLogin(stranger);
      const foreign = await stranger.request(login.at('/passkey/options'), { form: form(theirs.csrf, ''), headers: { accept: 'application/json' } });
      expect(foreign.status).to.equal(400);
      expect(JSON.parse(foreign.body).title).to.equal('This sign-in has expired');
      const foreignPost = await stranger.request(login.at('/passkey'), { form: form(theirs.csrf, credential(JSON.stringify(fakeAssertion()))) });
      expect(foreignPost.status).to.equal(400);
      expect(foreignPost.body).to.contain('This sign-in has expired').and.not.match(TRACE);

      const asJson = await agent.request(login.at('/passkey/options'), { body: JSON.stringify({ _csrf: login.csrf }), headers: { 'content-type': 'application/json', accept: 'application/json' } });
      expect(asJson.status).to.equal(415);
      expect(JSON.parse(asJson.body).status).to.equal(415);
      const after = await stored();
      // The stranger's own sign-in page gave it nothing either; only this sign-in's challenge is open.
      expect(after).to.deep.equal(snapshot);
    });

    it('/passkey refuses what is not a passkey response with the sign-in page again (4xx), uses up no challenge and stores nothing', async () => {
      const agent = new Agent();
      const login = await openLogin(agent);
      expect((await agent.request(login.at('/passkey/options'), { form: form(login.csrf, '') })).status).to.equal(200);
      const before = await stored();
      await expectRefusals(agent, login.at('/passkey'), [
        ...fieldCases(login.csrf, 400),
        ...unreadableCredentials(fakeAssertion).map(([what, json]): [string, string, number] => [what, form(login.csrf, credential(json)), 400]),
        ['signature missing', form(login.csrf, credential(JSON.stringify(fakeAssertion({}, { signature: undefined })))), 400],
        ['userHandle an object', form(login.csrf, credential(JSON.stringify(fakeAssertion({}, { userHandle: { $gt: '' } })))), 400],
        // Well formed, but no passkey of ours has that id: refused as a failed passkey.
        ['an unknown credential', form(login.csrf, credential(JSON.stringify(fakeAssertion()))), 401],
      ], /That passkey could not sign you in/);
      expect(await stored(), 'nothing stored, the challenge still open').to.deep.equal(before);
      // Still the sign-in page, and the sign-in still works with the password.
      const page = await agent.request(url(`/interaction/${login.uid}`));
      expect(page.body).to.contain('/login"');
    });
  });

  describe('the second step after the password', () => {
    it('/passkey/options asks for this account\'s passkeys only; bad answers are refused with the step again, which stays open', async () => {
      const person = await newPerson('second-step');
      const code = await withTotp(person.userId, person.email);
      const own = await storedPasskey(person.userId);
      const other = await newPerson('other-account');
      const othersPasskey = await storedPasskey(other.userId);
      const agent = new Agent();
      const step = await afterPassword(agent, person);
      expect(step.page.body).to.contain('Two-step verification');

      const options = JSON.parse((await agent.request(step.at('/passkey/options'), { form: form(step.csrf, '') })).body) as { allowCredentials: { id: string }[] };
      expect(options.allowCredentials.map((c) => c.id)).to.deep.equal([own.credentialId]);
      expect((await deps().challenges.findById(`sign_in:interaction:${step.uid}`).lean())!.userId).to.equal(person.userId);

      const before = await stored();
      await expectRefusals(agent, step.at('/passkey'), [
        ...fieldCases(step.csrf, 400),
        ...unreadableCredentials(fakeAssertion).map(([what, json]): [string, string, number] => [what, form(step.csrf, credential(json)), 400]),
      ], /That passkey could not sign you in[\s\S]*Two-step verification|Two-step verification[\s\S]*That passkey could not sign you in/);
      expect(await stored(), 'unreadable input: nothing stored, no audit record, the challenge still open').to.deep.equal(before);

      // Readable answers that fail are sign-in failures of this account: refused and audited, nothing else.
      const audit = auditModel(conn());
      const audited = await audit.countDocuments({ userId: person.userId, event: 'signin.failed' });
      await expectRefusals(agent, step.at('/passkey'), [
        ['an unknown credential', form(step.csrf, credential(JSON.stringify(fakeAssertion()))), 401],
        ['another account\'s passkey', form(step.csrf, credential(JSON.stringify(fakeAssertion({ id: othersPasskey.credentialId, rawId: othersPasskey.credentialId })))), 401],
        ['its own passkey, with a user handle of another account', form(step.csrf, credential(JSON.stringify(fakeAssertion({ id: own.credentialId, rawId: own.credentialId }, { userHandle: b64(other.userId) })))), 401],
        ['its own passkey, contents no authenticator made', form(step.csrf, credential(JSON.stringify(fakeAssertion({ id: own.credentialId, rawId: own.credentialId })))), 401],
      ], /That passkey could not sign you in/);
      expect(await audit.countDocuments({ userId: person.userId, event: 'signin.failed' })).to.equal(audited + 4);
      expect(await stored(), 'the challenge still open').to.deep.equal({ ...before, audit: before.audit + 4 });

      // The challenge a response names is compared as a string, never handed to the database as
      // a query: an operator object, a number or no challenge at all takes no challenge.
      for (const challenge of [{ $ne: '' }, { $regex: '^' }, { $exists: true }, 42, null, undefined]) {
        const clientDataJSON = b64(JSON.stringify({ type: 'webauthn.get', challenge, origin: server.url }));
        const answer = await agent.request(step.at('/passkey'), { form: form(step.csrf, credential(JSON.stringify(fakeAssertion({ id: own.credentialId, rawId: own.credentialId }, { clientDataJSON })))) });
        expect(answer.status, JSON.stringify(challenge)).to.equal(401);
        expect(await deps().challenges.countDocuments({ _id: `sign_in:interaction:${step.uid}` }), `challenge ${JSON.stringify(challenge)} took the open one`).to.equal(1);
      }
      const after = await stored();
      expect(after.challenges).to.deep.equal(before.challenges);
      const [stepRecord] = await conn().collection(PENDING_SECOND_STEPS).find({ _id: step.uid as never }).toArray();
      expect(stepRecord, 'the step is still owed').to.not.equal(undefined);

      // Setting up a factor is not this sign-in's step: refused, nothing started.
      const enrolments = await deps().enrolments.countDocuments({ userId: person.userId });
      await expectRefusals(agent, step.at('/enrol/passkey/options'), [['enrol options', form(step.csrf, ''), 400]], /Sign in again/);
      await expectRefusals(agent, step.at('/enrol/passkey'), [['enrol passkey', form(step.csrf, credential(JSON.stringify(fakeAttestation()))), 400]], /Sign in again/);
      await expectRefusals(agent, step.at('/enrol/totp'), [['enrol totp', form(step.csrf, `enrolmentId=${randomUUID()}&code=123456`), 400]], /Sign in again/);
      expect(await deps().enrolments.countDocuments({ userId: person.userId })).to.equal(enrolments);
      expect(await deps().challenges.countDocuments({ _id: `register:interaction:${step.uid}` })).to.equal(0);
      expect((await stored()).passkeys).to.equal(before.passkeys);

      // The step still takes the right code.
      const form2 = formOn(step.page.body, /\/second-factor$/);
      const done = await agent.follow(new URL(form2.action, step.page.url).href, { form: { ...form2.fields, code: code() } }, RP_CALLBACK);
      expect(done.url.startsWith(RP_CALLBACK), done.body.slice(0, 300)).to.equal(true);
    });
  });

  describe('setting up a factor in the sign-in', () => {
    it('refuses every enrolment route on a sign-in with nothing to set up (nothing pending), storing nothing', async () => {
      const agent = new Agent();
      const login = await openLogin(agent);
      const before = await stored();
      const enrolments = await deps().enrolments.countDocuments();
      for (const path of ['/enrol/passkey/options', '/enrol/passkey', '/enrol/totp']) {
        await expectRefusals(agent, login.at(path), [
          [path, form(login.csrf, `${credential(JSON.stringify(fakeAttestation()))}&enrolmentId=${randomUUID()}&code=123456`), 400],
          [`${path} without CSRF`, form(null, ''), 403],
        ], /Sign in again/);
      }
      const json = await agent.request(login.at('/enrol/passkey/options'), { form: form(login.csrf, ''), headers: { accept: 'application/json' } });
      expect(json.status).to.equal(400);
      expect(JSON.parse(json.body)).to.include({ status: 400, title: 'Sign in again' });
      expect(await stored()).to.deep.equal(before);
      expect(await deps().enrolments.countDocuments()).to.equal(enrolments);
    });

    it('with a setup owed: /enrol/passkey/options gives a registration challenge for that account; bad answers show the setup again (400), nothing stored, and the setup still works', async () => {
      const person = await newPerson('enrol', { mustEnrolSecondFactor: true });
      const agent = new Agent();
      const step = await afterPassword(agent, person);
      expect(step.page.body).to.contain('Set up two-step verification');

      const optionsPage = await agent.request(step.at('/enrol/passkey/options'), { form: form(step.csrf, ''), headers: { accept: 'application/json' } });
      expect(optionsPage.status).to.equal(200);
      const options = JSON.parse(optionsPage.body) as { challenge: string; user: { id: string; name: string }; authenticatorSelection: Record<string, string>; excludeCredentials: unknown[] };
      expect(Buffer.from(options.user.id, 'base64url').toString()).to.equal(person.userId);
      expect(options.authenticatorSelection).to.include({ residentKey: 'required', userVerification: 'required' });
      const challenge = await deps().challenges.findById(`register:interaction:${step.uid}`).lean();
      expect(challenge).to.include({ challenge: options.challenge, userId: person.userId });

      const before = await stored();
      await expectRefusals(agent, step.at('/enrol/passkey'), [
        ...fieldCases(step.csrf, 400),
        ...unreadableCredentials(fakeAttestation).map(([what, json]): [string, string, number] => [what, form(step.csrf, credential(json)), 400]),
        ['attestationObject missing', form(step.csrf, credential(JSON.stringify(fakeAttestation({}, { attestationObject: undefined })))), 400],
        ['transports not strings', form(step.csrf, credential(JSON.stringify(fakeAttestation({}, { transports: [{ $ne: 1 }] })))), 400],
        // Well formed, made by no authenticator: refused the same way.
        ['contents no authenticator made', form(step.csrf, credential(JSON.stringify(fakeAttestation()))), 400],
        ['an answer to another challenge', form(step.csrf, credential(JSON.stringify(fakeAttestation({}, {
          clientDataJSON: b64(JSON.stringify({ type: 'webauthn.create', challenge: b64('another challenge'), origin: server.url })),
        })))), 400],
        ...[{ $ne: '' }, { $gt: '' }, undefined].map((challenge): [string, string, number] => [`a challenge of ${JSON.stringify(challenge)}`, form(step.csrf, credential(JSON.stringify(fakeAttestation({}, {
          clientDataJSON: b64(JSON.stringify({ type: 'webauthn.create', challenge, origin: server.url })),
        })))), 400]),
      ], /The passkey could not be added[\s\S]*Set up two-step verification|Set up two-step verification[\s\S]*The passkey could not be added/);
      expect(await stored(), 'nothing stored, the challenge still open, the setup still owed').to.deep.equal(before);

      // The code form of the same page refuses its own bad input.
      const codeCases: [string, string, number][] = [
        ['enrolmentId missing', form(step.csrf, 'code=123456'), 400],
        ['enrolmentId[$ne]', form(step.csrf, 'enrolmentId[$ne]=x&code=123456'), 400],
        ['code[$ne]', form(step.csrf, `enrolmentId=${randomUUID()}&code[$ne]=`), 400],
        ['code repeated', form(step.csrf, `enrolmentId=${randomUUID()}&code=1&code=2`), 400],
        ['code too long', form(step.csrf, `enrolmentId=${randomUUID()}&code=${'1'.repeat(100)}`), 400],
        ['no CSRF token', form(null, `enrolmentId=${randomUUID()}&code=123456`), 403],
      ];
      await expectRefusals(agent, step.at('/enrol/totp'), codeCases, /Set up two-step verification/);
      const after = await stored();
      expect(after).to.deep.equal(before);
      expect((await server.deps.users.findById(person.userId).lean())!.mustEnrolSecondFactor, 'still owed').to.equal(true);

      // The latest page's setup still completes the sign-in.
      const page = await agent.request(url(`/interaction/${step.uid}`));
      const key = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(page.body)![1]!.replace(/ /g, '');
      const totpForm = formOn(page.body, /\/enrol\/totp$/);
      const code = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(key) }).generate();
      const done = await agent.follow(new URL(totpForm.action, page.url).href, { form: { ...totpForm.fields, code } }, RP_CALLBACK);
      expect(done.url.startsWith(RP_CALLBACK), done.body.slice(0, 300)).to.equal(true);
    });
  });

  describe('expired', () => {
    it('a sign-in that expired (the provider\'s interaction is gone) refuses options and answers: 400, nothing stored', async () => {
      const agent = new Agent();
      const login = await openLogin(agent);
      expect((await agent.request(login.at('/passkey/options'), { form: form(login.csrf, '') })).status).to.equal(200);
      const gone = await conn().collection(collectionName('Interaction')).updateOne({ _id: login.uid as never }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
      expect(gone.matchedCount, 'the interaction is stored under its uid').to.equal(1);
      const before = await stored();
      for (const path of ['/passkey/options', '/passkey', '/enrol/passkey/options', '/enrol/passkey', '/enrol/totp']) {
        await expectRefusals(agent, login.at(path), [[path, form(login.csrf, `${credential(JSON.stringify(fakeAssertion()))}&enrolmentId=${randomUUID()}&code=123456`), 400]], /This sign-in has expired/);
      }
      expect(await stored()).to.deep.equal(before);
    });

    it('a setup owed past its time refuses its routes: 400 "sign in again", nothing stored', async () => {
      const person = await newPerson('enrol-expired', { mustEnrolSecondFactor: true });
      const agent = new Agent();
      const step = await afterPassword(agent, person);
      expect(step.page.body).to.contain('Set up two-step verification');
      expect((await agent.request(step.at('/enrol/passkey/options'), { form: form(step.csrf, '') })).status).to.equal(200);
      await conn().collection(PENDING_SECOND_STEPS).updateOne({ _id: step.uid as never }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
      const before = await stored();
      const enrolments = await deps().enrolments.countDocuments({ userId: person.userId });
      for (const path of ['/enrol/passkey/options', '/enrol/passkey', '/enrol/totp']) {
        await expectRefusals(agent, step.at(path), [[path, form(step.csrf, `${credential(JSON.stringify(fakeAttestation()))}&enrolmentId=${randomUUID()}&code=123456`), 400]], /Sign in again/);
      }
      expect(await stored()).to.deep.equal(before);
      expect(await deps().enrolments.countDocuments({ userId: person.userId })).to.equal(enrolments);
    });
  });

  describe('a sign-in past the login prompt (consent)', () => {
    it('refuses passkey options, answers and enrolment: 400, nothing stored', async () => {
      const person = await newPerson('consent');
      const agent = new Agent();
      const step = await afterPassword(agent, person, thirdPartyConfig);
      expect(step.page.body, 'the consent page of a third-party app').to.contain('/confirm"');
      const consent = formOn(step.page.body, /\/confirm$/);
      const csrf = consent.fields._csrf!;
      // The consent step is an interaction of its own.
      const uid = /^\/interaction\/([\w-]+)\/confirm$/.exec(consent.action)![1]!;
      expect(uid).to.not.equal(step.uid);
      const at = (path: string) => url(`/interaction/${uid}${path}`);
      const before = await stored();
      await expectRefusals(agent, at('/passkey/options'), [['options', form(csrf, ''), 400]], /already done/);
      await expectRefusals(agent, at('/passkey'), [['answer', form(csrf, credential(JSON.stringify(fakeAssertion()))), 400]], /already done/);
      for (const path of ['/enrol/passkey/options', '/enrol/passkey', '/enrol/totp']) {
        await expectRefusals(agent, at(path), [[path, form(csrf, `${credential(JSON.stringify(fakeAttestation()))}&enrolmentId=${randomUUID()}&code=123456`), 400]], /Sign in again/);
      }
      expect(await stored()).to.deep.equal(before);
    });
  });

  describe('the account portal', () => {
    it('/security/passkeys/options and /security/passkeys: a challenge bound to the portal session; bad answers 4xx, nothing stored, the challenge still open', async () => {
      const person = await newPerson('portal-add');
      const { agent, csrf } = await portalAgent(person);
      const optionsPage = await agent.request(url('/account/security/passkeys/options'), { form: form(csrf, ''), headers: { accept: 'application/json' } });
      expect(optionsPage.status).to.equal(200);
      const options = JSON.parse(optionsPage.body) as { challenge: string };
      const [session] = await conn().collection(PORTAL_SESSIONS).find({ accountId: person.userId }).toArray();
      expect((await deps().challenges.findById(`register:portal:${session!._id}`).lean())!.challenge).to.equal(options.challenge);

      const noCsrf = await agent.request(url('/account/security/passkeys/options'), { form: '', headers: { accept: 'application/json' } });
      expect(noCsrf.status).to.equal(403);
      expect(JSON.parse(noCsrf.body).status).to.equal(403);
      const signedOut = await new Agent().request(url('/account/security/passkeys/options'), { form: form(csrf, ''), headers: { accept: 'application/json' } });
      expect(signedOut.status, 'no CSRF cookie, no session').to.equal(403);

      const before = await stored();
      const withName = (name: string) => form(csrf, `${name}&${credential(JSON.stringify(fakeAttestation()))}`);
      await expectRefusals(agent, url('/account/security/passkeys'), [
        ...fieldCases(csrf, 400),
        ...unreadableCredentials(fakeAttestation).map(([what, json]): [string, string, number] => [what, form(csrf, `name=Laptop&${credential(json)}`), 400]),
        ['a name over the limit', withName(`name=${'n'.repeat(241)}`), 400],
        ['name[$ne]', withName('name[$ne]='), 400],
        ['name repeated', withName('name=a&name=b'), 400],
        ['contents no authenticator made', withName('name=Laptop'), 400],
        ['an answer to another challenge', form(csrf, `name=x&${credential(JSON.stringify(fakeAttestation({}, {
          clientDataJSON: b64(JSON.stringify({ type: 'webauthn.create', challenge: b64('another challenge'), origin: server.url })),
        })))}`), 400],
        ...[{ $ne: '' }, { $gt: '' }, undefined].map((challenge): [string, string, number] => [`a challenge of ${JSON.stringify(challenge)}`, form(csrf, `name=x&${credential(JSON.stringify(fakeAttestation({}, {
          clientDataJSON: b64(JSON.stringify({ type: 'webauthn.create', challenge, origin: server.url })),
        })))}`), 400]),
      ], /Passkey not added/);
      const asJson = await agent.request(url('/account/security/passkeys'), { body: JSON.stringify({ _csrf: csrf, credential: fakeAttestation() }), headers: { 'content-type': 'application/json' } });
      expect(asJson.status).to.equal(415);
      expect(await stored(), 'nothing stored, the challenge still open').to.deep.equal(before);
    });

    it('rename: an empty, too long or unprintable name, operator objects and another person\'s passkey are refused; nothing renamed', async () => {
      const person = await newPerson('rename');
      const other = await newPerson('rename-other');
      const { agent, csrf } = await portalAgent(person);
      const own = await storedPasskey(person.userId, 'Laptop');
      const theirs = await storedPasskey(other.userId, 'Their phone');
      const code = await withTotp(person.userId, person.email);
      expect(code()).to.match(/^\d{6}$/);
      const [totp] = await deps().factors.find({ userId: person.userId }).lean();
      const rename = url('/account/security/passkeys/rename');
      const before = await stored();
      await expectRefusals(agent, rename, [
        ['name missing', form(csrf, `factorId=${own._id}`), 400],
        ['name empty', form(csrf, `factorId=${own._id}&name=`), 400],
        ['name blank', form(csrf, `factorId=${own._id}&name=%20%20%09`), 400],
        ['name over 60 characters', form(csrf, `factorId=${own._id}&name=${'n'.repeat(61)}`), 400],
        ['name far too long', form(csrf, `factorId=${own._id}&name=${'n'.repeat(10_000)}`), 400],
        ['name[$ne]', form(csrf, `factorId=${own._id}&name[$ne]=`), 400],
        ['name repeated', form(csrf, `factorId=${own._id}&name=a&name=b`), 400],
        ['factorId missing', form(csrf, 'name=New'), 400],
        ['factorId[$ne]', form(csrf, 'factorId[$ne]=&name=New'), 400],
        ['factorId[$regex]', form(csrf, 'factorId[$regex]=.*&name=New'), 400],
        ['factorId repeated', form(csrf, `factorId=${own._id}&factorId=${theirs._id}&name=New`), 400],
        ['factorId too long', form(csrf, `factorId=${'f'.repeat(200)}&name=New`), 400],
        ['another person\'s passkey', form(csrf, `factorId=${theirs._id}&name=Mine%20now`), 404],
        ['an authenticator app, not a passkey', form(csrf, `factorId=${totp!._id}&name=New`), 404],
        ['no such passkey', form(csrf, `factorId=${randomUUID()}&name=New`), 404],
        ['a form over 16 kB', form(csrf, `factorId=${own._id}&name=${'n'.repeat(17_000)}`), 413],
        ['no CSRF token', form(null, `factorId=${own._id}&name=New`), 403],
      ]);
      expect(await stored()).to.deep.equal(before);
      expect((await deps().passkeys.findById(own._id).lean())!.name).to.equal('Laptop');
      expect((await deps().passkeys.findById(theirs._id).lean())!.name).to.equal('Their phone');

      // Control characters (C0, C1, line separators, bidi overrides) never reach the stored name,
      // shown on pages and in emails. A name of nothing else is not stored either: the page
      // (account/security.ts, which reads the form) answers 303 and the domain names it
      // "Passkey"; a 400 there would be clearer, so either is accepted here.
      for (const [what, name] of [['only control characters', '\u0000\u0007\u001b'], ['only C1 controls, separators and bidi overrides', '\u0085\u2028\u009b\u202e']] as [string, string][]) {
        const answer = await agent.request(rename, { form: { _csrf: csrf, factorId: own._id, name } });
        expect(answer.status, what).to.be.oneOf([303, 400]);
        expect(answer.body, what).to.not.match(TRACE);
        expect((await deps().passkeys.findById(own._id).lean())!.name, what).to.be.oneOf(['Laptop', 'Passkey']);
      }
      const mixed = await agent.request(rename, { form: { _csrf: csrf, factorId: own._id, name: 'Work\u0000 lap\u0007top\u202e\u2066 \u0085' } });
      expect(mixed.status).to.equal(303);
      expect((await deps().passkeys.findById(own._id).lean())!.name).to.equal('Work laptop');

      const renamed = await agent.request(rename, { form: { _csrf: csrf, factorId: own._id, name: '  Desk key  ' } });
      expect(renamed.status).to.equal(303);
      expect(renamed.headers.get('location')).to.equal('/account/security?notice=passkey_renamed');
      expect((await deps().passkeys.findById(own._id).lean())!.name).to.equal('Desk key');
    });

    it('remove: another person\'s passkey or app is not found (404), operator objects are refused; nothing removed', async () => {
      const person = await newPerson('remove');
      const other = await newPerson('remove-other');
      const { agent, csrf } = await portalAgent(person);
      const own = await storedPasskey(person.userId, 'Laptop');
      const theirs = await storedPasskey(other.userId, 'Their phone');
      await withTotp(other.userId, other.email);
      const [theirTotp] = await deps().factors.find({ userId: other.userId }).lean();
      const remove = url('/account/security/remove');
      const before = await stored();
      await expectRefusals(agent, remove, [
        ['another person\'s passkey', form(csrf, `factorId=${theirs._id}&confirm=yes`), 404],
        ['another person\'s passkey, unconfirmed', form(csrf, `factorId=${theirs._id}`), 404],
        ['another person\'s app', form(csrf, `factorId=${theirTotp!._id}&confirm=yes`), 404],
        ['no such factor', form(csrf, `factorId=${randomUUID()}&confirm=yes`), 404],
        ['factorId missing', form(csrf, 'confirm=yes'), 400],
        ['factorId empty', form(csrf, 'factorId=&confirm=yes'), 400],
        ['factorId[$ne]', form(csrf, 'factorId[$ne]=&confirm=yes'), 400],
        ['factorId[$in][]', form(csrf, `factorId[$in][]=${theirs._id}&confirm=yes`), 400],
        ['factorId repeated', form(csrf, `factorId=${own._id}&factorId=${theirs._id}&confirm=yes`), 400],
        ['factorId too long', form(csrf, `factorId=${'f'.repeat(200)}&confirm=yes`), 400],
        ['no CSRF token', form(null, `factorId=${own._id}&confirm=yes`), 403],
      ]);
      // An unreadable confirmation is no confirmation: the question again, nothing removed.
      for (const confirm of ['confirm[$ne]=no', 'confirm=YES', 'confirm=yes&confirm=yes']) {
        const asked = await agent.request(remove, { form: form(csrf, `factorId=${own._id}&${confirm}`) });
        expect(asked.status, confirm).to.equal(200);
        expect(asked.body, confirm).to.contain('Remove the passkey').and.contain('/account/security/remove');
      }
      expect(await stored()).to.deep.equal(before);

      const removed = await agent.request(remove, { form: form(csrf, `factorId=${own._id}&confirm=yes`) });
      expect(removed.status).to.equal(303);
      expect(await deps().passkeys.countDocuments({ userId: person.userId })).to.equal(0);
      expect(await deps().passkeys.countDocuments({ userId: other.userId })).to.equal(1);
    });
  });
});
