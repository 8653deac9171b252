// The README's screenshots, taken from the real pages in Chromium (playwright-core with
// the machine's Chromium, never a downloaded one): the sign-in page in English and
// Arabic, light and dark; the account portal; the admin console. Rerun it when pages
// change: `npm run screenshots` (writes docs/screenshots/*.png).
//
// It starts its own server on the embedded database in a temporary DATA_DIR (or on
// MONGODB_URI's server with a throwaway database name), with one demo administrator.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { startServer } from '../src/server.ts';
import { createUser } from '../src/accounts/users.ts';

const OUT = resolve(import.meta.dirname, '../docs/screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const EMAIL = 'ada@example.com';
const PASSWORD = 'violet harbour lantern 42';

const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-screenshots-'));
const config = loadConfig({
  ...process.env,
  NODE_ENV: 'development',
  PORT: '0',
  HOST: '127.0.0.1',
  DATA_DIR: dataDir,
  DEMO_APP: 'false',
  LOG_LEVEL: 'warn',
  ...(process.env.MONGODB_URI ? { MONGODB_URI: process.env.MONGODB_URI.replace(/\/[^/?]*(\?|$)/, `/latchkey_screenshots_${Date.now()}$1`) } : {}),
});
const server = await startServer(config, createLogger(config.logLevel));
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
mkdirSync(OUT, { recursive: true });

try {
  await createUser(server.deps, { email: EMAIL, password: PASSWORD, name: 'Ada Lovelace', roles: ['admin'] });

  /** A page at a phone-friendly width, in `lang` and `scheme`. */
  async function open(lang: string, scheme: 'light' | 'dark'): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 720, height: 900 }, colorScheme: scheme, locale: lang });
    await context.addCookies([{ name: 'lk_lang', value: lang, url: server.url }]);
    return context.newPage();
  }

  const shot = async (page: Page, name: string) => {
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
    console.log(`docs/screenshots/${name}.png`);
  };

  for (const lang of ['en', 'ar'] as const) {
    for (const scheme of ['light', 'dark'] as const) {
      const page = await open(lang, scheme);
      await page.goto(`${server.url}/account`);
      await page.locator('input[name="email"]').waitFor();
      await shot(page, `sign-in-${lang}-${scheme}`);
      await page.context().close();
    }
  }

  const page = await open('en', 'light');
  await page.goto(`${server.url}/account`);
  await page.locator('input[name="email"]').fill(EMAIL);
  await page.locator('input[name="password"]').fill(PASSWORD);
  await page.locator('form[action$="/login"] button[type="submit"]').click();
  await page.waitForURL(`${server.url}/account`);
  await shot(page, 'portal');
  await page.goto(`${server.url}/account/admin`);
  await page.waitForURL(/\/admin/);
  await shot(page, 'console');
} finally {
  await browser.close();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
