// Shared state across instances, proven: three instances on one database behind a
// round-robin proxy (no sticky sessions), each request landing on the next instance.
// What one instance does, every other one sees at once: nothing that decides is kept
// in an instance's memory.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { createUser } from '../../src/accounts/users.ts';
import { accountSubject } from '../../src/accounts/lockout.ts';
import { forceSignIn } from '../../src/accounts/admin.ts';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { LENIENT_THROTTLES } from '../helpers/server.ts';
import { startSmtp, type TestSmtp, type ParsedMail } from '../helpers/smtp.ts';
import { Agent, formOn } from '../helpers/agent.ts';
import { confidentialClient, discover, openSignIn, RP_CALLBACK, signIn, startAuthorization, submitSignIn } from '../helpers/rp.ts';

const web = confidentialClient();
const basic = `Basic ${Buffer.from(`${encodeURIComponent(web.client_id)}:${encodeURIComponent(web.client_secret!)}`).toString('base64')}`;

describe('three instances behind a round-robin proxy', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  let smtp: TestSmtp;
  let config: oidc.Configuration;
  let people = 0;

  /** A new account, so tests do not share counters or sessions. */
  async function newPerson(label: string) {
    const email = `${label}-${++people}@example.com`;
    const password = `the correct ${label} passphrase ${people}`;
    const user = await createUser(cluster.instances[people % 3]!.deps, { email, password });
    return { email, password, userId: user._id };
  }

  /** The instances themselves, bypassing the proxy: to ask each one directly. */
  const instanceUrls = () => cluster.proxy.targets;
  const at = (base: string, endpoint: string | undefined) => {
    const url = new URL(endpoint!);
    return new URL(url.pathname + url.search, base).href;
  };

  /** Whether `agent`'s browser session is signed in, as the instance at `base` sees it (prompt=none). */
  async function signedInAt(base: string, agent: Agent): Promise<boolean> {
    const authorization = await startAuthorization(config, { prompt: 'none' });
    const page = await agent.follow(at(base, authorization.url.href), {}, RP_CALLBACK);
    const back = new URL(page.url);
    if (back.searchParams.has('code')) return true;
    if (back.searchParams.get('error') === 'login_required') return false;
    throw new Error(`unexpected answer to prompt=none from ${base}: ${page.status} ${page.url}`);
  }

  async function refreshWorksAt(base: string, refreshToken: string): Promise<boolean> {
    const response = await fetch(at(base, config.serverMetadata().token_endpoint), {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    });
    await response.arrayBuffer();
    return response.status === 200;
  }

  async function userinfoWorksAt(base: string, accessToken: string): Promise<boolean> {
    const response = await fetch(at(base, config.serverMetadata().userinfo_endpoint), { headers: { authorization: `Bearer ${accessToken}` } });
    await response.arrayBuffer();
    return response.status === 200;
  }

  before(async () => {
    smtp = await startSmtp();
    cluster = await startCluster(3, {
      clients: [web],
      env: { SMTP_URL: smtp.url },
      // Throttles generous, except where a test measures them with its own emails.
      policy: LENIENT_THROTTLES,
    });
    config = await discover(cluster.url, web);
  });
  after(async () => {
    await cluster?.stop();
    await smtp?.close();
  });

  it('completes one code flow whose requests each land on a different instance', async () => {
    const { email, password } = await newPerson('flow');
    const before = cluster.proxy.forwarded.length;
    const { tokens } = await signIn(config, new Agent(), email, password);
    expect(tokens.claims()!.iss).to.equal(cluster.url);
    const hops = cluster.proxy.forwarded.slice(before);
    expect(new Set(hops).size, 'instances used').to.equal(3);
    for (let i = 1; i < hops.length; i++) expect(hops[i], 'consecutive requests on different instances').to.not.equal(hops[i - 1]);
    // The tokens work on every instance.
    for (const base of instanceUrls()) expect(await userinfoWorksAt(base, tokens.access_token), base).to.equal(true);
  });

  it('counts 50 concurrent wrong passwords spread over the instances exactly, and starts exactly one lock', async () => {
    const { email, password, userId } = await newPerson('lock');
    // Each attempt opens its own sign-in first (a page per attempt), then all 50 are posted at once.
    const pages = await Promise.all(Array.from({ length: 50 }, async () => {
      const agent = new Agent();
      return { agent, page: await openSignIn(agent, await startAuthorization(config)) };
    }));
    const before = cluster.proxy.forwarded.length;
    const results = await Promise.all(pages.map(({ agent, page }) => submitSignIn(agent, page, email, 'a wrong password!')));
    expect(new Set(cluster.proxy.forwarded.slice(before)).size, 'instances that took the posts').to.equal(3);
    expect(results.map((r) => r.status)).to.deep.equal(Array(50).fill(401));

    const state = await cluster.database.connection.collection('lockouts').findOne({ _id: accountSubject(userId) as never });
    expect(state, 'counter').to.not.equal(null);
    expect(state!.totalFailures, 'every failure counted once').to.equal(50);
    expect(state!.lockCount, 'locks started').to.equal(1);
    const audit = cluster.instances[0]!.deps.audit;
    expect(await audit.list({ userId, events: ['signin.failed'] })).to.have.length(50);
    expect(await audit.list({ userId, events: ['account.locked'] })).to.have.length(1);
    // Locked on every instance: the right password fails wherever it lands.
    for (let i = 0; i < 3; i++) {
      const agent = new Agent();
      const after = await submitSignIn(agent, await openSignIn(agent, await startAuthorization(config)), email, password);
      expect(after.url.startsWith(RP_CALLBACK), 'signed in while locked').to.equal(false);
    }
  });

  it('shares the throttles: a per-IP-and-email budget is spent once across the instances', async () => {
    const limited = await startCluster(3, {
      clients: [web],
      policy: { throttle: { perIp: { points: 10_000 }, perIpEmail: { points: 6, durationSeconds: 600 } }, lockout: { maxFailures: 100 } },
    });
    try {
      const limitedConfig = await discover(limited.url, web);
      const pages = [];
      for (let i = 0; i < 9; i++) {
        const agent = new Agent();
        pages.push({ agent, page: await openSignIn(agent, await startAuthorization(limitedConfig)) });
      }
      const before = limited.proxy.forwarded.length;
      const statuses: number[] = [];
      for (const { agent, page } of pages) statuses.push((await submitSignIn(agent, page, 'throttled@example.com', 'a wrong password!')).status);
      expect(new Set(limited.proxy.forwarded.slice(before)).size).to.equal(3);
      // Six allowed in all (two per instance if each kept its own budget would allow 18).
      expect(statuses).to.deep.equal([401, 401, 401, 401, 401, 401, 429, 429, 429]);
    } finally {
      await limited.stop();
    }
  });

  it('a sign-out through one instance ends the session on every instance at once', async () => {
    const { email, password } = await newPerson('signout');
    const agent = new Agent();
    const { tokens } = await signIn(config, agent, email, password);
    for (const base of instanceUrls()) expect(await signedInAt(base, agent), `signed in at ${base}`).to.equal(true);

    const logoutUrl = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://127.0.0.1:9/signed-out' });
    const confirm = await agent.follow(logoutUrl.href);
    const form = formOn(confirm.body, /\/session\/end\/confirm$/);
    await agent.follow(new URL(form.action, confirm.url).href, { form: { ...form.fields, logout: 'yes' } }, 'http://127.0.0.1:9/signed-out');

    for (const base of instanceUrls()) expect(await signedInAt(base, agent), `still signed in at ${base}`).to.equal(false);
  });

  it('a token revoked through one instance fails on every instance at once', async () => {
    const { email, password } = await newPerson('revoke');
    const { tokens } = await signIn(config, new Agent(), email, password);
    await oidc.tokenRevocation(config, tokens.access_token);
    await oidc.tokenRevocation(config, tokens.refresh_token!);
    for (const base of instanceUrls()) {
      expect(await userinfoWorksAt(base, tokens.access_token), `access token at ${base}`).to.equal(false);
      expect(await refreshWorksAt(base, tokens.refresh_token!), `refresh token at ${base}`).to.equal(false);
    }
  });

  it('a forced sign-in done on one instance ends sessions and tokens on every instance at once', async () => {
    const { email, password, userId } = await newPerson('force');
    const agent = new Agent();
    const fresh = await signIn(config, agent, email, password);
    for (const base of instanceUrls()) expect(await signedInAt(base, agent), `signed in at ${base}`).to.equal(true);

    await forceSignIn(cluster.instances[1]!.deps, userId, { actor: 'admin' });
    for (const base of instanceUrls()) {
      expect(await signedInAt(base, agent), `session at ${base}`).to.equal(false);
      expect(await userinfoWorksAt(base, fresh.tokens.access_token), `access token at ${base}`).to.equal(false);
      expect(await refreshWorksAt(base, fresh.tokens.refresh_token!), `refresh token at ${base}`).to.equal(false);
    }
  });

  it('a reset link confirmed concurrently through different instances succeeds exactly once', async () => {
    const { email } = await newPerson('reset');
    const response = await fetch(`${cluster.url}/api/password-resets`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }),
    });
    expect(response.status).to.equal(202);
    const mail = await smtp.waitFor((m: ParsedMail) => (m.to as { text: string }).text.includes(email) && /reset/i.test(m.subject ?? ''));
    const token = new URL(smtp.linkIn(mail)).searchParams.get('token')!;

    const before = cluster.proxy.forwarded.length;
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => fetch(`${cluster.url}/api/password-resets/confirm`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, password: `a brand new passphrase number ${i}` }),
    }).then(async (r) => ({ status: r.status, body: await r.text() }))));
    expect(new Set(cluster.proxy.forwarded.slice(before)).size).to.equal(3);
    const succeeded = answers.filter((a) => a.status === 204);
    expect(succeeded, 'successes').to.have.length(1);
    for (const other of answers.filter((a) => a.status !== 204)) expect(other.status, other.body).to.be.oneOf([404, 410]);
  });
});
