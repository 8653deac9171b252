// Keyboard-only walk-throughs (issue 13): sign-in, forgot password → reset, and sign-up
// → verify email, in Chromium with Tab, Shift+Tab, Enter and Space only (and typing
// into fields). Every control reached shows a visible focus indicator; the skip link
// comes first; after a failed form focus lands on the error summary, whose links
// take focus to their fields.
import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import type * as oidc from 'openid-client';
import { createUser } from '../../src/accounts/users.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { useBrowser } from '../helpers/browser.ts';
import { discover, publicClient, RP_CALLBACK, startAuthorization } from '../helpers/rp.ts';
import type { ParsedMail } from '../helpers/smtp.ts';

const client = publicClient();
const password = 'keys under the mat 7';

interface Focused {
  tag: string;
  id: string;
  text: string;
  matches: boolean;
  /** A visible indicator: an outline at least 2px wide that is not transparent, or a box shadow. */
  visible: boolean;
}

/** What has focus now, and whether it matches `selector`. Evaluated in the page (a string: no DOM types here). */
function focused(page: Page, selector: string): Promise<Focused> {
  return page.evaluate<Focused>(`(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { tag: 'body', id: '', text: '', matches: false, visible: false };
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 && style.outlineColor !== 'rgba(0, 0, 0, 0)';
    const shadow = style.boxShadow && style.boxShadow !== 'none';
    return { tag: el.tagName.toLowerCase(), id: el.id, text: (el.textContent || '').trim().slice(0, 40), matches: el.matches(${JSON.stringify(selector)}), visible: Boolean(outline || shadow) };
  })()`);
}

/** Presses `key` on the focused control and waits for the page it leads to. */
async function pressAndWait(page: Page, key: 'Enter' | 'Space'): Promise<void> {
  await Promise.all([page.waitForNavigation(), page.keyboard.press(key)]);
}

/** Presses Tab until `selector` has focus, checking each stop shows its focus. */
async function tabTo(page: Page, selector: string, max = 40): Promise<void> {
  const visited: string[] = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const now = await focused(page, selector);
    visited.push(`${now.tag}#${now.id} "${now.text}"`);
    // Past the last control focus leaves the page (body) before coming round again.
    if (now.tag !== 'body') expect(now.visible, `focus is visible on ${visited.at(-1)}`).to.equal(true);
    if (now.matches) return;
  }
  expect.fail(`${selector} never got focus; Tab went through: ${visited.join(', ')}`);
}

