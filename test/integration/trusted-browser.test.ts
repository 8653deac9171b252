// "Don't ask again on this browser" (policy mfa.trustBrowserDays) through the real
// pages: a trusted browser skips the second step where nothing requires two-step, and
// reports only the password (amr pwd); other browsers, apps asking for multi-factor, a
// password change, a factor reset and "forget" all bring the step back. Also the notice
// a person gets when a recovery code stands in for the second factor.
import { expect } from 'chai';
import { Secret, TOTP } from 'otpauth';
import * as oidc from 'openid-client';
import { createUser } from '../../src/accounts/users.ts';
import { confirmTotpEnrolment, generateRecoveryCodes, removeAllFactors, startTotpEnrolment, TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { forgetTrustedBrowsers } from '../../src/accounts/trusted-browsers.ts';
import { ACR } from '../../src/oidc/authentication.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { confidentialClient, discover, openSignIn, RP_CALLBACK, startAuthorization, submitSignIn, type Authorization } from '../helpers/rp.ts';

const STEP_MS = 30_000;
const web = confidentialClient();

describe('trusted browsers (mfa.trustBrowserDays)', function () {
  this.timeout(60_000);
  const { server, smtp } = useTestServer({ clients: [web], smtp: true, policy: { ...LENIENT_THROTTLES, mfa: { trustBrowserDays: 30 } } });
  let config: oidc.Configuration;
  let people = 0;

  before(async () => {
    config = await discover(server.url, web);
  });

  async function personWithFactor() {
    const email = `trusting-${++people}@example.com`;
    const password = `the right password number ${people}`;
    const user = await createUser(server.deps, { email, password });
    const enrolment = await startTotpEnrolment(server.deps.factors, user._id, { issuer: 'Latchkey', account: email });
    const totp = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) });
    expect((await confirmTotpEnrolment(server.deps.factors, user._id, enrolment.enrolmentId, totp.generate({ timestamp: Date.now() - STEP_MS }))).ok).to.equal(true);
    // A code is accepted once per 30-second step; this test signs in more often than that,
    // so before each code it forgets the last step used (replays are tested in second-factor.test.ts).
    const nextCode = async () => {
      await server.deps.factors.factors.updateOne({ userId: user._id, kind: 'totp' }, { $set: { lastStep: -1 } });
      return totp.generate();
    };
    const { codes } = await generateRecoveryCodes(server.deps.factors, user._id);
    return { email, password, userId: user._id, nextCode, recoveryCodes: codes };
  }

  async function passwordStep(agent: Agent, email: string, password: string, params: Record<string, string> = {}) {
    const authorization = await startAuthorization(config, params);
    const page = await submitSignIn(agent, await openSignIn(agent, authorization), email, password);
    return { authorization, page };
  }

  async function secondStep(agent: Agent, page: Page, code: string, trust: boolean): Promise<Page> {
    const form = formOn(page.body, /\/second-factor$/);
    return agent.follow(new URL(form.action, page.url).href, { form: { ...form.fields, code, ...(trust ? { trust: 'yes' } : {}) } }, RP_CALLBACK);
  }

  const claimsOf = async (page: Page, authorization: Authorization) => (await oidc.authorizationCodeGrant(config, new URL(page.url), {
    pkceCodeVerifier: authorization.verifier, expectedState: authorization.state, expectedNonce: authorization.nonce,
  })).claims()!;

  /** Signs in on `agent` with the password and, when asked, a code; whether the code was asked. */
  async function signInAgain(agent: Agent, person: Awaited<ReturnType<typeof personWithFactor>>, params: Record<string, string> = {}) {
    const { authorization, page } = await passwordStep(agent, person.email, person.password, params);
    if (page.url.startsWith(RP_CALLBACK)) return { asked: false, claims: await claimsOf(page, authorization) };
    expect(page.body).to.contain('Two-step verification');
    const done = await secondStep(agent, page, await person.nextCode(), false);
    return { asked: true, claims: await claimsOf(done, authorization) };
  }

  it('offers "don\'t ask again" on the step; the trusted browser then signs in with the password alone (amr pwd), other browsers are asked', async () => {
    const person = await personWithFactor();
    const agent = new Agent();
    const { authorization, page } = await passwordStep(agent, person.email, person.password);
    expect(page.body).to.contain('Don’t ask again on this browser for 30 days');
    const done = await secondStep(agent, page, await person.nextCode(), true);
    expect((await claimsOf(done, authorization)).amr).to.deep.equal(['pwd', 'otp', 'mfa']);

    // The same browser another day: its device cookie, no provider session.
    const fresh = new Agent();
    for (const [name, value] of agent.cookies) if (name.startsWith('lk_device')) fresh.cookies.set(name, value);
    expect(fresh.cookies.size).to.equal(2);
    const trusted = await signInAgain(fresh, person);
    expect(trusted.asked, 'the trusted browser skips the step').to.equal(false);
    expect(trusted.claims.amr, 'it reports what was done').to.deep.equal(['pwd']);
    expect(trusted.claims.acr).to.equal(ACR.password);

    expect((await signInAgain(new Agent(), person)).asked, 'another browser is asked').to.equal(true);
  });

  it('asks anyway where two-step is asked for (acr_values), and no more after a password change, a reset or "forget"', async () => {
    const person = await personWithFactor();
    const trust = async () => {
      const agent = new Agent();
      const { page } = await passwordStep(agent, person.email, person.password);
      await secondStep(agent, page, await person.nextCode(), true);
      const browser = new Agent();
      for (const [name, value] of agent.cookies) if (name.startsWith('lk_device')) browser.cookies.set(name, value);
      return browser;
    };

    const stepUp = await signInAgain(await trust(), person, { acr_values: ACR.mfa });
    expect(stepUp.asked, 'an app asking for multi-factor gets it').to.equal(true);
    expect(stepUp.claims.acr).to.equal(ACR.mfa);

    const beforeForget = await trust();
    await forgetTrustedBrowsers(server.deps.factors, person.userId);
    expect((await signInAgain(beforeForget, person)).asked, 'forgotten').to.equal(true);

    const beforeChange = await trust();
    await new Promise((resolve) => setTimeout(resolve, 5)); // passwordChangedAt strictly after the trust
    await server.deps.users.updateOne({ _id: person.userId }, { $set: { passwordChangedAt: new Date() } });
    expect((await signInAgain(beforeChange, person)).asked, 'a password changed since').to.equal(true);
  });

  it('a factor reset by an operator ends every trust', async () => {
    const person = await personWithFactor();
    const agent = new Agent();
    const { page } = await passwordStep(agent, person.email, person.password);
    await secondStep(agent, page, await person.nextCode(), true);
    expect(await server.deps.factors.trustedBrowsers.countDocuments({ userId: person.userId })).to.equal(1);
    await removeAllFactors(server.deps.factors, person.userId, { actor: 'admin:test' });
    expect(await server.deps.factors.trustedBrowsers.countDocuments({ userId: person.userId })).to.equal(0);
  });

  it('emails the person when a recovery code stands in for the second factor, with the count left', async () => {
    const person = await personWithFactor();
    const agent = new Agent();
    const { page } = await passwordStep(agent, person.email, person.password);
    const done = await secondStep(agent, page, person.recoveryCodes[0]!, false);
    expect(done.url.startsWith(RP_CALLBACK)).to.equal(true);
    const mail = await smtp.waitFor((m) => (m.to as { text: string } | undefined)?.text.includes(person.email) === true && /recovery code was used/.test(m.subject ?? ''), 10_000);
    expect(mail.text).to.contain('9 recovery codes are left').and.contain('/password/forgot');
  });
});
