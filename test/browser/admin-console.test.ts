// An administrator using the admin console in a real browser: sign in through
// the portal, search, open an account, edit its groups, set a temporary
// password, force a sign-in, import a CSV and download the report. One page per
// test, in order, in one browser context.
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import * as oidc from 'openid-client';
import { createUser } from '../../src/accounts/users.ts';
import { authenticate } from '../../src/accounts/signin.ts';
import { useTestServer } from '../helpers/server.ts';
import { cspViolations, useBrowser } from '../helpers/browser.ts';
import { Agent } from '../helpers/agent.ts';
import { discover, publicClient, signIn } from '../helpers/rp.ts';

const client = publicClient();
const adminEmail = 'console-admin@example.com';
const adminPassword = 'amber lantern orchard 7';
const personEmail = 'zephyrine.browser@example.com';
const personPassword = 'copper kettle meadow 5';

describe('admin console in a browser', function () {
  this.timeout(60_000);
  const { server } = useTestServer({ clients: [client] });
  const browser = useBrowser();
  let page: Page;
  let refreshToken: string;
  let violations: string[];

  before(async () => {
    await createUser(server.deps, { email: adminEmail, password: adminPassword, name: 'Console Admin', roles: ['admin'] });
    await createUser(server.deps, { email: personEmail, password: personPassword, name: 'Zephyrine Person' });
    const { tokens } = await signIn(await discover(server.url, client), new Agent(), personEmail, personPassword, { scope: 'openid offline_access' });
    refreshToken = tokens.refresh_token!;
    const context = await browser.newContext({ acceptDownloads: true });
    page = await context.newPage();
    violations = cspViolations(page);
  });

  const nav = (name: string) => page.getByRole('navigation', { name: 'Admin console' }).getByRole('link', { name, exact: true });
  const notice = async () => {
    await page.getByRole('status').waitFor();
    return page.getByRole('status').textContent();
  };

  it('signs in through the sign-in page and lands on the account list', async () => {
    await page.goto(`${server.url}/admin`);
    expect(await page.title()).to.equal('Sign in · Latchkey');
    await page.getByLabel('Email').fill(adminEmail);
    await page.getByLabel('Password').fill(adminPassword);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${server.url}/admin`);
    await page.getByRole('heading', { name: 'Accounts' }).waitFor();
    expect(await nav('Accounts').getAttribute('aria-current')).to.equal('page');
    expect(await page.getByRole('table').textContent()).to.contain(adminEmail).and.contain(personEmail);
  });

  it('searches and opens an account', async () => {
    await page.getByLabel('Search').fill('zephyr');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/\/admin\?q=zephyr/);
    const table = await page.getByRole('table').textContent();
    expect(table).to.contain(personEmail).and.not.contain(adminEmail);
    await page.getByRole('link', { name: personEmail }).click();
    await page.getByRole('heading', { name: personEmail }).waitFor();
    expect(await page.locator('section[aria-labelledby="profile-heading"] dl.facts').textContent()).to.contain('Password').and.contain('Set');
  });

  it('edits the groups', async () => {
    await page.getByLabel('Groups').fill('staff, finance');
    await page.getByRole('button', { name: 'Save changes' }).click();
    expect(await notice()).to.contain('The account was saved.');
    expect(await page.getByLabel('Groups').inputValue()).to.equal('staff, finance');
    const user = await server.deps.users.findOne({ emailNormalized: personEmail }).lean();
    expect(user!.groups).to.deep.equal(['staff', 'finance']);
  });

  it('sets a temporary password, with the policy\'s words beside the field first', async () => {
    await page.getByLabel('Temporary password').fill('password');
    await page.getByRole('button', { name: 'Set temporary password' }).click();
    await page.locator('#temporaryPassword-error').waitFor();
    expect(await page.getByLabel('Temporary password').getAttribute('aria-invalid')).to.equal('true');
    expect(await page.getByLabel('Temporary password').inputValue(), 'never shown again').to.equal('');

    await page.getByLabel('Temporary password').fill('violet harbour compass 31');
    await page.getByRole('button', { name: 'Set temporary password' }).click();
    expect(await notice()).to.contain('The temporary password was set');
    const result = await authenticate(server.deps.signInDeps, { email: personEmail, password: 'violet harbour compass 31' });
    expect(result.ok && result.mustChangePassword).to.equal(true);
    expect(await oidc.refreshTokenGrant(await discover(server.url, client), refreshToken).catch((e: Error) => e)).to.be.instanceOf(oidc.ResponseBodyError);
  });

  it('forces a sign-in', async () => {
    await page.getByRole('button', { name: 'Force sign-in' }).click();
    expect(await notice()).to.contain('The account was signed out everywhere');
  });

  it('uploads a small CSV, sees the job finish and downloads the report', async () => {
    await nav('Imports').click();
    await page.getByRole('heading', { name: 'Import accounts' }).waitFor();
    await page.getByLabel('CSV file').setInputFiles({
      name: 'people.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('email,name\nimported.one@example.com,Imported One\nnot-an-email,Bad Row\n=cmd@example.com,Formula\n'),
    });
    await page.getByRole('button', { name: 'Upload and import' }).click();
    await page.waitForURL(/\/admin\/imports\/[0-9a-f-]{36}$/);
    // The page refreshes itself while the job runs.
    await page.locator('.badge.job-done').waitFor({ timeout: 15_000 });
    expect(await page.locator('#created').textContent()).to.equal('1');
    expect(await page.locator('#rejected').textContent()).to.equal('2');
    expect(await page.getByRole('table').textContent()).to.contain('not-an-email').and.contain('email is not a valid address');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download the rejected rows (CSV)' }).click(),
    ]);
    expect(download.suggestedFilename()).to.match(/^import-[0-9a-f-]+-rejected\.csv$/);
    const text = (await readFile((await download.path())!, 'utf8')).replace(/^\uFEFF/, '');
    expect(text.trimEnd().split('\r\n')).to.deep.equal([
      'line,email,reason',
      '3,not-an-email,email is not a valid address',
      "4,'=cmd@example.com,email is not a valid address",
    ]);
    expect(await server.deps.users.countDocuments({ emailNormalized: 'imported.one@example.com' })).to.equal(1);
    expect(violations).to.deep.equal([]);
  });
});
