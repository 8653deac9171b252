// Enumeration by timing: sign-in and forgot-password take the same time for an
// email with an account and one without. Medians over many interleaved tries,
// so drift on a busy machine affects both sides alike.
import { expect } from 'chai';
import { createUser } from '../../src/accounts/users.ts';
import { startTestServer } from '../helpers/server.ts';
import { Agent, formOn } from '../helpers/agent.ts';
import { discover, openSignIn, publicClient, startAuthorization } from '../helpers/rp.ts';

const TRIES = 40;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const relativeDifference = (a: number, b: number) => Math.abs(a - b) / Math.max(a, b);
/**
 * The side of try i, in the pattern existing, unknown, unknown, existing, ...: each side
 * follows each side equally often, so what a try leaves behind (its background mail,
 * the database catching up on its writes, garbage) slows both sides alike, instead of
 * always landing on the same one as in a strict alternation.
 */
const sideOf = (i: number) => ([0, 3].includes(i % 4) ? 'existing' : 'unknown');

describe('enumeration by timing', function () {
  this.timeout(120_000);
  const client = publicClient();
  let server: Awaited<ReturnType<typeof startTestServer>>;

  before(async () => {
    server = await startTestServer({
      clients: [client],
      policy: { throttle: { perIp: { points: 100_000 }, perIpEmail: { points: 100_000 } }, forgotPassword: { perEmailPerHour: 100_000, perIpPerHour: 100_000 } },
    });
    // Each email is tried once, as an attacker probing a list would: fresh accounts on one side,
    // fresh unknown addresses on the other.
    for (let i = 0; i < TRIES; i++) await createUser(server.deps, { email: `exists-${i}@example.com`, password: 'the real password 42' });
  });
  after(async () => {
    await server.stop();
    await server.database.drop();
  });

  async function timePost(url: string, form: Record<string, string>, agent: Agent): Promise<number> {
    const started = performance.now();
    const page = await agent.request(url, { form });
    const elapsed = performance.now() - started;
    expect(page.status).to.be.oneOf([200, 401]);
    // Background work (mail) finishes before the next try, so tries do not overlap.
    await server.deps.tasks.idle();
    await server.deps.mailer.idle();
    return elapsed;
  }

  it('sign-in: an existing and an unknown email take the same time (medians within 10%)', async () => {
    const config = await discover(server.url, client);
    const times = { existing: [] as number[], unknown: [] as number[] };
    for (let i = 0; i < TRIES * 2; i++) {
      const side = sideOf(i);
      const agent = new Agent();
      const page = await openSignIn(agent, await startAuthorization(config));
      const form = formOn(page.body, /\/login$/);
      const email = side === 'existing' ? `exists-${i >> 1}@example.com` : `nobody-${i >> 1}@example.com`;
      times[side].push(await timePost(new URL(form.action, page.url).href, { ...form.fields, email, password: `wrong password ${i}` }, agent));
    }
    const [a, b] = [median(times.existing), median(times.unknown)];
    console.log(`      sign-in medians: existing ${a.toFixed(1)} ms, unknown ${b.toFixed(1)} ms`);
    expect(relativeDifference(a, b)).to.be.below(0.1);
  });

  it('forgot password: an existing and an unknown email take the same time (medians within 10%)', async () => {
    const agent = new Agent();
    const page = await agent.request(`${server.url}/password/forgot`);
    const form = formOn(page.body, /\/password\/forgot$/);
    const url = new URL(form.action, page.url).href;
    const times = { existing: [] as number[], unknown: [] as number[] };
    for (let i = 0; i < TRIES * 2; i++) {
      const side = sideOf(i);
      const email = side === 'existing' ? `exists-${i >> 1}@example.com` : `nobody-${i >> 1}@example.com`;
      times[side].push(await timePost(url, { ...form.fields, email }, agent));
    }
    const [a, b] = [median(times.existing), median(times.unknown)];
    console.log(`      forgot medians: existing ${a.toFixed(1)} ms, unknown ${b.toFixed(1)} ms`);
    expect(relativeDifference(a, b)).to.be.below(0.1);
  });
});
