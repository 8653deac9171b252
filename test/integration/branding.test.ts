// Each app's name, logo and links on the sign-in page (RFC 7591 client metadata):
// the name in the page's language when the app registered one (client_name#de), the
// logo only from https and allowed by the page's CSP for exactly its origin, and a
// registration with any other logo_uri refused with a clear error. The sign-up page
// reached from an app's sign-in shows the app the same way, in that sign-in's language.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { startTestServer, useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { discover, openSignIn, publicClient, startAuthorization } from '../helpers/rp.ts';

const branded = publicClient({
  client_id: 'branded-app',
  client_name: 'Harbour',
  'client_name#de': 'Hafen',
  'client_name#ja': 'ハーバー',
  logo_uri: 'https://static.harbour.example/logo.png',
  client_uri: 'https://harbour.example/',
  policy_uri: 'https://harbour.example/privacy',
  tos_uri: 'https://harbour.example/terms',
} as never);
const plain = publicClient({ client_id: 'plain-app', client_name: 'Plain' });

describe('each app\'s name, logo and links on the sign-in page', function () {
  this.timeout(60_000);
  const { server } = useTestServer({ clients: [branded, plain] });
  let config: oidc.Configuration;
  let plainConfig: oidc.Configuration;

  before(async () => {
    config = await discover(server.url, branded);
    plainConfig = await discover(server.url, plain);
  });

  it('shows the logo (allowed by the CSP for its origin only), the app\'s links, and its name in the page\'s language', async () => {
    const page = await openSignIn(new Agent(), await startAuthorization(config, { ui_locales: 'de' }));
    expect(page.body).to.contain('<img class="app-logo" src="https://static.harbour.example/logo.png" alt="Logo von Hafen"');
    expect(page.body).to.contain('um mit <strong><bdi>Hafen</bdi></strong> fortzufahren');
    expect(page.body).to.contain('href="https://harbour.example/privacy"').and.contain('Datenschutzerklärung von <bdi>Hafen</bdi>');
    expect(page.body).to.contain('href="https://harbour.example/terms"');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).to.contain("img-src 'self' data: https://static.harbour.example;");

    const japanese = await openSignIn(new Agent(), await startAuthorization(config, { ui_locales: 'ja' }));
    expect(japanese.body).to.contain('<strong><bdi>ハーバー</bdi></strong>');
    const french = await openSignIn(new Agent(), await startAuthorization(config, { ui_locales: 'fr' }));
    expect(french.body, 'no French name registered: the plain one').to.contain('<strong><bdi>Harbour</bdi></strong>');
  });

  it('shows no logo and allows no other image origin for an app without one', async () => {
    const page = await openSignIn(new Agent(), await startAuthorization(plainConfig));
    expect(page.body).to.not.contain('app-logo');
    expect(page.headers.get('content-security-policy')).to.contain("img-src 'self' data:;");
  });

  it('refuses a registration whose logo_uri is not https, or whose localized name is not a name', async () => {
    for (const [metadata, message] of [
      [{ logo_uri: 'http://insecure.example/logo.png' }, /logo_uri must be an https URL/],
      [{ logo_uri: 'javascript:alert(1)' }, /logo_uri/],
      [{ 'client_name#de': '' }, /client_name#de must be a name/],
    ] as const) {
      const error = await startTestServer({ clients: [publicClient({ client_id: 'bad-app', ...metadata } as never)] }).then(
        async (started) => { await started.stop(); await started.database.drop(); return null; },
        (caught: Error) => caught,
      );
      expect(error, JSON.stringify(metadata)).to.be.instanceOf(Error);
      expect(String(error!.message), JSON.stringify(metadata)).to.match(message);
    }
  });

  describe('the sign-up page reached from an app\'s sign-in', () => {
    /** The sign-in page's "create an account" link, followed in the same browser. */
    async function signUpFrom(agent: Agent, signIn: Page): Promise<Page> {
      const href = /href="(\/signup\?interaction=[\w-]+)"/.exec(signIn.body)?.[1];
      expect(href, 'the sign-in links to the sign-up').to.be.a('string');
      return agent.request(new URL(href!, server.url).href);
    }

    function expectBranded(page: Page): void {
      expect(page.body).to.contain('<img class="app-logo" src="https://static.harbour.example/logo.png" alt="Logo von Hafen"');
      expect(page.body).to.contain('um mit <strong><bdi>Hafen</bdi></strong> fortzufahren');
      expect(page.body).to.contain('href="https://harbour.example/privacy"').and.contain('Datenschutzerklärung von <bdi>Hafen</bdi>');
      expect(page.body).to.contain('href="https://harbour.example/terms"').and.contain('href="https://harbour.example/"');
      expect(page.headers.get('content-security-policy')).to.contain("img-src 'self' data: https://static.harbour.example;");
    }

    function expectUnbranded(page: Page): void {
      expect(page.status).to.equal(200);
      expect(page.body).to.not.contain('app-logo').and.not.contain('harbour.example').and.not.contain('Hafen').and.not.contain('Harbour');
      expect(page.headers.get('content-security-policy')).to.contain("img-src 'self' data:;");
    }

    it('shows the app\'s logo, name and links, in the sign-in\'s language, also after a refused form', async () => {
      const agent = new Agent({ 'accept-language': 'en' });
      const page = await signUpFrom(agent, await openSignIn(agent, await startAuthorization(config, { ui_locales: 'de' })));
      expect(page.status).to.equal(200);
      expect(page.body, 'ui_locales of the sign-in').to.match(/<html lang="de" dir="ltr">/);
      expectBranded(page);

      // A refused form (no name) comes back with the same app.
      const form = formOn(page.body, /\/signup$/);
      const refused = await agent.request(`${server.url}/signup`, { form: { ...form.fields, name: '', email: 'new-person@example.com', password: 'a fine long password 12' } });
      expect(refused.status).to.equal(400);
      expectBranded(refused);
    });

    it('shows an app without a logo by its name only, and allows no other image origin', async () => {
      const agent = new Agent();
      const page = await signUpFrom(agent, await openSignIn(agent, await startAuthorization(plainConfig)));
      expect(page.body).to.contain('to continue to <strong><bdi>Plain</bdi></strong>');
      expect(page.body).to.not.contain('app-logo');
      expect(page.headers.get('content-security-policy')).to.contain("img-src 'self' data:;");
    });

    it('shows no app without a sign-in, or for an unknown, malformed or oversized one', async () => {
      for (const query of ['', '?interaction=no-such-sign-in', '?interaction[$ne]=x', '?interaction=a&interaction=b', `?interaction=${'x'.repeat(300)}`, '?interaction=%3Cscript%3E']) {
        const page = await new Agent().request(`${server.url}/signup${query}`);
        expect(page.status, query).to.equal(200);
        expectUnbranded(page);
      }
      // A sign-up form naming an unknown sign-in is answered as any other.
      const agent = new Agent();
      const fresh = await agent.request(`${server.url}/signup`);
      const form = formOn(fresh.body, /\/signup$/);
      const refused = await agent.request(`${server.url}/signup`, { form: { ...form.fields, interaction: 'no-such-sign-in', name: '', email: 'x@example.com', password: 'a fine long password 12' } });
      expect(refused.status).to.equal(400);
      expectUnbranded({ ...refused, status: 200 });
    });
  });
});
