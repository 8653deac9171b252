// Headless Debian Chromium driven by playwright-core; never a downloaded browser.
import { chromium, type Browser, type Page } from 'playwright-core';
import { lazy } from './lazy.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The machine has no network beyond loopback: keep Chromium from trying.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** A browser for the enclosing `describe`: launched in a before hook, closed in an after hook. */
export function useBrowser(): Browser {
  let browser: Browser | undefined;
  before(async function () {
    this.timeout(60_000);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    browser = undefined;
  });
  return lazy('the test browser', () => browser);
}

/** The Content Security Policy violations `page` reports on its console, collected as they come. */
export function cspViolations(page: Page): string[] {
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  return violations;
}
