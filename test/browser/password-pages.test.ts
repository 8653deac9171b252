// The password pages in a real browser, with real email: forgot → reset → back
// to the sign-in, the strength meter, and the forced change on first sign-in.
import { expect } from 'chai';
import type { BrowserContext } from 'playwright-core';
import type { ParsedMail } from 'mailparser';
import { createUser } from '../../src/accounts/users.ts';
import { setTemporaryPassword } from '../../src/accounts/set-password.ts';
import { useTestServer } from '../helpers/server.ts';
import { useBrowser } from '../helpers/browser.ts';
import { discover, publicClient, RP_CALLBACK, startAuthorization } from '../helpers/rp.ts';
import type * as oidc from 'openid-client';

const client = publicClient();

describe('password pages in a browser', function () {
  this.timeout(90_000);
  const { server, smtp } = useTestServer({ clients: [client], smtp: true });
  const browser = useBrowser();
  let config: oidc.Configuration;

  before(async () => {
    config = await discover(server.url, client);
  });

  async function newContext(): Promise<BrowserContext> {
    const context = await browser.newContext();
    await context.route(`${RP_CALLBACK}**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<title>Back in the app</title>' }));
    return context;
  }

  it('forgot password: email link, a new password with the strength meter, then back to sign in and into the app', async () => {
    const email = 'forgetful@example.com';
    await createUser(server.deps, { email, password: 'the one I forgot 11' });
    const context = await newContext();
    const page = await context.newPage();
    await page.goto((await startAuthorization(config)).url.href);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();

    const mail = await smtp.waitFor((m: ParsedMail) => (m.to as { text: string }).text.includes(email));
    await page.goto(smtp.linkIn(mail));
    const input = page.getByLabel('New password');
    expect(await input.getAttribute('autocomplete')).to.equal('new-password');
    await input.fill('aaaa');
    const weakText = await page.locator('.strength-text').textContent();
    await input.fill('Tangerine-Velvet-Lighthouse-42');
    const strongText = await page.locator('.strength-text').textContent();
    expect(weakText).to.not.equal(strongText);
    expect(strongText).to.match(/Strong|Good/);
    await page.getByRole('button', { name: 'Change password' }).click();

    await page.getByText('Your password was changed').waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('Tangerine-Velvet-Lighthouse-42');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${RP_CALLBACK}**`);
    expect(new URL(page.url()).searchParams.get('code')).to.be.a('string');
    await context.close();
  });

  it('forced change on first sign-in, shown between the temporary password and the app', async () => {
    const email = 'temporary@example.com';
    const user = await createUser(server.deps, { email, password: 'placeholder value 77' });
    await setTemporaryPassword({ ...server.deps.passwords, temporaryPasswordMs: 86_400_000 }, user, 'handed-out-temp-99');
    const context = await newContext();
    const page = await context.newPage();
    await page.goto((await startAuthorization(config)).url.href);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('handed-out-temp-99');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    expect(page.url()).to.not.contain(RP_CALLBACK);

    await page.getByLabel('New password').fill('handed-out-temp-99');
    await page.getByRole('button', { name: 'Save and continue' }).click();
    expect(await page.getByRole('alert').textContent()).to.contain('not used recently');

    await page.getByLabel('New password').fill('Orchard-Compass-Meadow-3');
    await page.getByRole('button', { name: 'Save and continue' }).click();
    await page.waitForURL(`${RP_CALLBACK}**`);
    await context.close();
  });
});
