// Failure counting, lockout, device cookies and throttles, through the real
// sign-in page and the real database.
import { expect } from 'chai';
import { createUser, unlockUser } from '../../src/accounts/users.ts';
import { accountSubject } from '../../src/accounts/lockout.ts';
import { authenticate } from '../../src/accounts/signin.ts';
import { LENIENT_THROTTLES, startTestServer, useTestServer, withTestServer, type TestServer } from '../helpers/server.ts';
import { Agent } from '../helpers/agent.ts';
import { discover, openSignIn, publicClient, RP_CALLBACK, startAuthorization, submitSignIn } from '../helpers/rp.ts';

const client = publicClient();
const email = 'grace@example.com';
const password = 'a long and correct password';
const FAILED = 'Email or password is incorrect';

type Server = TestServer;

/** One attempt through the page; returns the status and whether it reached the app. */
async function attempt(server: Server, agent: Agent, tryEmail: string, tryPassword: string) {
  const config = await discover(server.url, client);
  const page = await openSignIn(agent, await startAuthorization(config));
  const after = await submitSignIn(agent, page, tryEmail, tryPassword);
  return { status: after.status, signedIn: after.url.startsWith(RP_CALLBACK), body: after.body, headers: after.headers };
}

describe('lockout and throttling', () => {
  describe('with the default policy', () => {
    // Generous throttles, so these tests see the lockout rather than the rate limit.
    const { server } = useTestServer({ clients: [client], policy: LENIENT_THROTTLES });
    let userId: string;

    before(async () => {
      userId = (await createUser(server.deps, { email, password }))._id;
    });
    afterEach(async () => {
      await server.deps.lockout.clearUser(userId);
    });

    it('locks after 5 wrong passwords: then even the right one fails, with the same message', async () => {
      const agent = new Agent();
      for (let i = 0; i < 5; i++) {
        const result = await attempt(server, agent, email, 'wrong password!');
        expect(result.status).to.equal(401);
        expect(result.body).to.contain(FAILED);
      }
      const locked = await attempt(server, new Agent(), email, password);
      expect(locked.signedIn).to.equal(false);
      expect(locked.status).to.equal(401);
      expect(locked.body).to.contain(FAILED);

      const state = await server.deps.lockout.state(accountSubject(userId));
      expect(state!.lockedUntil!.getTime()).to.be.greaterThan(Date.now() + 14 * 60_000);
      expect(state!.lockCount).to.equal(1);
    });

    it('answers an unknown email exactly as a locked account and a wrong password', async () => {
      const unknown = await attempt(server, new Agent(), 'nobody@example.com', 'wrong password!');
      const wrong = await attempt(server, new Agent(), email, 'wrong password!');
      expect(unknown.status).to.equal(wrong.status);
      const message = (body: string) => /<p class="error banner"[^>]*>([^<]*)</.exec(body)?.[1];
      expect(message(unknown.body)).to.equal(message(wrong.body)).and.to.contain(FAILED);
    });

    it('unlock restores sign-in', async () => {
      for (let i = 0; i < 5; i++) await attempt(server, new Agent(), email, 'wrong password!');
      expect((await attempt(server, new Agent(), email, password)).signedIn).to.equal(false);
      await unlockUser(server.deps, email);
      expect((await attempt(server, new Agent(), email, password)).signedIn).to.equal(true);
    });

    it('a success resets the counter', async () => {
      for (let i = 0; i < 4; i++) await attempt(server, new Agent(), email, 'wrong password!');
      expect((await attempt(server, new Agent(), email, password)).signedIn).to.equal(true);
      for (let i = 0; i < 4; i++) await attempt(server, new Agent(), email, 'wrong password!');
      expect((await attempt(server, new Agent(), email, password)).signedIn).to.equal(true);
    });

    it('a browser that signed in before keeps its own budget while the account is flooded', async () => {
      const owner = new Agent();
      expect((await attempt(server, owner, email, password)).signedIn).to.equal(true);
      // A fresh session for the owner: sign out by forgetting the provider cookies, keep the device cookie.
      for (const name of [...owner.cookies.keys()]) if (!name.startsWith('lk_device')) owner.cookies.delete(name);
      for (let i = 0; i < 12; i++) await attempt(server, new Agent(), email, 'attacker guess');
      expect((await attempt(server, new Agent(), email, password)).signedIn, 'a new browser is locked out').to.equal(false);
      expect((await attempt(server, owner, email, password)).signedIn, 'the owner is not').to.equal(true);
    });

    it("a device cookie for another account does not help", async () => {
      const other = 'other@example.com';
      await createUser(server.deps, { email: other, password });
      const agent = new Agent();
      expect((await attempt(server, agent, other, password)).signedIn).to.equal(true);
      for (const name of [...agent.cookies.keys()]) if (!name.startsWith('lk_device')) agent.cookies.delete(name);
      for (let i = 0; i < 5; i++) await attempt(server, new Agent(), email, 'attacker guess');
      expect((await attempt(server, agent, email, password)).signedIn).to.equal(false);
    });

    it('a forged device cookie is ignored', async () => {
      for (let i = 0; i < 5; i++) await attempt(server, new Agent(), email, 'attacker guess');
      const forger = new Agent();
      forger.cookies.set('lk_device', `${userId}.forged-device`);
      forger.cookies.set('lk_device.sig', 'not-a-signature');
      expect((await attempt(server, forger, email, password)).signedIn).to.equal(false);
    });
  });

  it('counts 50 concurrent wrong attempts, and exactly one of them starts the lock', async () => {
    await withTestServer({ policy: { lockout: { maxFailures: 5 } } }, async (server) => {
      const user = await createUser(server.deps, { email, password });
      await Promise.all(Array.from({ length: 50 }, () => authenticate(server.deps.signInDeps, { email, password: 'wrong password!' })));
      const state = await server.deps.lockout.state(accountSubject(user._id));
      expect(state!.totalFailures).to.equal(50);
      expect(state!.lockCount).to.equal(1);
      expect(state!.lockedUntil!.getTime()).to.be.greaterThan(Date.now());
    });
  });

  it('counts 50 concurrent wrong attempts through the page', async () => {
    await withTestServer({ clients: [client], policy: { ...LENIENT_THROTTLES, lockout: { maxFailures: 100 } } }, async (server) => {
      const user = await createUser(server.deps, { email, password });
      const config = await discover(server.url, client);
      const pages = await Promise.all(Array.from({ length: 50 }, async () => {
        const agent = new Agent();
        return { agent, page: await openSignIn(agent, await startAuthorization(config)) };
      }));
      const results = await Promise.all(pages.map(({ agent, page }) => submitSignIn(agent, page, email, 'wrong password!')));
      expect(results.every((r) => r.status === 401)).to.equal(true);
      const state = await server.deps.lockout.state(accountSubject(user._id));
      expect(state!.failures).to.equal(50);
      expect(state!.totalFailures).to.equal(50);
    });
  });

  it('a lock survives a server restart', async () => {
    const first = await startTestServer({ clients: [client] });
    const dataDir = first.deps.config.dataDir;
    await createUser(first.deps, { email, password });
    for (let i = 0; i < 5; i++) await attempt(first, new Agent(), email, 'wrong password!');
    await first.stop();

    const second = await startTestServer({ clients: [client], database: first.database, env: { DATA_DIR: dataDir } });
    try {
      expect((await attempt(second, new Agent(), email, password)).signedIn).to.equal(false);
      await unlockUser(second.deps, email);
      expect((await attempt(second, new Agent(), email, password)).signedIn).to.equal(true);
    } finally {
      await second.stop();
      await second.database.drop();
    }
  });

  it('throttles per IP and email with 429 and Retry-After, for unknown emails too', async () => {
    await withTestServer({ clients: [client], policy: { throttle: { perIpEmail: { points: 3, durationSeconds: 600 } }, lockout: { maxFailures: 100 } } }, async (server) => {
      await createUser(server.deps, { email, password });
      for (const target of [email, 'ghost@example.com']) {
        for (let i = 0; i < 3; i++) expect((await attempt(server, new Agent(), target, 'wrong password!')).status).to.equal(401);
        const limited = await attempt(server, new Agent(), target, 'wrong password!');
        expect(limited.status).to.equal(429);
        expect(Number(limited.headers.get('retry-after'))).to.be.within(1, 600);
        expect(limited.body).to.contain('Too many sign-in attempts');
      }
      // The owner's unlock clears the per-email throttles of that account.
      await unlockUser(server.deps, email);
      expect((await attempt(server, new Agent(), email, password)).signedIn).to.equal(true);
    });
  });

  it('throttles per IP across emails', async () => {
    await withTestServer({ clients: [client], policy: { throttle: { perIp: { points: 4, durationSeconds: 600 } } } }, async (server) => {
      for (let i = 0; i < 4; i++) expect((await attempt(server, new Agent(), `user${i}@example.com`, 'wrong password!')).status).to.equal(401);
      expect((await attempt(server, new Agent(), 'user9@example.com', 'wrong password!')).status).to.equal(429);
    });
  });
});
