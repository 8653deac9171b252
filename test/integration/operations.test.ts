// Operations: health, metrics, request ids, and the promise that nothing secret
// reaches the logs, checked by running the flows and searching what was logged.
import { expect } from 'chai';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import * as oidc from 'openid-client';
import type { ParsedMail } from 'mailparser';
import { createUser } from '../../src/accounts/users.ts';
import { startTestServer, useTestServer } from '../helpers/server.ts';
import { Agent, formOn } from '../helpers/agent.ts';
import { confidentialClient, discover, openSignIn, publicClient, signIn, startAuthorization, submitSignIn } from '../helpers/rp.ts';

describe('operations', () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _encoding, done) { lines.push(chunk.toString()); done(); } });
  const app = confidentialClient({ scope: 'openid email profile account offline_access' } as never);
  const { server, smtp } = useTestServer({ clients: [app, publicClient()], smtp: true, env: { LOG_LEVEL: 'trace' }, log: pino({ level: 'trace' }, sink) });

  it('reports liveness and readiness', async () => {
    expect((await fetch(`${server.url}/healthz/live`)).status).to.equal(200);
    const ready = await fetch(`${server.url}/healthz/ready`);
    expect(ready.status).to.equal(200);
    expect(await ready.json()).to.deep.equal({ status: 'ok' });
  });

  it('echoes a request id and logs one line per request with it', async () => {
    const response = await fetch(`${server.url}/healthz/live`, { headers: { 'x-request-id': 'test-request-0001' } });
    expect(response.headers.get('x-request-id')).to.equal('test-request-0001');
    expect(lines.some((l) => l.includes('"reqId":"test-request-0001"'))).to.equal(true);
    const generated = (await fetch(`${server.url}/healthz/live`, { headers: { 'x-request-id': 'bad id with spaces' } })).headers.get('x-request-id');
    expect(generated).to.match(/^[0-9a-f-]{36}$/);
  });

  it('counts sign-ins, failures and lockouts in Prometheus metrics', async () => {
    await createUser(server.deps, { email: 'metrics@example.com', password: 'counted by prometheus 1' });
    const config = await discover(server.url, publicClient());
    for (let i = 0; i < 5; i++) {
      const agent = new Agent();
      await submitSignIn(agent, await openSignIn(agent, await startAuthorization(config)), 'metrics@example.com', 'wrong password!!');
    }
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).to.match(/latchkey_signins_total\{result="wrong_password"\} 5/);
    expect(metrics).to.match(/latchkey_lockouts_total\{scope="account"\} 1/);
    expect(metrics).to.contain('latchkey_http_request_duration_seconds_bucket');
    expect(metrics).to.contain('latchkey_emails{outcome="sent"}');
  });

  it('keeps metrics private: other machines get 403, and with METRICS_TOKEN a bearer token is required', async () => {
    const proxied = await startTestServer({ env: { TRUST_PROXY: 'true' } });
    const guarded = await startTestServer({ env: { METRICS_TOKEN: 'a-metrics-token-of-length' } });
    try {
      expect((await fetch(`${proxied.url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.5' } })).status).to.equal(403);
      expect((await fetch(`${guarded.url}/metrics`)).status).to.equal(401);
      expect((await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-of-same-len' } })).status).to.equal(401);
      expect((await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer a-metrics-token-of-length' } })).status).to.equal(200);
    } finally {
      for (const s of [proxied, guarded]) {
        await s.stop();
        await s.database.drop();
      }
    }
  });

  it('never logs passwords, tokens, links or cookies', async () => {
    const email = 'secrets@example.com';
    const password = 'my very secret passphrase 7';
    const newPassword = 'another secret passphrase 8';
    await createUser(server.deps, { email, password });
    const config = await discover(server.url, app);

    const agent = new Agent();
    const { tokens } = await signIn(config, agent, email, password, { scope: 'openid email account offline_access' });
    await submitSignIn(agent, await openSignIn(new Agent(), await startAuthorization(config)), email, 'a wrong secret guess 9').catch(() => undefined);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    await oidc.fetchUserInfo(config, refreshed.access_token, tokens.claims()!.sub);
    await oidc.tokenIntrospection(config, refreshed.access_token);

    // A reset by email, and a password change through the API.
    const forgot = await agent.request(`${server.url}/password/forgot`);
    const form = formOn(forgot.body, /\/password\/forgot$/);
    await agent.request(new URL(form.action, server.url).href, { form: { ...form.fields, email } });
    const mail: ParsedMail = await smtp.waitFor((m) => (m.to as { text: string }).text.includes(email));
    const link = smtp.linkIn(mail);
    const resetPage = await agent.request(link);
    const resetForm = formOn(resetPage.body, /\/password\/reset$/);
    await agent.request(new URL(resetForm.action, server.url).href, { form: { ...resetForm.fields, password: newPassword } });
    const second = await signIn(config, new Agent(), email, newPassword, { scope: 'openid account' });
    await fetch(`${server.url}/api/account/password`, {
      method: 'POST',
      headers: { authorization: `Bearer ${second.tokens.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ current_password: newPassword, new_password: 'third secret passphrase 9', sign_out_other_sessions: false }),
    });
    await server.deps.tasks.idle();
    await server.deps.mailer.idle();

    const logged = lines.join('');
    const secrets: Record<string, string> = {
      password, newPassword, 'third password': 'third secret passphrase 9', 'wrong guess': 'a wrong secret guess 9',
      'access token': tokens.access_token, 'refresh token': tokens.refresh_token!, 'rotated refresh token': refreshed.refresh_token!,
      'id token': tokens.id_token!, 'reset token': new URL(link).searchParams.get('token')!,
      'client secret': app.client_secret!,
    };
    // The interaction cookies hold the interaction uid, which is in the page's URL by design
    // (and useless without the signed cookie); every other cookie value is a secret.
    for (const [name, cookie] of agent.cookies) {
      if (cookie.length >= 16 && !/^lk_(interaction|resume)$/.test(name)) secrets[`cookie ${name}`] = cookie;
    }
    for (const [name, secret] of Object.entries(secrets)) {
      expect(logged.includes(secret), `${name} appears in the logs`).to.equal(false);
    }
    expect(lines.length).to.be.greaterThan(20);
  });
});
