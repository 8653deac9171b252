// Each app's name, logo and links on the sign-in page (RFC 7591 client metadata):
// the name in the page's language when the app registered one (client_name#de), the
// logo only from https and allowed by the page's CSP for exactly its origin, and a
// registration with any other logo_uri refused with a clear error.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { startTestServer, useTestServer } from '../helpers/server.ts';
import { Agent } from '../helpers/agent.ts';
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
});
