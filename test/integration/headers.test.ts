// Headers and cookies behind a TLS terminator (ISSUER https, TRUST_PROXY): HSTS,
// Secure SameSite cookies, a strict CSP with a nonce, no-store wherever a form or
// a token is.
import { expect } from 'chai';
import { createUser } from '../../src/accounts/users.ts';
import { useTestServer } from '../helpers/server.ts';
import { Agent, formOn } from '../helpers/agent.ts';

describe('security headers and cookies over https', () => {
  let base: string;
  const client = {
    client_id: 'https-app', token_endpoint_auth_method: 'none', redirect_uris: ['https://app.example/callback'],
    grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], first_party: true,
  };
  const { server } = useTestServer({ env: { ISSUER: 'https://id.example.test', TRUST_PROXY: 'true' }, clients: [client as never] });

  before(async () => {
    base = `http://127.0.0.1:${(server.http.address() as { port: number }).port}`;
    await createUser(server.deps, { email: 'https@example.com', password: 'secure cookies only 4' });
  });

  const viaProxy = new Agent({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.example.test' });

  it('sends HSTS and a nonce-based CSP without unsafe-inline on every page', async () => {
    for (const path of ['/password/forgot', '/signup', '/account/signed-out', '/interaction/unknown']) {
      const page = await viaProxy.request(`${base}${path}`);
      expect(page.headers.get('strict-transport-security'), path).to.match(/max-age=\d{8}/);
      const csp = page.headers.get('content-security-policy')!;
      expect(csp, path).to.contain("frame-ancestors 'none'").and.contain("object-src 'none'").and.match(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+'/);
      expect(csp).to.not.contain('unsafe-inline');
      expect(page.headers.get('x-frame-options')).to.equal('DENY');
      expect(page.headers.get('referrer-policy')).to.equal('no-referrer');
      expect(page.headers.get('cache-control'), path).to.equal('no-store');
    }
  });

  it('marks every cookie Secure, HttpOnly and SameSite on the sign-in path', async () => {
    const agent = new Agent({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.example.test' });
    const auth = await fetch(`${base}/auth?client_id=https-app&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://app.example/callback')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`, {
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.example.test' }, redirect: 'manual',
    });
    const cookies = auth.headers.getSetCookie();
    expect(cookies.length).to.be.greaterThan(0);
    for (const cookie of cookies) expect(cookie, cookie.split('=')[0]).to.match(/;\s*secure/i).and.match(/samesite=lax/i).and.match(/httponly/i);

    const page = await agent.request(`${base}/password/forgot`);
    const set = page.headers.getSetCookie();
    expect(set.some((c) => c.startsWith('lk_csrf='))).to.equal(true);
    for (const cookie of set) expect(cookie).to.match(/;\s*secure/i).and.match(/samesite=lax/i).and.match(/httponly/i);
    expect(formOn(page.body, /\/password\/forgot$/).fields._csrf).to.be.a('string');
  });

  it('answers the token endpoint with no-store', async () => {
    const response = await fetch(`${base}/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-proto': 'https' },
      body: 'grant_type=authorization_code&code=x&client_id=https-app',
    });
    expect(response.headers.get('cache-control')).to.equal('no-store');
  });
});
