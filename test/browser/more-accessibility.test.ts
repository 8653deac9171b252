// The pages the other accessibility tests do not open, audited with axe-core (WCAG 2.2
// A/AA) in Chromium, in English and with the Arabic language picked: the sign-up page
// reached from an app's sign-in (with the app's logo, name and links), the portal's new
// recovery codes, the authenticator app setup (also after a wrong code), the passkey
// remove confirmation, the "signed out everywhere" page, a refusal page (405), and every
// admin console page, notices, errors and refusals included. The console stays English
// whatever the person picked (admin/page.ts CONSOLE_LOCALE): with Arabic picked its
// pages still say lang="en" dir="ltr" and carry no Arabic, so no page mixes languages.
// (The enrolment step of the sign-in, views/enrol.pug, is audited in both languages by
// accessibility.test.ts and steps-accessibility.test.ts.)
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import { Secret, TOTP } from 'otpauth';
import { createUser } from '../../src/accounts/users.ts';
import { confirmTotpEnrolment, generateRecoveryCodes, startTotpEnrolment, TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { translator } from '../../src/i18n/messages.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { discover, publicClient, startAuthorization } from '../helpers/rp.ts';
import { cspViolations, useBrowser } from '../helpers/browser.ts';
import { axeViolations, describeViolations } from '../helpers/axe.ts';

const password = 'steady copper kettle 77';
/** Any letter of the Arabic script: none may appear on a console page. */
const ARABIC = /[\u0600-\u06ff]/;
const branded = publicClient({
  client_id: 'branded-app', client_name: 'Harbour (beta)', logo_uri: 'https://static.harbour.example/logo.png',
  client_uri: 'https://harbour.example/', policy_uri: 'https://harbour.example/privacy', tos_uri: 'https://harbour.example/terms',
} as never);
/** A 1×1 PNG for the app's logo (nothing leaves the machine). */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

describe('more pages pass axe (WCAG 2.2 AA) in English and Arabic; the console stays English', function () {
  this.timeout(180_000);
  const { server } = useTestServer({ clients: [branded], policy: LENIENT_THROTTLES });
  const browser = useBrowser();
  let people = 0;

  for (const lang of ['en', 'ar'] as const) {
    describe(lang, () => {
      const t = translator(lang);
      let context: BrowserContext;
      let page: Page;
      let csp: string[];
      let email: string;
      let userId: string;

      before(async () => {
        email = `a11y-more-${lang}-${++people}@example.com`;
        userId = (await createUser(server.deps, { email, password, name: 'Audit Admin', roles: ['admin'] }))._id;
        context = await browser.newContext();
        context.setDefaultTimeout(15_000);
        await context.addCookies([{ name: 'lk_lang', value: lang, url: server.url }]);
        page = await context.newPage();
        csp = cspViolations(page);
        await page.goto(`${server.url}/account`);
        await page.locator('#email').fill(email);
        await page.locator('#password').fill(password);
        await page.locator('button[type="submit"].primary').first().click();
        await page.waitForURL(`${server.url}/account`);
      });

      after(async () => {
        await context?.close();
      });

      async function audit(name: string, language: 'en' | 'ar' = lang): Promise<void> {
        expect(await page.getAttribute('html', 'lang'), `${name}: lang`).to.equal(language);
        expect(await page.getAttribute('html', 'dir'), `${name}: dir`).to.equal(language === 'ar' ? 'rtl' : 'ltr');
        const violations = await axeViolations(page);
        expect(violations, `${lang} ${name} (${page.url()}):\n${describeViolations(violations)}`).to.deep.equal([]);
      }

      /** A console page: English and left to right whatever the person picked, and clean. */
      async function auditConsole(name: string): Promise<void> {
        await audit(`console ${name}`, 'en');
        // Only words marked as another language may be in one: the switcher's language names (an error page's frame).
        let text = await page.locator('body').innerText();
        for (const named of await page.locator('body [lang]').allInnerTexts()) text = text.replace(named, '');
        expect(text, `console ${name}: no Arabic`).to.not.match(ARABIC);
      }

      async function submit(selector: string): Promise<void> {
        await page.locator(selector).first().click();
        await page.waitForLoadState('load');
      }

      it('the sign-up page reached from an app\'s sign-in, with its logo, name and links', async () => {
        const other = await browser.newContext();
        try {
          await other.route('https://static.harbour.example/**', (route) => route.fulfill({ status: 200, contentType: 'image/png', body: PNG }));
          const visitor = await other.newPage();
          const visitorCsp = cspViolations(visitor);
          await visitor.goto((await startAuthorization(await discover(server.url, branded), { ui_locales: lang })).url.href);
          await visitor.locator('a[href^="/signup?interaction="]').click();
          await visitor.waitForURL(/\/signup\?interaction=/);
          await visitor.locator('img.app-logo').waitFor();
          expect(await visitor.locator('img.app-logo').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), 'the logo loads under the CSP').to.equal(1);
          const previous = page;
          page = visitor;
          try {
            await audit('branded sign-up');
          } finally {
            page = previous;
          }
          expect(visitorCsp).to.deep.equal([]);
        } finally {
          await other.close();
        }
      });

      it('the authenticator app setup, and after a wrong code', async () => {
        await page.goto(`${server.url}/account/security`);
        await submit('form[action="/account/security/totp"] button');
        await page.locator('code.secret').waitFor();
        await audit('authenticator setup');
        await page.locator('input[name=code]').fill('000000');
        await submit('form[action="/account/security/totp/confirm"] button[type=submit]');
        await page.locator('.error-summary, p.error').first().waitFor();
        await audit('authenticator setup after a wrong code');
      });

      it('new recovery codes, and the passkey remove confirmation', async () => {
        // An authenticator app, recovery codes and a passkey, as their setups leave them.
        const enrolment = await startTotpEnrolment(server.deps.factors, userId, { issuer: 'Latchkey', account: email });
        const totp = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) });
        expect((await confirmTotpEnrolment(server.deps.factors, userId, enrolment.enrolmentId, totp.generate({ timestamp: Date.now() - 30_000 }))).ok).to.equal(true);
        await generateRecoveryCodes(server.deps.factors, userId);
        await server.deps.factors.passkeys.create({
          _id: randomUUID(), userId, credentialId: randomUUID(), publicKey: 'AAAA', counter: 0, transports: [], name: 'Work laptop',
          deviceType: 'multiDevice', backedUp: true, aaguid: '', createdAt: new Date(), lastUsedAt: new Date(),
        });
        await page.goto(`${server.url}/account/security`);
        await submit('form[action="/account/security/recovery-codes"] button');
        await page.locator('ol.recovery-codes').waitFor();
        await audit('new recovery codes');

        await page.goto(`${server.url}/account/security`);
        await submit(`form[action="/account/security/remove"] button[aria-label="${t('portal.security.removePasskey', { name: 'Work laptop' })}"]`);
        await page.locator('input[name=confirm][value=yes]').waitFor({ state: 'attached' });
        await audit('passkey remove confirmation');
      });

      it('a refusal page (a method the page does not take) speaks the page\'s language', async () => {
        const response = await page.goto(`${server.url}/account/sign-out-everywhere`);
        expect(response!.status()).to.equal(405);
        expect(await page.locator('h1').innerText()).to.equal(t('errors.methodNotAllowed.title'));
        await audit('405 page');
      });

      it('every console page, in English even with Arabic picked', async () => {
        await page.goto(`${server.url}/admin`);
        await page.locator('h1').waitFor();
        await auditConsole('accounts');
        await page.goto(`${server.url}/admin?q=no-such-person-anywhere`);
        await auditConsole('accounts, none found');

        // A person to act on: the account page, with a notice, and with a field error.
        const person = await createUser(server.deps, { email: `a11y-more-person-${lang}-${++people}@example.com`, password, name: 'Audit Person', groups: ['staff'] });
        await page.goto(`${server.url}/admin/accounts/${person._id}`);
        await auditConsole('account');
        await submit('form[action$="/edit"] button[type=submit]');
        await page.getByRole('status').waitFor();
        await auditConsole('account with a notice');
        await page.locator('#temporaryPassword').fill('password');
        await submit('form[action$="/temporary-password"] button[type=submit]');
        await page.locator('#temporaryPassword-error').waitFor();
        await auditConsole('account with a field error');
        await page.goto(`${server.url}/admin/accounts/${userId}`);
        await auditConsole('own account (with its factors)');

        await page.goto(`${server.url}/admin/accounts/new`);
        await auditConsole('new account');
        await page.goto(`${server.url}/admin/audit?since=yesterday&until=2020-13-45&event=nothing`);
        await auditConsole('audit trail with filter errors');
        await page.goto(`${server.url}/admin/audit?email=${encodeURIComponent(email)}`);
        await auditConsole('audit trail of one account');

        await page.goto(`${server.url}/admin/imports`);
        await auditConsole('imports');
        await submit('form[action="/admin/imports"] button.primary');
        await page.locator('#file-error').waitFor();
        await auditConsole('imports without a file');
        await page.locator('#file').setInputFiles({ name: 'broken.csv', mimeType: 'text/csv', buffer: Buffer.from('name,groups\nNo Email,staff\n') });
        await submit('form[action="/admin/imports"] button.primary');
        await page.locator('.badge.job-failed').waitFor({ timeout: 20_000 });
        await auditConsole('failed import');

        await page.goto(`${server.url}/admin/webhooks`);
        await auditConsole('webhooks');
        await page.locator('#url').fill(`https://example.com/hooks/${lang}`);
        await page.locator('input[name=events]').first().check();
        await submit('form[action="/admin/webhooks"] button.primary');
        await page.locator('#secret').waitFor();
        await auditConsole('webhook registered');
        await submit('main a[href^="/admin/webhooks/"]');
        await auditConsole('webhook');
        await submit('form[action$="/secret"] button');
        await page.locator('#secret').waitFor();
        await auditConsole('new webhook secret');

        const notFound = await page.goto(`${server.url}/admin/accounts/no-such-account`);
        expect(notFound!.status()).to.equal(404);
        await auditConsole('account not found');
        expect(csp).to.deep.equal([]);
      });

      it('the console refuses a signed-in person without the admin role, in English', async () => {
        const other = await browser.newContext();
        try {
          await other.addCookies([{ name: 'lk_lang', value: lang, url: server.url }]);
          const visitor = await other.newPage();
          const plain = `a11y-more-plain-${lang}-${++people}@example.com`;
          await createUser(server.deps, { email: plain, password });
          await visitor.goto(`${server.url}/admin`);
          await visitor.locator('#email').fill(plain);
          await visitor.locator('#password').fill(password);
          await visitor.locator('button[type="submit"].primary').first().click();
          await visitor.locator('h1').filter({ hasText: 'Administrators only' }).waitFor();
          const previous = page;
          page = visitor;
          try {
            await auditConsole('administrators only');
          } finally {
            page = previous;
          }
        } finally {
          await other.close();
        }
      });

      it('"signed out everywhere" (last: it ends this session)', async () => {
        await page.goto(`${server.url}/account`);
        await submit('form[action="/account/sign-out-everywhere"] button');
        await page.waitForURL(`${server.url}/account/signed-out`);
        await audit('signed out everywhere');
      });
    });
  }
});
