// Passkeys in a real browser: Chromium's virtual WebAuthn authenticator (DevTools
// protocol: ctap2, internal transport, resident keys, user verification) registers a
// passkey in the account portal and signs in with it, alone from the sign-in page and
// as the second step after a password. The app checks amr and acr in its ID token.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { createUser } from '../../src/accounts/users.ts';
import { passkeyModel } from '../../src/db/models/passkey.ts';
import { auditModel } from '../../src/db/models/audit.ts';
import { ACR } from '../../src/oidc/authentication.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { cspViolations, useBrowser } from '../helpers/browser.ts';
import { discover, publicClient, RP_CALLBACK, startAuthorization, type Authorization } from '../helpers/rp.ts';

const client = publicClient();

describe('passkeys in a browser', function () {
  this.timeout(90_000);
  const { server, smtp } = useTestServer({ clients: [client], smtp: true, policy: LENIENT_THROTTLES });
  const browser = useBrowser();
  let config: oidc.Configuration;
  let people = 0;

  before(async () => {
    config = await discover(server.url, client);
  });

  const passkeys = () => passkeyModel(server.deps.connection);

  interface Session {
    context: BrowserContext;
    page: Page;
    cdp: CDPSession;
    authenticatorId: string;
    callback(): URL | undefined;
    /** Resolves with the app's callback URL once the browser is sent there. */
    backInApp(): Promise<URL>;
    violations: string[];
  }

  /**
   * A browser context with a platform authenticator that verifies its user, and the
   * app's callback answered here. The virtual authenticator answers a conditional
   * request (passkeys offered in the email field) at once, as a person picking their
   * passkey from the autofill would; `autofill: false` is a browser without it, where
   * the button is the way.
   */
  async function browserWithAuthenticator(options: { autofill?: boolean } = {}): Promise<Session> {
    const context = await browser.newContext();
    // The app's callback is only recorded: with a virtual authenticator attached, Chromium
    // refuses port 9 before routing sees it, so the test reads the URL from the request.
    let callback: URL | undefined;
    context.on('request', (request) => {
      if (request.url().startsWith(RP_CALLBACK)) callback = new URL(request.url());
    });
    if (options.autofill === false) {
      await context.addInitScript(() => {
        (globalThis as unknown as { PublicKeyCredential: { isConditionalMediationAvailable(): Promise<boolean> } })
          .PublicKeyCredential.isConditionalMediationAvailable = async () => false;
      });
    }
    const page = await context.newPage();
    const violations = cspViolations(page);
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    const backInApp = async () => new URL((await page.waitForRequest((request) => request.url().startsWith(RP_CALLBACK), { timeout: 30_000 })).url());
    return { context, page, cdp, authenticatorId, callback: () => callback, backInApp, violations };
  }

  async function newPerson() {
    const email = `owner-${++people}@example.com`;
    const password = `violet harbour lantern ${people}`;
    const user = await createUser(server.deps, { email, password, name: `Ada ${people}` });
    return { email, password, userId: user._id };
  }

  /** Signs in to the portal with the password and adds a passkey named `name` on the security page. */
  async function addPasskey(session: Session, person: { email: string; password: string }, name: string) {
    const { page } = session;
    await page.goto(`${server.url}/account/security`);
    await page.getByLabel('Email').fill(person.email);
    await page.getByLabel('Password').fill(person.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${server.url}/account/security`);
    await page.getByLabel('Name for the new passkey').fill(name);
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.waitForURL(`${server.url}/account/security?notice=passkey_added`);
  }

  async function exchange(callback: URL, authorization: Authorization) {
    return oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: authorization.verifier, expectedState: authorization.state, expectedNonce: authorization.nonce,
    });
  }

  it('adds a passkey in the portal (a discoverable credential with user verification), names and renames it, and tells the person', async () => {
    const person = await newPerson();
    const session = await browserWithAuthenticator();
    await addPasskey(session, person, 'Work laptop');
    const { page } = session;
    expect(await page.getByRole('status').textContent()).to.contain('Your passkey is ready');
    expect(await page.locator('.passkey strong').allTextContents()).to.deep.equal(['Work laptop']);

    const stored = await passkeys().find({ userId: person.userId }).lean();
    expect(stored).to.have.length(1);
    expect(stored[0]!.name).to.equal('Work laptop');
    expect(stored[0]!.deviceType).to.equal('singleDevice');
    const { credentials } = await session.cdp.send('WebAuthn.getCredentials', { authenticatorId: session.authenticatorId });
    expect(credentials).to.have.length(1);
    expect(credentials[0]!.isResidentCredential, 'discoverable').to.equal(true);
    expect(Buffer.from(credentials[0]!.userHandle!, 'base64').toString(), 'the user handle is the opaque account id, not the email').to.equal(person.userId);
    expect(credentials[0]!.credentialId).to.equal(Buffer.from(stored[0]!.credentialId, 'base64url').toString('base64'));

    const mail = await smtp.waitFor((m) => (m.to as { text: string } | undefined)?.text.includes(person.email) === true && /added/i.test(m.subject ?? ''), 10_000);
    expect(mail.text).to.contain('Work laptop');
    const audit = await auditModel(server.deps.connection).find({ userId: person.userId, event: 'factor.added' }).lean();
    expect(audit.map((a) => (a.details as { kind: string }).kind)).to.deep.equal(['passkey']);

    // The same authenticator cannot register a second passkey for the account (excludeCredentials).
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('This authenticator already holds a passkey for your account.').waitFor();
    expect(await passkeys().countDocuments({ userId: person.userId })).to.equal(1);

    await page.getByText('Rename').click();
    await page.getByLabel('New name').fill('Old laptop');
    await page.getByRole('button', { name: 'Save name' }).click();
    await page.waitForURL(`${server.url}/account/security?notice=passkey_renamed`);
    expect(await page.locator('.passkey strong').allTextContents()).to.deep.equal(['Old laptop']);
    expect(session.violations).to.deep.equal([]);
    await session.context.close();
  });

  it('offers the passkey in the email field (conditional UI): picking it signs in to the app, amr hwk, user, mfa', async () => {
    const person = await newPerson();
    const session = await browserWithAuthenticator();
    await addPasskey(session, person, 'Laptop');
    await session.context.clearCookies();

    const { page } = session;
    const authorization = await startAuthorization(config);
    const back = session.backInApp();
    await page.goto(authorization.url.href);
    // No click: the browser's autofill request, answered by the authenticator, signs in.
    const claims = (await exchange(await back, authorization)).claims()!;
    expect(claims.sub).to.equal(person.userId);
    expect(claims.amr).to.deep.equal(['hwk', 'user', 'mfa']);
    expect(claims.acr).to.equal(ACR.mfa);
    expect(session.violations).to.deep.equal([]);
    await session.context.close();
  });

  it('signs in to an app with the passkey button alone, without the email or password: amr hwk, user, mfa and acr mfa', async () => {
    const person = await newPerson();
    const session = await browserWithAuthenticator({ autofill: false });
    await addPasskey(session, person, 'Laptop');
    await session.context.clearCookies();

    const { page } = session;
    const authorization = await startAuthorization(config);
    await page.goto(authorization.url.href);
    const back = session.backInApp();
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const tokens = await exchange(await back, authorization);
    const claims = tokens.claims()!;
    expect(claims.sub).to.equal(person.userId);
    expect(claims.amr).to.deep.equal(['hwk', 'user', 'mfa']);
    expect(claims.acr).to.equal(ACR.mfa);
    const stored = await passkeys().findOne({ userId: person.userId }).lean();
    expect(stored!.lastUsedAt).to.be.instanceOf(Date);
    const events = await auditModel(server.deps.connection).find({ userId: person.userId, event: 'signin.succeeded' }).lean();
    expect(events.map((e) => (e.details as { method?: string }).method)).to.include('passkey');
    expect(session.violations).to.deep.equal([]);
    await session.context.close();
  });

  it('asks for the passkey after the password of an account that has one: amr pwd, hwk, user, mfa', async () => {
    const person = await newPerson();
    const session = await browserWithAuthenticator({ autofill: false });
    await addPasskey(session, person, 'Phone');
    await session.context.clearCookies();

    const { page } = session;
    const authorization = await startAuthorization(config);
    await page.goto(authorization.url.href);
    await page.getByLabel('Email').fill(person.email);
    await page.getByLabel('Password').fill(person.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
    expect(await page.locator('input[name="code"]').count(), 'no code field for an account without an app or recovery codes').to.equal(0);
    expect(session.callback()).to.equal(undefined);
    const back = session.backInApp();
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    const claims = (await exchange(await back, authorization)).claims()!;
    expect(claims.amr).to.deep.equal(['pwd', 'hwk', 'user', 'mfa']);
    expect(claims.acr).to.equal(ACR.mfa);
    await session.context.close();
  });

  it('refuses another account\'s passkey as the second step, and a replayed answer', async () => {
    const owner = await newPerson();
    const other = await newPerson();
    const session = await browserWithAuthenticator({ autofill: false });
    await addPasskey(session, owner, 'Owner key');
    await session.context.clearCookies();
    // The other account has a passkey too (on another authenticator), so its sign-in asks for one.
    const otherSession = await browserWithAuthenticator();
    await addPasskey(otherSession, other, 'Other key');
    await otherSession.context.close();

    // Capture the owner's answer as it is sent, and let it through.
    const { page } = session;
    let sent: string | undefined;
    await page.route(/\/interaction\/[^/]+\/passkey$/, async (route) => {
      sent = route.request().postData() ?? undefined;
      await route.continue();
    });

    // The other person's password, then the owner's passkey: refused, nobody signed in.
    const authorization = await startAuthorization(config);
    await page.goto(authorization.url.href);
    await page.getByLabel('Email').fill(other.email);
    await page.getByLabel('Password').fill(other.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    // The browser offers only the other account's passkeys here; a page that asks for any
    // passkey anyway (the owner's, signing this sign-in's challenge) is refused by the server.
    await page.getByRole('button', { name: 'Use a passkey' }).waitFor();
    await page.evaluate(`(async () => {
      const form = document.querySelector('form[data-passkey]');
      const body = new URLSearchParams({ _csrf: form.querySelector('input[name="_csrf"]').value });
      const options = await (await fetch(form.dataset.options, { method: 'POST', body })).json();
      options.allowCredentials = [];
      const credential = await SimpleWebAuthnBrowser.startAuthentication({ optionsJSON: options });
      form.querySelector('input[name="credential"]').value = JSON.stringify(credential);
      HTMLFormElement.prototype.submit.call(form);
    })()`);
    await page.getByText('That passkey could not sign you in').waitFor();
    expect(await page.getByRole('heading', { name: 'Two-step verification' }).count(), 'still the second step').to.equal(1);
    expect(session.callback()).to.equal(undefined);
    expect(sent).to.be.a('string');

    // A good answer, used once: sent again to a new sign-in, it answers no challenge of that sign-in.
    await session.context.clearCookies();
    const second = await startAuthorization(config);
    await page.goto(second.url.href);
    const refused = sent;
    const back = session.backInApp();
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const firstAnswer = await back;
    expect((await exchange(firstAnswer, second)).claims()!.sub).to.equal(owner.userId);
    expect(sent, 'the answer that signed in').to.not.equal(refused);
    await page.unroute(/\/interaction\/[^/]+\/passkey$/);

    await session.context.clearCookies();
    const third = await startAuthorization(config);
    // A page of its own: the first one may still be showing the app's (unreachable) callback.
    const replayPage = await session.context.newPage();
    await replayPage.goto(third.url.href);
    // Sent from the page, with its own CSRF token, to its own sign-in's /passkey.
    const action = await replayPage.locator('form[data-passkey]').evaluate((form) => (form as unknown as { action: string }).action);
    const csrf = await replayPage.locator('form[data-passkey] input[name="_csrf"]').inputValue();
    const params = new URLSearchParams(sent!);
    params.set('_csrf', csrf);
    const replayed = await replayPage.evaluate(async ([url, body]) => {
      const response = await fetch(url, { method: 'POST', body: new URLSearchParams(body), redirect: 'manual' });
      return { status: response.status, text: await response.text() };
    }, [action, params.toString()] as const);
    expect(replayed.status).to.equal(401);
    expect(replayed.text).to.contain('That passkey could not sign you in');
    await session.context.close();
  });
});
