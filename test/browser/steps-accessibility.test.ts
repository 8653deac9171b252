// The second step and the setup of a first factor in a real browser, in English and
// in Arabic (right to left): axe-core finds no WCAG 2.2 A/AA violation, neither on the
// page as it opens nor after a refused code (error summary, field error).
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { Secret, TOTP } from 'otpauth';
import { createUser } from '../../src/accounts/users.ts';
import { confirmTotpEnrolment, generateRecoveryCodes, startTotpEnrolment, TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { useBrowser } from '../helpers/browser.ts';
import { axeViolations, describeViolations } from '../helpers/axe.ts';
import { confidentialClient, discover, startAuthorization } from '../helpers/rp.ts';

const web = confidentialClient({ client_name: 'Steps App' } as never);
const strict = confidentialClient({ client_id: 'steps-strict', client_name: 'Strict App', require_mfa: true } as never);

describe('the second step and the setup of a first factor: accessibility (axe, WCAG 2.2 AA)', function () {
  this.timeout(60_000);
  const { server } = useTestServer({ clients: [web, strict], policy: { ...LENIENT_THROTTLES, mfa: { trustBrowserDays: 30 } } });
  const browser = useBrowser();
  let config: oidc.Configuration;
  let strictConfig: oidc.Configuration;
  let people = 0;

  before(async () => {
    config = await discover(server.url, web);
    strictConfig = await discover(server.url, strict);
  });

  async function signInUpTo(page: Page, authorization: URL, email: string, password: string): Promise<void> {
    await page.goto(authorization.href);
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(password);
    await page.locator('form[action$="/login"] button[type=submit]').click();
    await page.waitForSelector('input[name=code]');
  }

  async function expectNoViolations(page: Page, what: string): Promise<void> {
    const violations = await axeViolations(page);
    expect(violations, `${what}:\n${describeViolations(violations)}`).to.deep.equal([]);
  }

  for (const locale of ['en', 'ar'] as const) {
    it(`the second step in ${locale}, and after an empty code`, async () => {
      const email = `a11y-${++people}@example.com`;
      const password = `the right password number ${people}`;
      const user = await createUser(server.deps, { email, password });
      const enrolment = await startTotpEnrolment(server.deps.factors, user._id, { issuer: 'Latchkey', account: email });
      const totp = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(enrolment.secretBase32) });
      expect((await confirmTotpEnrolment(server.deps.factors, user._id, enrolment.enrolmentId, totp.generate({ timestamp: Date.now() - 30_000 }))).ok).to.equal(true);
      await generateRecoveryCodes(server.deps.factors, user._id);

      const context = await browser.newContext({ locale });
      const page = await context.newPage();
      await signInUpTo(page, (await startAuthorization(config, { ui_locales: locale })).url, email, password);
      expect(await page.locator('html').getAttribute('dir')).to.equal(locale === 'ar' ? 'rtl' : 'ltr');
      await expectNoViolations(page, `second step (${locale})`);

      await page.locator('input[name=code]').fill('');
      await page.locator('form[action$="/second-factor"] button[type=submit]').click();
      await page.waitForSelector('.error-summary');
      await expectNoViolations(page, `second step with a field error (${locale})`);
      await context.close();
    });

    it(`the setup of a first factor in ${locale}, and after a wrong code`, async () => {
      const email = `a11y-${++people}@example.com`;
      const password = `the right password number ${people}`;
      await createUser(server.deps, { email, password });

      const context = await browser.newContext({ locale });
      const page = await context.newPage();
      await signInUpTo(page, (await startAuthorization(strictConfig, { ui_locales: locale })).url, email, password);
      await page.waitForSelector('.qr svg');
      await expectNoViolations(page, `setup (${locale})`);

      await page.locator('input[name=code]').fill('000000');
      await page.locator('form[action$="/enrol/totp"] button[type=submit]').click();
      await page.waitForSelector('.error-summary');
      await expectNoViolations(page, `setup with a field error (${locale})`);
      await context.close();
    });
  }
});
