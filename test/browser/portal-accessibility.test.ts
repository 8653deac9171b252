// The account portal's main pages pass an automated WCAG 2.2 A/AA audit (axe-core in
// Chromium) in English and in Arabic (right to left): the overview, the profile (also
// with an error), two-step verification with passkeys, an authenticator app and recovery codes,
// and the connected apps and activity pages.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import { Secret, TOTP } from 'otpauth';
import { createUser } from '../../src/accounts/users.ts';
import { confirmTotpEnrolment, generateRecoveryCodes, startTotpEnrolment, TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent } from '../helpers/agent.ts';
import { discover, publicClient, signIn } from '../helpers/rp.ts';
import { cspViolations, useBrowser } from '../helpers/browser.ts';
import { axeViolations, describeViolations } from '../helpers/axe.ts';

const password = 'steady copper kettle 77';
const client = publicClient({ client_name: 'Audit App' });

describe('account portal accessibility (axe, WCAG 2.2 AA) in English and Arabic', function () {
  this.timeout(120_000);
  const { server } = useTestServer({ clients: [client], policy: { ...LENIENT_THROTTLES, mfa: { trustBrowserDays: 30 } } });
  const browser = useBrowser();
  let people = 0;

  for (const lang of ['en', 'ar'] as const) {
    describe(lang, () => {
      let context: BrowserContext;
      let page: Page;
      let csp: string[];

      before(async () => {
        const email = `a11y-portal-${lang}-${++people}@example.com`;
        const user = await createUser(server.deps, { email, password, name: 'Audit Person' });
        // An app the person let in, for the connected apps page.
        await signIn(await discover(server.url, client), new Agent(), email, password, { scope: 'openid email profile' });
        context = await browser.newContext();
        await context.addCookies([{ name: 'lk_lang', value: lang, url: server.url }]);
        page = await context.newPage();
        csp = cspViolations(page);
        await page.goto(`${server.url}/account`);
        await page.locator('#email').fill(email);
        await page.locator('#password').fill(password);
        await page.locator('button[type="submit"].primary').first().click();
        await page.waitForURL(`${server.url}/account`);
        // Factors to list on the security page: an authenticator app and recovery codes.
        const enrolment = await startTotpEnrolment(server.deps.factors, user._id, { issuer: 'Latchkey', account: email });
        const totp = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) });
        expect((await confirmTotpEnrolment(server.deps.factors, user._id, enrolment.enrolmentId, totp.generate())).ok).to.equal(true);
        await generateRecoveryCodes(server.deps.factors, user._id);
        // A passkey as a registration leaves it, for the list with its rename and remove forms.
        await server.deps.factors.passkeys.create({
          _id: randomUUID(), userId: user._id, credentialId: randomUUID(), publicKey: 'AAAA', counter: 0, transports: [], name: 'Work laptop',
          deviceType: 'multiDevice', backedUp: true, aaguid: '', createdAt: new Date(), lastUsedAt: new Date(),
        });
      });

      after(async () => {
        await context?.close();
      });

      async function audit(name: string): Promise<void> {
        expect(await page.getAttribute('html', 'lang')).to.equal(lang);
        expect(await page.getAttribute('html', 'dir')).to.equal(lang === 'ar' ? 'rtl' : 'ltr');
        const violations = await axeViolations(page);
        expect(violations, `${lang} ${name}:\n${describeViolations(violations)}`).to.deep.equal([]);
      }

      it('overview', async () => {
        await page.goto(`${server.url}/account`);
        await audit('overview');
      });

      it('profile, and the profile with an error', async () => {
        await page.goto(`${server.url}/account/profile`);
        await audit('profile');
        await page.locator('#phoneNumber').fill('12345');
        await page.locator('form[action="/account/profile"] button[type="submit"]').click();
        await page.locator('.error-summary').waitFor();
        await audit('profile with an error');
        if (process.env.PORTAL_SHOTS) await page.screenshot({ path: `${process.env.PORTAL_SHOTS}/profile-${lang}.png`, fullPage: true });
      });

      it('two-step verification', async () => {
        await page.goto(`${server.url}/account/security`);
        await page.locator('.factor-recovery').waitFor();
        await audit('security');
        // The rename form opened.
        await page.locator('details summary').first().click();
        await audit('security, renaming a passkey');
        if (process.env.PORTAL_SHOTS) await page.screenshot({ path: `${process.env.PORTAL_SHOTS}/security-${lang}.png`, fullPage: true });
      });

      it('connected apps and recent activity', async () => {
        await page.goto(`${server.url}/account/apps`);
        await page.locator('li.app').waitFor();
        await audit('connected apps');
        await page.goto(`${server.url}/account/activity`);
        await page.locator('table.activity').waitFor();
        await audit('activity');
        if (process.env.PORTAL_SHOTS) await page.screenshot({ path: `${process.env.PORTAL_SHOTS}/activity-${lang}.png`, fullPage: true });
        expect(csp).to.deep.equal([]);
      });
    });
  }
});
