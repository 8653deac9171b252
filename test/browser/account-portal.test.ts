// A person using the account portal in a real browser: sign in, profile,
// connected apps, password, activity, sign out everywhere. One page per test,
// in order, in one browser context.
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import * as oidc from 'openid-client';
import { createUser } from '../../src/accounts/users.ts';
import { authenticate } from '../../src/accounts/signin.ts';
import { useTestServer } from '../helpers/server.ts';
import { cspViolations, useBrowser } from '../helpers/browser.ts';
import { Agent } from '../helpers/agent.ts';
import { discover, publicClient, signIn } from '../helpers/rp.ts';

const client = publicClient();
const email = 'portal-browser@example.com';
const password = 'copper kettle meadow 5';
const newPassword = 'Tangerine-Velvet-Lighthouse-42';

describe('account portal in a browser', function () {
  this.timeout(60_000);
  const { server } = useTestServer({ clients: [client] });
  const browser = useBrowser();
  let context: BrowserContext;
  let page: Page;
  let refreshToken: string;
  let violations: string[];

  before(async () => {
    await createUser(server.deps, { email, password, name: 'Browser Person' });
    // An app this person signed in to, to find on the connected apps page.
    const { tokens } = await signIn(await discover(server.url, client), new Agent(), email, password, { scope: 'openid email offline_access' });
    refreshToken = tokens.refresh_token!;
    context = await browser.newContext();
    page = await context.newPage();
    violations = cspViolations(page);
  });

  const nav = (name: string) => page.getByRole('navigation', { name: 'Your account' }).getByRole('link', { name, exact: true });

  it('signs in to the account pages through the sign-in page', async () => {
    await page.goto(`${server.url}/account`);
    expect(await page.title()).to.equal('Sign in · Latchkey');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${server.url}/account`);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    expect(await page.locator('.lead').textContent()).to.contain('Browser Person').and.contain(email);
    expect(await nav('Overview').getAttribute('aria-current')).to.equal('page');
    const card = await page.locator('main.card').boundingBox();
    expect(card!.width, 'the portal card is wider than the sign-in card').to.be.greaterThan(26 * 16);
  });

  it('edits the profile, with an error beside a field first', async () => {
    await nav('Profile').click();
    await page.getByRole('heading', { name: 'Your profile' }).waitFor();
    expect(await page.getByLabel('Name', { exact: true }).getAttribute('autocomplete')).to.equal('name');
    expect(await page.getByLabel('Phone number (optional)').getAttribute('autocomplete')).to.equal('tel');
    await page.getByLabel('Name', { exact: true }).fill('Grace Hopper');
    await page.getByLabel('Language (optional)').fill('en-US');
    await page.getByLabel('Phone number (optional)').fill('12345');
    await page.getByLabel('Street address').fill('1 Main Street');
    await page.getByLabel('Town or city').fill('Arlington');
    await page.getByLabel('State, county or region').fill('VA');
    await page.getByLabel('Postal code').fill('22201');
    await page.getByLabel('Country', { exact: true }).fill('United States');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.getByRole('alert').first().waitFor();
    expect(await page.getByRole('alert').first().textContent()).to.contain('international format');
    expect(await page.getByLabel('Town or city').inputValue(), 'what was typed is kept').to.equal('Arlington');

    await page.getByLabel('Phone number (optional)').fill('+1 703 555 0100');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.getByRole('status').waitFor();
    expect(await page.getByRole('status').textContent()).to.contain('Your profile was saved.');
    expect(await page.getByLabel('Phone number (optional)').inputValue()).to.equal('+17035550100');
    const user = await server.deps.users.findOne({ emailNormalized: email }).lean();
    expect(user!.name).to.equal('Grace Hopper');
    expect(user!.address!.locality).to.equal('Arlington');

    // Readable on a phone: no sideways scrolling.
    await page.setViewportSize({ width: 360, height: 740 });
    const widths = await page.evaluate<{ scroll: number; view: number }>('({ scroll: document.documentElement.scrollWidth, view: window.innerWidth })');
    expect(widths.scroll).to.be.at.most(widths.view);
    await page.setViewportSize({ width: 1280, height: 720 });
  });

  it('shows the connected app and revokes it', async () => {
    await nav('Connected apps').click();
    await page.getByRole('heading', { name: 'Test App' }).waitFor();
    expect(await page.locator('li.app').textContent()).to.contain('See your email address');
    await page.getByRole('button', { name: 'Revoke access of Test App' }).click();
    await page.getByRole('status').waitFor();
    expect(await page.getByRole('status').textContent()).to.contain('access was removed');
    expect(await page.getByText('No apps are connected to your account.').count()).to.equal(1);
    const refused = await oidc.refreshTokenGrant(await discover(server.url, client), refreshToken).catch((e: Error) => e);
    expect(refused).to.be.instanceOf(oidc.ResponseBodyError);
  });

  it('changes the password', async () => {
    await nav('Password').click();
    expect(await page.getByLabel('Sign out my other devices').isChecked(), 'checked by default').to.equal(true);
    expect(await page.getByLabel('Current password').getAttribute('autocomplete')).to.equal('current-password');
    await page.getByLabel('Current password').fill('not my password');
    await page.getByLabel('New password').fill(newPassword);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('alert').first().waitFor();
    expect(await page.getByRole('alert').first().textContent()).to.contain('That is not your current password');

    await page.getByLabel('Current password').fill(password);
    await page.getByLabel('New password').fill(newPassword);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('status').waitFor();
    expect(await page.getByRole('status').textContent()).to.contain('Your password was changed');
    expect((await authenticate(server.deps.signInDeps, { email, password: newPassword })).ok).to.equal(true);
  });

  it('shows the recent activity', async () => {
    await nav('Activity').click();
    await page.getByRole('heading', { name: 'Recent activity' }).waitFor();
    // The app's name is isolated (U+2068 … U+2069) for right-to-left sentences; read the words.
    const table = (await page.getByRole('table').textContent())!.replace(/[\u2068\u2069]/g, '');
    expect(table).to.contain('Signed in').and.contain('Password changed').and.contain('Profile updated').and.contain('App access removed: Test App');
    expect(table).to.contain('Chrome on Linux');
  });

  it('signs out everywhere, and the account pages ask to sign in again', async () => {
    await nav('Overview').click();
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
    await page.goto(`${server.url}/account`);
    expect(await page.title()).to.equal('Sign in · Latchkey');
    expect(violations).to.deep.equal([]);
  });
});
