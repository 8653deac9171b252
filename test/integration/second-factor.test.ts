// Signing in with a second factor through the real pages: the password, then a code
// from the authenticator app (computed here from the enrolled secret) or a recovery
// code; no session, device cookie or code for the app before the second step; wrong
// codes counting on the same lockout as wrong passwords; and no way around the step.
import { expect } from 'chai';
import { Secret, TOTP } from 'otpauth';
import * as oidc from 'openid-client';
import { createUser } from '../../src/accounts/users.ts';
import { accountSubject } from '../../src/accounts/lockout.ts';
import { confirmTotpEnrolment, generateRecoveryCodes, startTotpEnrolment, TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { confidentialClient, discover, openSignIn, RP_CALLBACK, startAuthorization, submitSignIn } from '../helpers/rp.ts';

const STEP_MS = 30_000;
const web = confidentialClient();
const strict = confidentialClient({ client_id: 'strict-app', client_name: 'Strict App', require_mfa: true } as never);

describe('sign-in with a second factor', function () {
  this.timeout(60_000);
  const { server } = useTestServer({ clients: [web, strict], smtp: true, policy: LENIENT_THROTTLES });
  let config: oidc.Configuration;
  let people = 0;

  before(async () => {
    config = await discover(server.url, web);
  });

  /** An account with an authenticator app (enrolled with the code of the step before now) and recovery codes. */
  async function personWithFactor() {
    const email = `two-step-${++people}@example.com`;
    const password = `the right password number ${people}`;
    const user = await createUser(server.deps, { email, password });
    const enrolment = await startTotpEnrolment(server.deps.factors, user._id, { issuer: 'Latchkey', account: email });
    const totp = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) });
    const code = (steps = 0) => totp.generate({ timestamp: Date.now() + steps * STEP_MS });
    expect((await confirmTotpEnrolment(server.deps.factors, user._id, enrolment.enrolmentId, code(-1))).ok).to.equal(true);
    const { codes } = await generateRecoveryCodes(server.deps.factors, user._id);
    return { email, password, userId: user._id, code, recoveryCodes: codes };
  }

  /** A six-digit code the app does not show in the window the server accepts (the step before, now, the step after). */
  function wrongCode(code: (steps?: number) => string, seed: number): string {
    const valid = new Set([code(-1), code(0), code(1)]);
    for (let n = seed; ; n = (n + 7919) % 1_000_000) {
      const candidate = String(n).padStart(6, '0');
      if (!valid.has(candidate)) return candidate;
    }
  }

  async function passwordStep(agent: Agent, email: string, password: string, params: Record<string, string> = {}) {
    const authorization = await startAuthorization(config, params);
    const page = await submitSignIn(agent, await openSignIn(agent, authorization), email, password);
    return { authorization, page };
  }

  async function secondStep(agent: Agent, page: Page, code: string): Promise<Page> {
    const form = formOn(page.body, /\/second-factor$/);
    return agent.follow(new URL(form.action, page.url).href, { form: { ...form.fields, code } }, RP_CALLBACK);
  }

  it('asks for a code after the right password, and only then lets the app in, with amr otp and acr mfa', async () => {
    const person = await personWithFactor();
    const agent = new Agent();
    const { authorization, page } = await passwordStep(agent, person.email, person.password);
    expect(page.status).to.equal(200);
    expect(page.body).to.contain('Two-step verification').and.contain('autocomplete="one-time-code"');
    expect(page.url.startsWith(RP_CALLBACK)).to.equal(false);
    expect(agent.cookies.has('lk_device'), 'no trusted-browser cookie before the second step').to.equal(false);

    const wrong = await secondStep(agent, page, wrongCode(person.code, 0));
    expect(wrong.status).to.equal(401);
    expect(wrong.body).to.contain('That code is not right');

    const done = await secondStep(agent, wrong, person.code());
    expect(done.url.startsWith(RP_CALLBACK), done.body.slice(0, 300)).to.equal(true);
    expect(agent.cookies.has('lk_device')).to.equal(true);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.url), {
      pkceCodeVerifier: authorization.verifier, expectedState: authorization.state, expectedNonce: authorization.nonce,
    });
    expect(tokens.claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    expect(tokens.claims()!.acr).to.equal('urn:latchkey:acr:mfa');
    expect(config.serverMetadata().acr_values_supported).to.include('urn:latchkey:acr:mfa');
    const events = (await server.deps.audit.list({ userId: person.userId })).map((r) => r.event);
    expect(events).to.include.members(['signin.succeeded', 'factor.verified', 'signin.failed']);
  });

  it('refuses a code used once already (a replay), and takes a recovery code once, with amr mfa', async () => {
    const person = await personWithFactor();
    const first = new Agent();
    const used = person.code();
    expect((await secondStep(first, (await passwordStep(first, person.email, person.password)).page, used)).url.startsWith(RP_CALLBACK)).to.equal(true);

    const second = new Agent();
    const { page } = await passwordStep(second, person.email, person.password);
    expect((await secondStep(second, page, used)).status, 'the same code again').to.equal(401);

    const { authorization, page: again } = await passwordStep(second, person.email, person.password);
    const done = await secondStep(second, again, person.recoveryCodes[0]!);
    expect(done.url.startsWith(RP_CALLBACK)).to.equal(true);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.url), {
      pkceCodeVerifier: authorization.verifier, expectedState: authorization.state, expectedNonce: authorization.nonce,
    });
    expect(tokens.claims()!.amr).to.deep.equal(['pwd', 'mfa']);

    const third = new Agent();
    const { page: last } = await passwordStep(third, person.email, person.password);
    expect((await secondStep(third, last, person.recoveryCodes[0]!)).status, 'a recovery code works once').to.equal(401);
  });

  it('counts wrong codes on the account lockout, and the right password does not reset them', async () => {
    const person = await personWithFactor();
    const agent = new Agent();
    let { page } = await passwordStep(agent, person.email, person.password);
    for (let i = 0; i < 2; i++) page = await secondStep(agent, page, wrongCode(person.code, 123450 + i));
    // The password again (a new sign-in): the two failures stay.
    ({ page } = await passwordStep(new Agent(), person.email, person.password));
    const state = await server.deps.lockout.state(accountSubject(person.userId));
    expect(state!.failures, 'failures kept across a right password').to.equal(2);
    const guesser = new Agent();
    ({ page } = await passwordStep(guesser, person.email, person.password));
    for (let i = 0; i < 3; i++) page = await secondStep(guesser, page, wrongCode(person.code, 654320 + i));
    const locked = await server.deps.lockout.state(accountSubject(person.userId));
    expect(locked!.lockCount, 'five wrong codes lock the account').to.equal(1);
    // Locked: even the right code is refused, and so is the right password.
    const owner = new Agent();
    const atPassword = (await passwordStep(owner, person.email, person.password)).page;
    expect(atPassword.status).to.equal(401);
    expect(atPassword.body).to.contain('temporarily locked');
  });

  it('cannot be got around: no session before the step, the page stays the step, cancel ends the sign-in', async () => {
    const person = await personWithFactor();
    const agent = new Agent();
    const { page } = await passwordStep(agent, person.email, person.password);
    const uid = /\/interaction\/([\w-]+)\/second-factor/.exec(page.body)![1]!;
    // Back to the interaction: still the second step, never the app.
    const back = await agent.follow(`${server.url}/interaction/${uid}`, {}, RP_CALLBACK);
    expect(back.body).to.contain('Two-step verification');
    // The page looks for the owed step only where its cookie says so (a hint: the database
    // decides). Without it the password is asked again, and the right one owes the step again.
    agent.cookies.delete('lk_step');
    agent.cookies.delete('lk_step.sig');
    const hintless = await agent.follow(`${server.url}/interaction/${uid}`, {}, RP_CALLBACK);
    expect(hintless.body).to.contain('name="password"').and.not.contain('Two-step verification');
    const again = await submitSignIn(agent, hintless, person.email, person.password);
    expect(again.url.startsWith(RP_CALLBACK)).to.equal(false);
    expect(again.body).to.contain('Two-step verification');
    // No session: a silent authorization in this browser is refused.
    const silent = await agent.follow((await startAuthorization(config, { prompt: 'none' })).url.href, {}, RP_CALLBACK);
    expect(new URL(silent.url).searchParams.get('error')).to.equal('login_required');
    // Cancel: the app hears access_denied.
    const cancel = formOn(back.body, /\/abort$/);
    const cancelled = await agent.follow(new URL(cancel.action, back.url).href, { form: cancel.fields }, RP_CALLBACK);
    expect(new URL(cancelled.url).searchParams.get('error')).to.equal('access_denied');
  });

  it('steps up a password session when an app asks for multi-factor with acr_values', async () => {
    // Signed in with a password alone, then the app was set up (as in the portal).
    const email = `step-up-${++people}@example.com`;
    const password = `the step-up password ${people}`;
    const user = await createUser(server.deps, { email, password });
    const agent = new Agent();
    const { page } = await passwordStep(agent, email, password);
    expect(page.url.startsWith(RP_CALLBACK)).to.equal(true);
    const enrolment = await startTotpEnrolment(server.deps.factors, user._id, { issuer: 'Latchkey', account: email });
    const totp = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) });
    const code = (steps = 0) => totp.generate({ timestamp: Date.now() + steps * STEP_MS });
    expect((await confirmTotpEnrolment(server.deps.factors, user._id, enrolment.enrolmentId, code(-1))).ok).to.equal(true);

    // Without acr_values: the password session is enough.
    const silent = await openSignIn(agent, await startAuthorization(config));
    expect(silent.url.startsWith(RP_CALLBACK)).to.equal(true);
    // Asking for multi-factor: the password again, then the code, then acr mfa.
    const params = { acr_values: 'urn:latchkey:acr:mfa' };
    const authorization = await startAuthorization(config, params);
    const confirm = await openSignIn(agent, authorization);
    expect(confirm.body).to.contain('Confirm it’s you');
    const step = await submitSignIn(agent, confirm, email, password);
    expect(step.body).to.contain('Two-step verification');
    const done = await secondStep(agent, step, code());
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.url), {
      pkceCodeVerifier: authorization.verifier, expectedState: authorization.state, expectedNonce: authorization.nonce,
    });
    expect(tokens.claims()!.acr).to.equal('urn:latchkey:acr:mfa');
    // Now the session is multi-factor: asking again needs nothing more.
    expect((await openSignIn(agent, await startAuthorization(config, params))).url.startsWith(RP_CALLBACK)).to.equal(true);
  });

  /** The authenticator app a person sets up from the enrolment page: its code, computed from the key shown. */
  function appFromEnrolmentPage(page: Page) {
    const key = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(page.body)?.[1];
    expect(key, 'the key for typing in is on the page').to.be.a('string');
    const totp = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(key!.replace(/ /g, '')) });
    return () => totp.generate();
  }

  async function enrolWithCode(agent: Agent, page: Page, code: string): Promise<Page> {
    const form = formOn(page.body, /\/enrol\/totp$/);
    return agent.follow(new URL(form.action, page.url).href, { form: { ...form.fields, code } }, RP_CALLBACK);
  }

  it('an app registered with require_mfa takes only two-step sign-ins: an account without a second factor sets one up right after the password, even from a password session', async () => {
    const strictConfig = await discover(server.url, strict);
    const person = await personWithFactor();
    const agent = new Agent();
    const authorization = await startAuthorization(strictConfig);
    const step = await submitSignIn(agent, await openSignIn(agent, authorization), person.email, person.password);
    const done = await secondStep(agent, step, person.code());
    const tokens = await oidc.authorizationCodeGrant(strictConfig, new URL(done.url), {
      pkceCodeVerifier: authorization.verifier, expectedState: authorization.state, expectedNonce: authorization.nonce,
    });
    expect(tokens.claims()!.acr).to.equal('urn:latchkey:acr:mfa');

    const email = `no-factor-${++people}@example.com`;
    const password = 'a password and nothing more 1';
    const user = await createUser(server.deps, { email, password });

    // Signed in at another app with the password: the strict app still asks.
    const other = new Agent();
    expect((await passwordStep(other, email, password)).page.url.startsWith(RP_CALLBACK)).to.equal(true);
    const strictAuthorization = await startAuthorization(strictConfig);
    const again = await openSignIn(other, strictAuthorization);
    expect(again.url.startsWith(RP_CALLBACK), 'no silent sign-in').to.equal(false);
    const enrol = await submitSignIn(other, again, email, password);
    expect(enrol.status).to.equal(200);
    expect(enrol.body).to.contain('Set up two-step verification').and.contain('Strict App').and.contain('<svg role="img"');
    expect(enrol.url.startsWith(RP_CALLBACK)).to.equal(false);
    // Reloading the sign-in shows the setup again (a new key), never the app.
    const reloaded = await other.follow(again.url, {}, RP_CALLBACK);
    expect(reloaded.body).to.contain('Set up two-step verification');
    const code = appFromEnrolmentPage(reloaded);

    const wrong = await enrolWithCode(other, reloaded, code() === '000000' ? '111111' : '000000');
    expect(wrong.status).to.equal(400);
    expect(wrong.body).to.contain('That code is not right');
    expect(await server.deps.factors.factors.countDocuments({ userId: user._id })).to.equal(0);

    const fresh = appFromEnrolmentPage(wrong);
    const enrolled = await enrolWithCode(other, wrong, fresh());
    expect(enrolled.url.startsWith(RP_CALLBACK), enrolled.body.slice(0, 300)).to.equal(true);
    const claims = (await oidc.authorizationCodeGrant(strictConfig, new URL(enrolled.url), {
      pkceCodeVerifier: strictAuthorization.verifier, expectedState: strictAuthorization.state, expectedNonce: strictAuthorization.nonce,
    })).claims()!;
    expect(claims.acr).to.equal('urn:latchkey:acr:mfa');
    expect(claims.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    expect(await server.deps.factors.factors.countDocuments({ userId: user._id, kind: 'totp' })).to.equal(1);
  });

  it('an operator\'s "set up two-step verification at next sign-in": the next sign-in leads to the setup, and the request ends with it', async () => {
    const email = `must-enrol-${++people}@example.com`;
    const password = 'a password and nothing more 2';
    const user = await createUser(server.deps, { email, password });
    await server.deps.users.updateOne({ _id: user._id }, { $set: { mustEnrolSecondFactor: true } });
    const agent = new Agent();
    const { authorization, page } = await passwordStep(agent, email, password);
    expect(page.body).to.contain('Set up two-step verification');
    // The password step is done; going back to it does not skip the setup.
    const form = formOn(page.body, /\/enrol\/totp$/);
    const skip = await agent.request(new URL(form.action.replace(/\/enrol\/totp$/, '/second-factor'), page.url).href, { form: { _csrf: form.fields._csrf!, code: '123456' } });
    expect(skip.status).to.equal(400);
    const done = await enrolWithCode(agent, page, appFromEnrolmentPage(page)());
    expect(done.url.startsWith(RP_CALLBACK)).to.equal(true);
    expect((await oidc.authorizationCodeGrant(config, new URL(done.url), {
      pkceCodeVerifier: authorization.verifier, expectedState: authorization.state, expectedNonce: authorization.nonce,
    })).claims()!.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    expect((await server.deps.users.findById(user._id).lean())!.mustEnrolSecondFactor).to.equal(false);
  });

  it('bad input on the step: 4xx, nothing used up', async () => {
    const person = await personWithFactor();
    const agent = new Agent();
    const { page } = await passwordStep(agent, person.email, person.password);
    const form = formOn(page.body, /\/second-factor$/);
    const action = new URL(form.action, page.url).href;
    const csrf = form.fields._csrf!;
    for (const [body, status] of [
      [`_csrf=${csrf}`, 400],
      [`_csrf=${csrf}&code[$ne]=`, 400],
      [`_csrf=${csrf}&code=${'1'.repeat(100)}`, 400],
      [`_csrf=${csrf}&code=1&code=2`, 400],
      [`code=${person.code()}`, 403],
    ] as const) {
      const answer = await agent.request(action, { form: body });
      expect(answer.status, body).to.equal(status);
      expect(answer.body).to.not.match(/\bat \S+ \(|node_modules|\.ts:\d+/);
    }
    // The code is still good.
    expect((await secondStep(agent, page, person.code())).url.startsWith(RP_CALLBACK)).to.equal(true);
  });
});