describe('keyboard-only walk-throughs in a browser', function () {
  this.timeout(90_000);
  const { server, smtp } = useTestServer({ clients: [client], smtp: true, policy: LENIENT_THROTTLES });
  const browser = useBrowser();
  let config: oidc.Configuration;

  before(async () => {
    config = await discover(server.url, client);
  });

  async function newContext(colorScheme: 'light' | 'dark' = 'light'): Promise<BrowserContext> {
    const context = await browser.newContext({ colorScheme });
    context.setDefaultTimeout(10_000);
    return context;
  }

  const mailTo = (email: string) => smtp.waitFor((m: ParsedMail) => (m.to as { text: string }).text.includes(email));

  /** Back to the top of the page with Shift+Tab: focus on the skip link, the first control. */
  async function fromTop(page: Page): Promise<void> {
    for (let i = 0; i < 40; i++) {
      if ((await focused(page, 'a.skip-link')).matches) return;
      await page.keyboard.press('Shift+Tab');
    }
    expect.fail('Shift+Tab never reached the skip link');
  }

  /** Signs in with the keyboard; the app's callback (an address nobody answers) is where the browser goes next, with a code. */
  async function signInWithKeys(page: Page, email: string, secret: string): Promise<URL> {
    const callback = page.waitForRequest((request) => request.url().startsWith(RP_CALLBACK));
    await fromTop(page);
    await tabTo(page, '#email');
    await page.keyboard.type(email);
    await tabTo(page, '#password');
    await page.keyboard.type(secret);
    await tabTo(page, 'button.primary');
    await page.keyboard.press('Enter');
    return new URL((await callback).url());
  }

  for (const scheme of ['light', 'dark'] as const) {
    it(`signs in: skip link first, a failed try lands on the error summary, its link on the field, then the app (${scheme})`, async () => {
      const email = `keys-${scheme}@example.com`;
      await createUser(server.deps, { email, password });
      const context = await newContext(scheme);
      const page = await context.newPage();
      await page.goto((await startAuthorization(config)).url.href);

      // The skip link is the first stop, visible when focused, and moves focus to the main content.
      const first = await page.evaluate<boolean>(`document.querySelector('a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex="-1"])').matches('a.skip-link')`);
      expect(first, 'the skip link is the first control').to.equal(true);
      await fromTop(page);
      expect((await focused(page, 'a.skip-link')).visible).to.equal(true);
      const box = await page.locator('a.skip-link').boundingBox();
      expect(box!.y, 'the focused skip link is on screen').to.be.at.least(0);
      await page.keyboard.press('Enter');
      expect((await focused(page, 'main')).matches, 'Enter on the skip link focuses main').to.equal(true);

      // Sending the empty form: focus on the summary, whose first link takes focus to the email field.
      await tabTo(page, 'button.primary');
      await pressAndWait(page, 'Enter');
      await page.locator('.error-summary').waitFor();
      await page.waitForFunction('document.activeElement && document.activeElement.matches(".error-summary")');
      await tabTo(page, '.error-summary a', 3);
      await page.keyboard.press('Enter');
      expect((await focused(page, '#email')).matches, 'the summary link focuses its field').to.equal(true);

      const callback = await signInWithKeys(page, email, password);
      expect(callback.searchParams.get('code')).to.be.a('string');
      await context.close();
    });
  }

  for (const [lang, scheme] of [['en', 'light'], ['en', 'dark'], ['ar', 'light'], ['ar', 'dark']] as const) {
    it(`every control of the sign-in, forgot-password and sign-up pages shows its focus, footer included (${lang}, ${scheme})`, async () => {
      const context = await newContext(scheme);
      await context.addCookies([{ name: 'lk_lang', value: lang, url: server.url }]);
      const page = await context.newPage();
      const authorization = await startAuthorization(config);
      for (const url of [authorization.url.href, `${server.url}/password/forgot`, `${server.url}/signup`]) {
        await page.goto(url);
        await fromTop(page);
        // Round the whole page once: every stop until focus leaves the page after the last control.
        const stops = await page.evaluate<number>(`document.querySelectorAll('a[href], button:not([hidden]), input:not([type=hidden]):not([hidden]), select, textarea').length`);
        let seen = 0;
        for (let i = 0; i < stops + 5; i++) {
          await page.keyboard.press('Tab');
          const now = await focused(page, 'footer button[lang]');
          if (now.tag === 'body') break;
          seen++;
          expect(now.visible, `focus is visible on ${now.tag}#${now.id} "${now.text}" at ${url}`).to.equal(true);
        }
        expect(seen, `Tab reached the controls of ${url}`).to.be.at.least(8);
      }
      await context.close();
    });
  }

  it('forgot password: from the sign-in link to the emailed page, a new password, then signed in', async () => {
    const email = 'keys-forgot@example.com';
    await createUser(server.deps, { email, password: 'the one I forgot 11' });
    const context = await newContext();
    const page = await context.newPage();
    await page.goto((await startAuthorization(config)).url.href);
    await fromTop(page);
    await tabTo(page, 'a[href^="/password/forgot"]');
    await pressAndWait(page, 'Enter');

    await fromTop(page);
    await tabTo(page, '#email');
    await page.keyboard.type(email);
    await tabTo(page, 'button.primary');
    await pressAndWait(page, 'Space');

    await page.goto(smtp.linkIn(await mailTo(email)));
    await fromTop(page);
    await tabTo(page, '#password');
    await page.keyboard.type('Tangerine-Velvet-Lighthouse-42');
    await tabTo(page, 'button.primary');
    await pressAndWait(page, 'Enter');
    await page.locator('#email').waitFor();

    const callback = await signInWithKeys(page, email, 'Tangerine-Velvet-Lighthouse-42');
    expect(callback.searchParams.get('code')).to.be.a('string');
    await context.close();
  });

  it('signs up: from the sign-in link, a weak password first, then the email link confirms the address', async () => {
    const email = 'keys-signup@example.com';
    const context = await newContext();
    const page = await context.newPage();
    await page.goto((await startAuthorization(config)).url.href);
    await fromTop(page);
    await tabTo(page, 'a[href^="/signup"]');
    await pressAndWait(page, 'Enter');

    await fromTop(page);
    await tabTo(page, '#name');
    await page.keyboard.type('Keyboard Person');
    await tabTo(page, '#email');
    await page.keyboard.type(email);
    await tabTo(page, '#password');
    await page.keyboard.type('password');
    await tabTo(page, 'button.primary');
    await pressAndWait(page, 'Space');
    await page.waitForFunction('document.activeElement && document.activeElement.matches(".error-summary")');
    await tabTo(page, '.error-summary a', 3);
    await page.keyboard.press('Enter');
    expect((await focused(page, '#password')).matches, 'the summary link focuses the password field').to.equal(true);
    await page.keyboard.type('Tangerine-Velvet-Lighthouse-42');
    await tabTo(page, 'button.primary');
    await pressAndWait(page, 'Enter');

    await page.goto(smtp.linkIn(await mailTo(email)));
    await fromTop(page);
    await tabTo(page, 'main button.primary');
    await pressAndWait(page, 'Enter');
    const user = await server.deps.users.findOne({ emailNormalized: email }).lean();
    expect(user!.emailVerified, 'the address is confirmed').to.equal(true);
    await context.close();
  });
});
