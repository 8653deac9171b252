// Every input path with bad input: a clear 4xx page, nothing stored, never a 500
// or a stack trace.
import { expect } from 'chai';
import { createUser } from '../../src/accounts/users.ts';
import { useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { discover, openSignIn, publicClient, startAuthorization } from '../helpers/rp.ts';

const client = publicClient();
const email = 'bad-input@example.com';
const password = 'the right password';

function expectNoInternals(page: Page) {
  expect(page.status, page.body.slice(0, 300)).to.be.within(400, 499);
  expect(page.body).to.not.match(/\bat \S+ \(|node_modules|\.ts:\d+|Error:/);
}

describe('bad input', () => {
  const { server } = useTestServer({ clients: [client] });

  before(async () => {
    await createUser(server.deps, { email, password });
  });

  async function signInPage(): Promise<{ agent: Agent; page: Page; action: string; fields: Record<string, string> }> {
    const agent = new Agent();
    const config = await discover(server.url, client);
    const page = await openSignIn(agent, await startAuthorization(config));
    const form = formOn(page.body, /\/login$/);
    return { agent, page, action: new URL(form.action, page.url).href, fields: form.fields };
  }

  async function stored() {
    const db = server.database.connection;
    return {
      users: await db.collection('users').countDocuments(),
      lockouts: await db.collection('lockouts').countDocuments(),
      sessions: await db.collection('oidc_session').countDocuments(),
    };
  }

  const cases: Array<[string, (csrf: string) => string, number, RegExp]> = [
    ['missing email', (c) => `_csrf=${c}&password=x`, 400, /Enter your email address/],
    ['missing password', (c) => `_csrf=${c}&email=${email}`, 400, /Enter your password/],
    ['an oversized email', (c) => `_csrf=${c}&email=${'a'.repeat(300)}%40example.com&password=x`, 400, /too long/],
    ['an oversized password', (c) => `_csrf=${c}&email=${email}&password=${'p'.repeat(2000)}`, 400, /too long/],
    ['an operator object for email', (c) => `_csrf=${c}&email[$ne]=x&password=x`, 400, /email|form/i],
    ['an operator object for password', (c) => `_csrf=${c}&email=${email}&password[$gt]=`, 400, /password|form/i],
    ['a repeated field (array)', (c) => `_csrf=${c}&email=${email}&email=other%40example.com&password=x`, 400, /email|form/i],
    ['a body over the limit', (c) => `_csrf=${c}&email=${email}&password=x&pad=${'z'.repeat(20_000)}`, 413, /too large/],
    ['no CSRF token', () => `email=${email}&password=${password}`, 403, /Form expired/],
    ['a wrong CSRF token', () => `_csrf=forged&email=${email}&password=${password}`, 403, /Form expired/],
    ['an operator object as CSRF token', () => `_csrf[$ne]=x&email=${email}&password=${password}`, 403, /Form expired/],
  ];

  for (const [name, body, status, message] of cases) {
    it(`sign-in form: ${name} -> ${status}`, async () => {
      const before = await stored();
      const { agent, action, fields } = await signInPage();
      const page = await agent.request(action, { form: body(encodeURIComponent(fields._csrf!)) });
      expect(page.status).to.equal(status);
      expect(page.body).to.match(message);
      expectNoInternals(page);
      expect(await stored()).to.deep.equal(before);
    });
  }

  for (const [type, body] of [
    ['application/json', JSON.stringify({ email, password })],
    ['multipart/form-data; boundary=x', `--x\r\nContent-Disposition: form-data; name="email"\r\n\r\n${email}\r\n--x--`],
    ['text/plain', `email=${email}`],
  ] as const) {
    it(`sign-in form: content type ${type.split(';')[0]} -> 415`, async () => {
      const before = await stored();
      const { agent, action } = await signInPage();
      const page = await agent.request(action, { method: 'POST', body, headers: { 'content-type': type } });
      expect(page.status).to.equal(415);
      expectNoInternals(page);
      expect(await stored()).to.deep.equal(before);
    });
  }

  it('a sign-in POST for another interaction than the cookie\'s is refused', async () => {
    const { agent, fields } = await signInPage();
    const page = await agent.request(`${server.url}/interaction/someone-elses/login`, { form: { ...fields, email, password } });
    expect(page.status).to.equal(400);
    expect(page.body).to.contain('This sign-in has expired');
  });

  it('consent and abort without a CSRF token are refused', async () => {
    const { agent, page } = await signInPage();
    const uid = /\/interaction\/([^/]+)\/login/.exec(page.body)![1];
    for (const step of ['confirm', 'abort']) {
      const result = await agent.request(`${server.url}/interaction/${uid}/${step}`, { form: { x: '1' } });
      expect(result.status).to.equal(403);
      expectNoInternals(result);
    }
  });

  it('consent before signing in is refused', async () => {
    const { agent, page, fields } = await signInPage();
    const uid = /\/interaction\/([^/]+)\/login/.exec(page.body)![1];
    const result = await agent.request(`${server.url}/interaction/${uid}/confirm`, { form: fields });
    expect(result.status).to.equal(400);
    expectNoInternals(result);
  });

  it('unsupported methods on our routes are 405', async () => {
    const { agent, page } = await signInPage();
    const uid = /\/interaction\/([^/]+)\/login/.exec(page.body)![1];
    const result = await agent.request(`${server.url}/interaction/${uid}/login`, { method: 'PUT', body: 'x' });
    expect(result.status).to.equal(405);
  });

  it('protocol endpoints answer malformed requests with OAuth errors, not 500s', async () => {
    const token = `${server.url}/token`;
    const attempts: Array<[string, RequestInit]> = [
      ['token with JSON', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"grant_type":"authorization_code"}' }],
      ['token with operators', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=authorization_code&code[$ne]=x&client_id=test-app' }],
      ['token without grant', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=test-app' }],
      ['token oversized', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `client_id=test-app&code=${'x'.repeat(200_000)}` }],
    ];
    for (const [name, init] of attempts) {
      const response = await fetch(token, init);
      expect(response.status, name).to.be.within(400, 499);
      expect(await response.text(), name).to.not.match(/\bat \S+ \(|node_modules/);
    }
    const auth = await fetch(`${server.url}/auth?client_id[$ne]=x&response_type=code`, { redirect: 'manual' });
    expect(auth.status).to.be.within(400, 499);
    const userinfo = await fetch(`${server.url}/me`, { headers: { authorization: 'Bearer {"$ne":null}' } });
    expect(userinfo.status).to.equal(401);
  });

  it('sets security headers on our pages', async () => {
    const { page } = await signInPage();
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).to.contain("frame-ancestors 'none'").and.match(/script-src 'self' 'nonce-/).and.not.contain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(page.headers.get('referrer-policy')).to.equal('no-referrer');
    expect(page.headers.get('cache-control')).to.equal('no-store');
  });
});
