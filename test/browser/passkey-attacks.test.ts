// Passkey answers made by a real authenticator (Chromium's virtual one, through the
// DevTools protocol), then sent where they do not belong (issue 12): to another portal
// session, another person's session, a sign-in's setup; checked against another RP ID
// or origin; replayed after they signed in; tampered with; sent twice at once; and from
// an authenticator whose counter went back (a clone). Each is refused and stores
// nothing, and the same answer, untouched and where it belongs, still works: the
// refusal is for the reason the test names.
//
// The browser's form POST carrying an answer is held (page.route answers it itself), so
// the test has the answer and the browser's cookies, and sends it from here.
import { expect } from 'chai';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { createUser } from '../../src/accounts/users.ts';
import { registerPasskey, verifyPasskeySignIn, type PasskeyDeps } from '../../src/accounts/passkeys.ts';
import { PORTAL_SESSIONS } from '../../src/accounts/revocation.ts';
import type { StoredChallenge } from '../../src/db/models/passkey.ts';
import { auditModel } from '../../src/db/models/audit.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { useBrowser } from '../helpers/browser.ts';
import { Agent, formOn } from '../helpers/agent.ts';
import { discover, openSignIn, publicClient, RP_CALLBACK, startAuthorization, submitSignIn } from '../helpers/rp.ts';
import type * as oidc from 'openid-client';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const client = publicClient();
const EVIL_RP = { id: 'evil.example', origin: 'https://evil.example', name: 'x' };
const HELD_PAGE = '<!doctype html><html lang="en"><title>Held</title><p>Held by the test.</p></html>';

/** The base64url value with one bit of byte `index` flipped. */
function flip(value: string, index: number, bit = 0x01): string {
  const bytes = Buffer.from(value, 'base64url');
  bytes[index] = bytes[index]! ^ bit;
  return bytes.toString('base64url');
}

interface Answer {
  /** The form as the browser sent it: _csrf, credential (and name, registering). */
  form: URLSearchParams;
  /** Where it was going. */
  action: string;
  credential: Record<string, unknown> & { id: string; response: Record<string, string> };
}

