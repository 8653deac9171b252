// A person signing in through the hosted page in a real browser.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createUser } from '../../src/accounts/users.ts';
import { useTestServer } from '../helpers/server.ts';
import { cspViolations, useBrowser } from '../helpers/browser.ts';
import { discover, publicClient, RP_CALLBACK, startAuthorization } from '../helpers/rp.ts';

const client = publicClient();
const email = 'browser@example.com';
const password = 'keys under the mat 7';

describe('sign-in page in a browser', function () {
  this.timeout(60_000);
  const { server } = useTestServer({ clients: [client] });
  const browser = useBrowser();
  let config: oidc.Configuration;

  before(async () => {
    await createUser(server.deps, { email, password, name: 'Browser Person' });
    config = await discover(server.url, client);
  });

  /** A browser context whose requests to the app's callback are answered here, giving back the URL. */
  async function contextWithCallback(options: Parameters<Browser['newContext']>[0] = {}) {
    const context = await browser.newContext(options);
    let callback: URL | undefined;
    await context.route(`${RP_CALLBACK}**`, async (route) => {
      callback = new URL(route.request().url());
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<title>Back in the app</title>' });
    });
    return { context, callback: () => callback };
  }

  async function exchange(callback: URL, authorization: Awaited<ReturnType<typeof startAuthorization>>) {
    return oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: authorization.verifier, expectedState: authorization.state, expectedNonce: authorization.nonce,
    });
  }

  it('signs in with labels and keyboard, then the app gets tokens', async () => {
    const { context, callback } = await contextWithCallback();
    const page = await context.newPage();
    const authorization = await startAuthorization(config);
    await page.goto(authorization.url.href);
    expect(await page.title()).to.equal('Sign in · Latchkey');
    expect(await page.getByLabel('Email').getAttribute('autocomplete'), 'passkeys offered in autofill').to.equal('username webauthn');
    expect(await page.getByLabel('Password').getAttribute('autocomplete')).to.equal('current-password');

    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('not my password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForSelector('[role=alert]');
    expect(await page.getByRole('alert').textContent()).to.contain('Email or password is incorrect');
    expect(await page.getByLabel('Email').inputValue(), 'email kept').to.equal(email);

    await page.getByLabel('Password').fill(password);
    await page.getByLabel('Password').press('Enter');
    await page.waitForURL(`${RP_CALLBACK}**`);
    const tokens = await exchange(callback()!, authorization);
    expect(tokens.claims()!.sub).to.be.a('string');
    await context.close();
  });

  it('works with JavaScript turned off', async () => {
    const { context, callback } = await contextWithCallback({ javaScriptEnabled: false });
    const page = await context.newPage();
    const authorization = await startAuthorization(config);
    await page.goto(authorization.url.href);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${RP_CALLBACK}**`);
    expect((await exchange(callback()!, authorization)).access_token).to.be.a('string');
    await context.close();
  });

  it('is readable on a phone: no sideways scrolling, full-width controls', async () => {
    const { context } = await contextWithCallback({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page: Page = await context.newPage();
    await page.goto((await startAuthorization(config)).url.href);
    // Evaluated in the page (a string, since this file is type-checked without DOM types).
    const widths = await page.evaluate<{ scroll: number; view: number }>('({ scroll: document.documentElement.scrollWidth, view: window.innerWidth })');
    expect(widths.scroll).to.be.at.most(widths.view);
    const button = await page.getByRole('button', { name: 'Sign in', exact: true }).boundingBox();
    expect(button!.width).to.be.greaterThan(250);
    const fontSize = await page.evaluate<number>("parseFloat(getComputedStyle(document.querySelector('#email')).fontSize)");
    expect(fontSize, 'inputs at 16px do not zoom on focus').to.be.at.least(16);
    await context.close();
  });

  it('the page runs no inline script and reports no CSP violation', async () => {
    const { context }: { context: BrowserContext } = await contextWithCallback();
    const page = await context.newPage();
    const violations = cspViolations(page);
    await page.goto((await startAuthorization(config)).url.href);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${RP_CALLBACK}**`);
    expect(violations).to.deep.equal([]);
    await context.close();
  });
});
