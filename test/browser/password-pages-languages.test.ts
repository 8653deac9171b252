// The forgot-password and sign-up pages in a real browser, in English and in Arabic
// (right to left): no WCAG 2.2 A/AA violation found by axe-core, before and after a
// failed submission (errors tied to their fields); the strength hint speaks the
// page's language and is announced politely.
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { allCatalogs } from '../../src/i18n/messages.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { useBrowser } from '../helpers/browser.ts';
import { axeViolations, describeViolations } from '../helpers/axe.ts';

describe('password pages in a browser, in English and Arabic', function () {
  this.timeout(90_000);
  const { server } = useTestServer({ policy: LENIENT_THROTTLES });
  const browser = useBrowser();
  const catalogs = allCatalogs();

  async function pageIn(lang: 'en' | 'ar'): Promise<Page> {
    const context = await browser.newContext({ locale: lang, extraHTTPHeaders: { 'accept-language': lang } });
    return context.newPage();
  }

  async function expectNoViolations(page: Page, what: string): Promise<void> {
    const violations = await axeViolations(page);
    expect(violations, `${what}:\n${describeViolations(violations)}`).to.deep.equal([]);
  }

  for (const lang of ['en', 'ar'] as const) {
    const t = catalogs[lang];

    it(`forgot password (${lang}): no violations, empty and with an error`, async () => {
      const page = await pageIn(lang);
      await page.goto(`${server.url}/password/forgot`);
      expect(await page.getAttribute('html', 'dir')).to.equal(lang === 'ar' ? 'rtl' : 'ltr');
      await page.getByRole('heading', { name: t['password.forgot.title'] }).waitFor();
      await expectNoViolations(page, `forgot ${lang}`);
      await page.getByLabel(t['password.email']!).fill('not an address');
      await page.getByRole('button', { name: t['password.forgot.submit'] }).click();
      await page.getByText(t['password.error.emailInvalid']!).first().waitFor();
      expect(await page.getByLabel(t['password.email']!).getAttribute('aria-invalid')).to.equal('true');
      await expectNoViolations(page, `forgot with an error ${lang}`);
      await page.context().close();
    });

    it(`sign-up (${lang}): no violations, empty and with errors; the strength hint in the page's language, polite`, async () => {
      const page = await pageIn(lang);
      await page.goto(`${server.url}/signup`);
      await page.getByRole('heading', { name: t['password.signup.title'] }).waitFor();
      await expectNoViolations(page, `sign-up ${lang}`);

      const password = page.locator('#password');
      await password.fill('aaaa');
      const hint = page.locator('.strength-text');
      expect(await hint.getAttribute('aria-live')).to.equal('polite');
      expect(await hint.textContent()).to.equal(t['password.strength.label']!.replace('{level}', t['password.strength.weak']!));
      await password.fill('Tangerine-Velvet-Lighthouse-42');
      expect(await hint.textContent()).to.be.oneOf([t['password.strength.good'], t['password.strength.strong']].map((level) => t['password.strength.label']!.replace('{level}', level!)));
      await expectNoViolations(page, `sign-up with the strength hint ${lang}`);

      await password.fill('');
      await page.getByRole('button', { name: t['password.signup.submit'] }).click();
      await page.getByText(t['password.error.nameMissing']!).first().waitFor();
      await expectNoViolations(page, `sign-up with errors ${lang}`);
      await page.context().close();
    });
  }
});