describe('passkey answers sent where they do not belong', function () {
  this.timeout(120_000);
  const { server } = useTestServer({ clients: [client], policy: LENIENT_THROTTLES });
  const browser = useBrowser();
  let config: oidc.Configuration;
  let people = 0;

  before(async () => {
    config = await discover(server.url, client);
  });

  const url = (path: string) => `${server.url}${path}`;
  const deps = (): PasskeyDeps => server.deps.factors;
  const passkeys = () => server.deps.factors.passkeys;
  const challenges = () => server.deps.factors.challenges;

  interface Session {
    context: BrowserContext;
    page: Page;
    cdp: CDPSession;
    authenticatorId: string;
  }

  /** A browser context with a platform authenticator that verifies its user; no autofill (the buttons start ceremonies). */
  async function browserWithAuthenticator(): Promise<Session> {
    const context = await browser.newContext();
    await context.addInitScript(() => {
      (globalThis as unknown as { PublicKeyCredential: { isConditionalMediationAvailable(): Promise<boolean> } })
        .PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    return { context, page, cdp, authenticatorId };
  }

  async function newPerson() {
    const email = `attacked-${++people}@example.com`;
    const password = `quiet orange meadow ${people}`;
    const user = await createUser(server.deps, { email, password, name: `Person ${people}` });
    return { email, password, userId: user._id };
  }

  async function portalInBrowser(session: Session, person: { email: string; password: string }) {
    const { page } = session;
    await page.goto(url('/account/security'));
    await page.getByLabel('Email').fill(person.email);
    await page.getByLabel('Password').fill(person.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(url('/account/security'));
  }

  /** A portal session without a browser: the agent and the CSRF token of its security page. */
  async function portalAgent(person: { email: string; password: string }) {
    const agent = new Agent();
    const login = await agent.follow(url('/account'));
    const form = formOn(login.body, /\/login$/);
    const home = await agent.follow(new URL(form.action, login.url).href, { form: { ...form.fields, email: person.email, password: person.password } });
    expect(home.url, home.body.slice(0, 300)).to.equal(url('/account'));
    const page = await agent.request(url('/account/security'));
    return { agent, csrf: formOn(page.body, /\/account\/security\/totp$/).fields._csrf! };
  }

  /** The newest portal session of `userId`: its binding for challenges. */
  async function portalBinding(userId: string): Promise<`portal:${string}`> {
    const [session] = await server.database.connection.collection(PORTAL_SESSIONS).find({ accountId: userId }).sort({ createdAt: -1 }).limit(1).toArray();
    return `portal:${session!._id as unknown as string}`;
  }

  /** Holds the next form POST to `pattern`: the browser gets a plain page, the test the answer. */
  async function hold(page: Page, pattern: RegExp): Promise<{ answer: Promise<Answer> }> {
    let resolve!: (answer: Answer) => void;
    const answer = new Promise<Answer>((r) => (resolve = r));
    await page.route(pattern, async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      const form = new URLSearchParams(route.request().postData() ?? '');
      resolve({ form, action: route.request().url(), credential: JSON.parse(form.get('credential')!) });
      await route.fulfill({ status: 200, contentType: 'text/html', body: HELD_PAGE });
    });
    return { answer };
  }

  /** Creates a passkey in the portal page of `session` and holds its answer (nothing registered yet). */
  async function heldRegistration(session: Session, name: string): Promise<Answer> {
    const held = await hold(session.page, /\/account\/security\/passkeys$/);
    await session.page.getByLabel('Name for the new passkey').fill(name);
    await session.page.getByRole('button', { name: 'Add a passkey' }).click();
    const answer = await held.answer;
    await session.page.unroute(/\/account\/security\/passkeys$/);
    return answer;
  }

  /** Opens a sign-in to the app in `session`, presses the passkey button and holds the answer. */
  async function heldSignIn(session: Session): Promise<Answer & { uid: string }> {
    const authorization = await startAuthorization(config);
    await session.page.goto(authorization.url.href);
    const held = await hold(session.page, /\/interaction\/[^/]+\/passkey$/);
    await session.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const answer = await held.answer;
    await session.page.unroute(/\/interaction\/[^/]+\/passkey$/);
    return { ...answer, uid: /\/interaction\/([^/]+)\/passkey$/.exec(answer.action)![1]! };
  }

  /** A person with a passkey registered through the portal in `session`'s authenticator; the browser signed out after. */
  async function personWithPasskey(session: Session) {
    const person = await newPerson();
    await portalInBrowser(session, person);
    await session.page.getByLabel('Name for the new passkey').fill('Laptop');
    await session.page.getByRole('button', { name: 'Add a passkey' }).click();
    await session.page.waitForURL(url('/account/security?notice=passkey_added'));
    await session.context.clearCookies();
    return person;
  }

  /** Sends `form` to `action` as the browser of `context` would (its cookies), without following redirects. */
  async function sendAs(context: BrowserContext, action: string, form: URLSearchParams) {
    const cookies = await context.cookies(action);
    const response = await fetch(action, {
      method: 'POST', redirect: 'manual', body: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; ') },
    });
    return { status: response.status, location: response.headers.get('location'), body: await response.text() };
  }

  const withCredential = (form: URLSearchParams, credential: unknown, extra: Record<string, string> = {}) => {
    const copy = new URLSearchParams(form);
    copy.set('credential', JSON.stringify(credential));
    for (const [key, value] of Object.entries(extra)) copy.set(key, value);
    return copy;
  };

  async function openChallenge(id: string): Promise<StoredChallenge> {
    const challenge = await challenges().findById(id).lean<StoredChallenge>();
    expect(challenge, `challenge ${id} is open`).to.not.equal(null);
    return challenge!;
  }

  /** Puts a challenge back as it was (a refused check used it up): the next check is judged on its own. */
  async function reopen(challenge: StoredChallenge): Promise<void> {
    await challenges().replaceOne({ _id: challenge._id }, challenge, { upsert: true });
  }

  const signedIn = (answer: { status: number; location: string | null }) => answer.status === 303 && answer.location?.startsWith(url('/auth/')) === true;

  it('a registration answer counts only in the portal session that asked for it: not in another session of the same person, another person\'s session or a sign-in\'s setup; where it belongs it registers once, even sent three times at once', async () => {
    const owner = await newPerson();
    const session = await browserWithAuthenticator();
    await portalInBrowser(session, owner);
    const ownerBinding = await portalBinding(owner.userId);
    // The same person in another browser, and another person: each with a challenge of its own open.
    const second = await portalAgent(owner);
    const stranger = await newPerson();
    const theirs = await portalAgent(stranger);
    for (const other of [second, theirs]) {
      expect((await other.agent.request(url('/account/security/passkeys/options'), { form: { _csrf: other.csrf } })).status).to.equal(200);
    }
    const answer = await heldRegistration(session, 'Held key');
    expect(answer.credential.type).to.equal('public-key');
    const ownChallenge = await openChallenge(`register:${ownerBinding}`);
    const openBefore = await challenges().countDocuments();

    // Another session of the same person, another person's session: refused, nothing stored, their challenges untouched.
    for (const [who, other] of [['another session of the same person', second], ['another person\'s session', theirs]] as const) {
      const refused = await other.agent.request(url('/account/security/passkeys'), { form: withCredential(answer.form, answer.credential, { _csrf: other.csrf }) });
      expect(refused.status, who).to.equal(400);
      expect(refused.body, who).to.contain('Passkey not added');
    }
    expect(await passkeys().countDocuments()).to.equal(0);
    expect(await challenges().countDocuments(), 'no challenge used up by an answer to another one').to.equal(openBefore);

    // A sign-in's setup (an account that must set up a factor): the portal's answer is not its answer.
    await server.deps.users.updateOne({ _id: owner.userId }, { $set: { mustEnrolSecondFactor: true } });
    const signIn = new Agent();
    const enrol = await submitSignIn(signIn, await openSignIn(signIn, await startAuthorization(config)), owner.email, owner.password);
    expect(enrol.body).to.contain('Set up two-step verification');
    const enrolForm = formOn(enrol.body, /\/enrol\/passkey$/);
    expect((await signIn.request(url(enrolForm.action.replace(/\/enrol\/passkey$/, '/enrol/passkey/options')), { form: { _csrf: enrolForm.fields._csrf! } })).status).to.equal(200);
    const inSetup = await signIn.request(url(enrolForm.action), { form: { _csrf: enrolForm.fields._csrf!, credential: JSON.stringify(answer.credential) } });
    expect(inSetup.status).to.equal(400);
    expect(inSetup.body).to.contain('The passkey could not be added');
    expect(await passkeys().countDocuments()).to.equal(0);

    // The domain, asked to register it for the other person with the owner's session: the challenge was given for the owner.
    const forOther = await registerPasskey(deps(), { userId: stranger.userId, binding: ownerBinding, response: JSON.stringify(answer.credential), name: 'Stolen' });
    expect(forOther).to.deep.equal({ ok: false, reason: 'invalid' });
    expect(await passkeys().countDocuments()).to.equal(0);
    await reopen(ownChallenge);

    // Where it belongs, the same answer registers the passkey: the refusals were for where it was sent.
    // Sent three times at once, it registers once.
    const sent = await Promise.all([1, 2, 3].map(() => sendAs(session.context, answer.action, answer.form)));
    const accepted = sent.find((a) => a.status === 303);
    expect(sent.map((a) => a.status).sort(), sent.map((a) => a.body.slice(0, 200)).join('\n')).to.deep.equal([303, 400, 400]);
    expect(accepted!.location).to.equal('/account/security?notice=passkey_added');
    expect(await passkeys().countDocuments({ userId: owner.userId })).to.equal(1);
    expect(await passkeys().countDocuments({ userId: stranger.userId })).to.equal(0);
    // Once: the same answer again, here or elsewhere, adds nothing.
    expect((await sendAs(session.context, answer.action, answer.form)).status).to.equal(400);
    expect((await second.agent.request(url('/account/security/passkeys'), { form: withCredential(answer.form, answer.credential, { _csrf: second.csrf }) })).status).to.equal(400);
    expect(await passkeys().countDocuments()).to.equal(1);
    await session.context.close();
  });

  it('an answer checked for another RP ID or origin is refused, registering and signing in; for ours the same answer passes', async () => {
    const owner = await newPerson();
    const session = await browserWithAuthenticator();
    await portalInBrowser(session, owner);
    const binding = await portalBinding(owner.userId);
    const registration = await heldRegistration(session, 'Laptop');
    const challenge = await openChallenge(`register:${binding}`);
    const ours = deps().relyingParty;
    const elsewhere = [
      ['another RP ID and origin', EVIL_RP],
      ['another RP ID, our origin', { ...EVIL_RP, origin: ours.origin }],
      ['our RP ID, another origin', { ...ours, origin: EVIL_RP.origin }],
      ['our RP ID, our host on https', { ...ours, origin: ours.origin.replace(/^http:/, 'https:') }],
    ] as const;
    for (const [what, relyingParty] of elsewhere) {
      const result = await registerPasskey({ ...deps(), relyingParty }, { userId: owner.userId, binding, response: registration.form.get('credential'), name: 'x' });
      expect(result, what).to.deep.equal({ ok: false, reason: 'invalid' });
      expect(await passkeys().countDocuments({ userId: owner.userId }), what).to.equal(0);
      await reopen(challenge);
    }
    const registered = await registerPasskey(deps(), { userId: owner.userId, binding, response: registration.form.get('credential'), name: 'Laptop' });
    expect(registered.ok, JSON.stringify(registered)).to.equal(true);

    await session.context.clearCookies();
    const signIn = await heldSignIn(session);
    const signInBinding = `interaction:${signIn.uid}` as const;
    const signInChallenge = await openChallenge(`sign_in:${signInBinding}`);
    const stored = await passkeys().findOne({ userId: owner.userId }).lean();
    for (const [what, relyingParty] of elsewhere) {
      const result = await verifyPasskeySignIn({ ...deps(), relyingParty }, { binding: signInBinding, response: signIn.form.get('credential') });
      expect(result, what).to.deep.equal({ ok: false, reason: 'invalid' });
      await reopen(signInChallenge);
    }
    expect((await passkeys().findOne({ userId: owner.userId }).lean())!.lastUsedAt, 'not used by a refused answer').to.equal(stored!.lastUsedAt);
    const verified = await verifyPasskeySignIn(deps(), { binding: signInBinding, response: signIn.form.get('credential') });
    expect(verified).to.include({ ok: true, userId: owner.userId });
    await session.context.close();
  });

  it('a registration answer changed where no signature covers it (attestation "none") is refused: user verification or presence not done, another RP ID, another format, a sign-in\'s client data', async () => {
    const owner = await newPerson();
    const session = await browserWithAuthenticator();
    await portalInBrowser(session, owner);
    const answer = await heldRegistration(session, 'Laptop');
    const challenge = await openChallenge(`register:${await portalBinding(owner.userId)}`);
    const { credential } = answer;
    const response = credential.response;
    const attestation = isoCBOR.decodeFirst<Map<string, unknown>>(Buffer.from(response.attestationObject!, 'base64url'));
    expect(attestation.get('fmt')).to.equal('none');
    /** The attestation object with `change` applied to a copy of its authenticator data (and `fmt` when given). */
    const reencoded = (change: (authData: Buffer) => void, fmt?: string) => {
      const copy = new Map(attestation);
      const authData = Buffer.from(attestation.get('authData') as Uint8Array);
      change(authData);
      copy.set('authData', new Uint8Array(authData));
      if (fmt) copy.set('fmt', fmt);
      return Buffer.from(isoCBOR.encode(copy as never)).toString('base64url');
    };
    const clientData = JSON.parse(Buffer.from(response.clientDataJSON!, 'base64url').toString()) as Record<string, unknown>;
    const changed: [string, unknown][] = [
      ['user verification not done', { ...credential, response: { ...response, attestationObject: reencoded((d) => { d[32] = d[32]! & ~0x04; }) } }],
      ['user presence not shown', { ...credential, response: { ...response, attestationObject: reencoded((d) => { d[32] = d[32]! & ~0x01; }) } }],
      ['another RP ID hash', { ...credential, response: { ...response, attestationObject: reencoded((d) => { d[0] = d[0]! ^ 0xff; }) } }],
      ['a format it has no statement for', { ...credential, response: { ...response, attestationObject: reencoded(() => {}, 'packed') } }],
      ['a sign-in\'s client data type', { ...credential, response: { ...response, clientDataJSON: Buffer.from(JSON.stringify({ ...clientData, type: 'webauthn.get' })).toString('base64url') } }],
    ];
    // Re-encoding alone changes nothing: the untouched re-encoding is what the server accepts below.
    expect(reencoded(() => {})).to.equal(response.attestationObject);
    for (const [what, tampered] of changed) {
      await reopen(challenge);
      const refused = await sendAs(session.context, answer.action, withCredential(answer.form, tampered));
      expect(refused.status, `${what}: ${refused.body.slice(0, 200)}`).to.equal(400);
      expect(refused.body, what).to.contain('Passkey not added');
      expect(await passkeys().countDocuments({ userId: owner.userId }), what).to.equal(0);
    }
    await reopen(challenge);
    const accepted = await sendAs(session.context, answer.action, answer.form);
    expect(accepted.status, accepted.body.slice(0, 300)).to.equal(303);
    expect(await passkeys().countDocuments({ userId: owner.userId })).to.equal(1);
    await session.context.close();
  });

  it('a passkey made in one sign-in\'s setup answers only that setup: not another sign-in\'s, not the portal; in its own it completes the sign-in, once even when sent three times at once', async () => {
    const person = await newPerson();
    await server.deps.users.updateOne({ _id: person.userId }, { $set: { mustEnrolSecondFactor: true } });
    const session = await browserWithAuthenticator();
    const authorization = await startAuthorization(config);
    await session.page.goto(authorization.url.href);
    await session.page.getByLabel('Email').fill(person.email);
    await session.page.getByLabel('Password').fill(person.password);
    await session.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await session.page.getByRole('heading', { name: 'Set up two-step verification' }).waitFor();
    const held = await hold(session.page, /\/interaction\/[^/]+\/enrol\/passkey$/);
    await session.page.getByRole('button', { name: 'Create a passkey' }).click();
    const answer = await held.answer;

    // Another sign-in of the same person, at its setup with a challenge of its own.
    const other = new Agent();
    const enrol = await submitSignIn(other, await openSignIn(other, await startAuthorization(config)), person.email, person.password);
    const enrolForm = formOn(enrol.body, /\/enrol\/passkey$/);
    expect((await other.request(url(`${enrolForm.action}/options`), { form: { _csrf: enrolForm.fields._csrf! } })).status).to.equal(200);
    const elsewhere = await other.request(url(enrolForm.action), { form: { _csrf: enrolForm.fields._csrf!, credential: answer.form.get('credential')! } });
    expect(elsewhere.status).to.equal(400);
    expect(elsewhere.body).to.contain('The passkey could not be added');
    // The portal (a session of the same person would need the setup first; the domain is asked directly).
    const inPortal = await registerPasskey(deps(), { userId: person.userId, binding: 'portal:not-this-one', response: answer.form.get('credential'), name: 'x' });
    expect(inPortal).to.deep.equal({ ok: false, reason: 'invalid' });
    expect(await passkeys().countDocuments({ userId: person.userId })).to.equal(0);
    expect((await server.deps.users.findById(person.userId).lean())!.mustEnrolSecondFactor).to.equal(true);

    // Sent three times at once: one passkey, one finished sign-in.
    const sent = await Promise.all([1, 2, 3].map(() => sendAs(session.context, answer.action, answer.form)));
    expect(sent.filter(signedIn), sent.map((a) => `${a.status} ${a.body.slice(0, 200)}`).join('\n')).to.have.length(1);
    for (const refused of sent.filter((a) => !signedIn(a))) expect(refused.status).to.be.within(400, 499);
    expect(await passkeys().countDocuments({ userId: person.userId })).to.equal(1);
    expect((await server.deps.users.findById(person.userId).lean())!.mustEnrolSecondFactor).to.equal(false);
    // Once.
    const again = await sendAs(session.context, answer.action, answer.form);
    expect(again.status).to.be.within(400, 499);
    expect(await passkeys().countDocuments({ userId: person.userId })).to.equal(1);
    await session.context.close();
  });

  it('a sign-in answer signs in once, within its time: late, or sent again to the same sign-in after it succeeded, or after a new challenge there, it is refused', async () => {
    const session = await browserWithAuthenticator();
    const owner = await personWithPasskey(session);
    const answer = await heldSignIn(session);
    const audit = auditModel(server.database.connection);
    const succeeded = () => audit.countDocuments({ userId: owner.userId, event: 'signin.succeeded' });
    const before = await succeeded();

    // Past its time, the challenge answers nothing (and is not used up by trying).
    const challenge = await openChallenge(`sign_in:interaction:${answer.uid}`);
    await challenges().updateOne({ _id: challenge._id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    const late = await sendAs(session.context, answer.action, answer.form);
    expect(late.status).to.equal(401);
    expect(late.body).to.contain('That passkey could not sign you in');
    await reopen(challenge);

    const first = await sendAs(session.context, answer.action, answer.form);
    expect(signedIn(first), `${first.status} ${first.body.slice(0, 300)}`).to.equal(true);
    expect(await challenges().countDocuments({ _id: `sign_in:interaction:${answer.uid}` }), 'the challenge is gone').to.equal(0);

    const replayed = await sendAs(session.context, answer.action, answer.form);
    expect(replayed.status).to.equal(401);
    expect(replayed.location).to.equal(null);
    expect(replayed.body).to.contain('That passkey could not sign you in');

    // A new challenge in the same sign-in is not the one the answer signed.
    const options = await sendAs(session.context, answer.action.replace(/\/passkey$/, '/passkey/options'), new URLSearchParams({ _csrf: answer.form.get('_csrf')! }));
    expect(options.status).to.equal(200);
    const again = await sendAs(session.context, answer.action, answer.form);
    expect(again.status).to.equal(401);
    expect(await challenges().countDocuments({ _id: `sign_in:interaction:${answer.uid}` }), 'the new challenge is still open').to.equal(1);
    expect(await succeeded(), 'one sign-in').to.equal(before + 1);
    await session.context.close();
  });

  it('a tampered answer is refused (signature, authenticator data, client data, user handle, credential id); the untouched one then signs in', async () => {
    const session = await browserWithAuthenticator();
    const owner = await personWithPasskey(session);
    const otherSession = await browserWithAuthenticator();
    const other = await personWithPasskey(otherSession);
    await otherSession.context.close();
    const othersPasskey = await passkeys().findOne({ userId: other.userId }).lean();
    const answer = await heldSignIn(session);
    const challenge = await openChallenge(`sign_in:interaction:${answer.uid}`);
    const { credential } = answer;
    const response = credential.response;
    const clientData = JSON.parse(Buffer.from(response.clientDataJSON!, 'base64url').toString()) as Record<string, unknown>;
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const signatureLength = Buffer.from(response.signature!, 'base64url').length;
    const tampered: [string, unknown][] = [
      ['a bit of the signature flipped', { ...credential, response: { ...response, signature: flip(response.signature!, Math.floor(signatureLength / 2)) } }],
      ['the signature cut short', { ...credential, response: { ...response, signature: Buffer.from(response.signature!, 'base64url').subarray(0, 20).toString('base64url') } }],
      ['a bit of the RP ID hash flipped', { ...credential, response: { ...response, authenticatorData: flip(response.authenticatorData!, 0) } }],
      ['the user-verified flag cleared', { ...credential, response: { ...response, authenticatorData: flip(response.authenticatorData!, 32, 0x04) } }],
      ['the counter changed', { ...credential, response: { ...response, authenticatorData: flip(response.authenticatorData!, 36, 0x80) } }],
      ['another origin in the client data', { ...credential, response: { ...response, clientDataJSON: encode({ ...clientData, origin: EVIL_RP.origin }) } }],
      ['a space added to the client data', { ...credential, response: { ...response, clientDataJSON: Buffer.from(`${Buffer.from(response.clientDataJSON!, 'base64url').toString()} `).toString('base64url') } }],
      ['another person\'s user handle', { ...credential, response: { ...response, userHandle: Buffer.from(other.userId).toString('base64url') } }],
      ['another person\'s credential id', { ...credential, id: othersPasskey!.credentialId, rawId: othersPasskey!.credentialId }],
    ];
    for (const [what, changed] of tampered) {
      await reopen(challenge);
      const refused = await sendAs(session.context, answer.action, withCredential(answer.form, changed));
      expect(refused.status, `${what}: ${refused.body.slice(0, 200)}`).to.equal(401);
      expect(refused.location, what).to.equal(null);
      expect(refused.body, what).to.contain('That passkey could not sign you in');
    }
    expect((await passkeys().findOne({ userId: owner.userId }).lean())!.lastUsedAt, 'the passkey was not used').to.equal(null);
    await reopen(challenge);
    const accepted = await sendAs(session.context, answer.action, answer.form);
    expect(signedIn(accepted), `${accepted.status} ${accepted.body.slice(0, 300)}`).to.equal(true);
    await session.context.close();
  });

  it('a passkey signs nobody in once its account is disabled or the passkey removed, even with its answer already made', async () => {
    const session = await browserWithAuthenticator();
    const owner = await personWithPasskey(session);
    const audit = auditModel(server.database.connection);
    const succeeded = () => audit.countDocuments({ userId: owner.userId, event: 'signin.succeeded' });
    const signInsBefore = await succeeded(); // the portal's, with the password

    const whileActive = await heldSignIn(session);
    await server.deps.users.updateOne({ _id: owner.userId }, { $set: { status: 'disabled' } });
    const disabled = await sendAs(session.context, whileActive.action, whileActive.form);
    expect(disabled.status).to.equal(401);
    expect(disabled.location).to.equal(null);
    expect(await audit.countDocuments({ userId: owner.userId, event: 'signin.failed', 'details.reason': 'inactive' })).to.equal(1);
    await server.deps.users.updateOne({ _id: owner.userId }, { $set: { status: 'active' } });
    await session.context.clearCookies();

    const beforeRemoval = await heldSignIn(session);
    await passkeys().deleteMany({ userId: owner.userId });
    const removed = await sendAs(session.context, beforeRemoval.action, beforeRemoval.form);
    expect(removed.status).to.equal(401);
    expect(removed.body).to.contain('That passkey could not sign you in');
    expect(await challenges().countDocuments({ _id: `sign_in:interaction:${beforeRemoval.uid}` }), 'an unknown passkey uses up no challenge').to.equal(1);
    expect(await succeeded()).to.equal(signInsBefore);
    await session.context.close();
  });

  it('one answer sent several times at once signs in exactly once (the challenge is taken once)', async () => {
    const session = await browserWithAuthenticator();
    const owner = await personWithPasskey(session);
    const audit = auditModel(server.database.connection);
    for (let round = 0; round < 3; round++) {
      const answer = await heldSignIn(session);
      const before = await audit.countDocuments({ userId: owner.userId, event: 'signin.succeeded' });
      const answers = await Promise.all(Array.from({ length: 4 }, () => sendAs(session.context, answer.action, answer.form)));
      const statuses = answers.map((a) => a.status).sort();
      expect(answers.filter(signedIn), `round ${round}: ${statuses.join(', ')}`).to.have.length(1);
      expect(answers.filter((a) => !signedIn(a)).map((a) => a.status), `round ${round}`).to.deep.equal([401, 401, 401]);
      expect(await audit.countDocuments({ userId: owner.userId, event: 'signin.succeeded' })).to.equal(before + 1);
      await session.context.clearCookies();
    }
    await session.context.close();
  });

  it('an authenticator whose counter went back (a copy of the key) is refused; moving forward works again', async function () {
    const session = await browserWithAuthenticator();
    const owner = await personWithPasskey(session);
    // Two sign-ins, so the stored counter is past what the authenticator started with.
    for (let i = 0; i < 2; i++) {
      const answer = await heldSignIn(session);
      expect(signedIn(await sendAs(session.context, answer.action, answer.form))).to.equal(true);
      await session.context.clearCookies();
    }
    const stored = await passkeys().findOne({ userId: owner.userId }).lean();
    if (!stored!.counter) this.skip(); // an authenticator that does not count: nothing to go back
    const { credentials } = await session.cdp.send('WebAuthn.getCredentials', { authenticatorId: session.authenticatorId });
    expect(credentials).to.have.length(1);
    const [key] = credentials;
    expect(key!.signCount).to.equal(stored!.counter);

    // The same key with its counter one step back: its next answer repeats a value already seen.
    const replaceKey = async (signCount: number) => {
      await session.cdp.send('WebAuthn.removeCredential', { authenticatorId: session.authenticatorId, credentialId: key!.credentialId });
      await session.cdp.send('WebAuthn.addCredential', { authenticatorId: session.authenticatorId, credential: { ...key!, signCount } });
    };
    await replaceKey(stored!.counter - 1);
    const cloned = await heldSignIn(session);
    const refused = await sendAs(session.context, cloned.action, cloned.form);
    expect(refused.status).to.equal(401);
    expect(refused.body).to.contain('That passkey could not sign you in');
    expect((await passkeys().findOne({ userId: owner.userId }).lean())!.counter, 'the counter stays').to.equal(stored!.counter);
    await session.context.clearCookies();

    // Further back still (a fresh copy starting at zero): refused too.
    await replaceKey(0);
    const fromZero = await heldSignIn(session);
    expect((await sendAs(session.context, fromZero.action, fromZero.form)).status).to.equal(401);
    await session.context.clearCookies();

    await replaceKey(stored!.counter + 10);
    const forward = await heldSignIn(session);
    expect(signedIn(await sendAs(session.context, forward.action, forward.form))).to.equal(true);
    expect((await passkeys().findOne({ userId: owner.userId }).lean())!.counter).to.equal(stored!.counter + 11);
    await session.context.close();
  });
});
