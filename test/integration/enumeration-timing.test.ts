// Enumeration by timing: every form that takes an email address answers in the same
// time whether or not the address has an account (sign-in with a wrong password,
// sign-in to a locked account, forgot password, sign-up). Each address is tried once,
// as an attacker probing a list would. The rule (test/helpers/timing.ts): pairs taken
// back to back in ABBA order, the median of their time ratios and its 99.9% sign-test
// interval; the test fails only when that interval lies wholly beyond ±5%, taking more
// pairs while it straddles a bound. Background work is not waited for between tries:
// what it does after an answer lands on later requests of both sides alike, as it
// would for an attacker.
import { expect } from 'chai';
import { normalizeEmail } from '../../src/accounts/email.ts';
import { accountSubject } from '../../src/accounts/lockout.ts';
import { searchTermsFor } from '../../src/accounts/users.ts';
import { useTestServer } from '../helpers/server.ts';
import { Agent, formOn } from '../helpers/agent.ts';
import { discover, openSignIn, publicClient, startAuthorization } from '../helpers/rp.ts';
import { comparePaired, DEFAULT_RULE, type SequentialOptions } from '../helpers/timing.ts';

/** Cheap answers (a few ms) are noisier for their length and get more pairs; sign-up pairs cost the most. */
const RULES = {
  signIn: DEFAULT_RULE,
  forgot: { ...DEFAULT_RULE, start: 60, max: 480 },
  signUp: { ...DEFAULT_RULE, start: 30, max: 120 },
} satisfies Record<string, SequentialOptions>;

describe('enumeration by timing', function () {
  this.timeout(240_000);
  const client = publicClient();
  const run = Date.now().toString(36);
  // Throttles raised so they decide nothing; every address is used once anyway.
  const { server } = useTestServer({
    clients: [client],
    policy: { throttle: { perIp: { points: 1_000_000 }, perIpEmail: { points: 1_000_000 } }, forgotPassword: { perEmailPerHour: 1_000_000, perIpPerHour: 1_000_000 } },
  });

  const existing = (kind: string, i: number) => `${kind}-${i}@example.com`;
  const unknown = (kind: string, i: number) => `${kind}-nobody-${run}-${i}@example.com`;

  /** Accounts with one password hash made by the server's hasher, inserted at once (argon2 per account would take minutes). */
  async function insertAccounts(kind: string, count: number, passwordHash: string): Promise<string[]> {
    const docs = Array.from({ length: count }, (_, i) => {
      const email = existing(kind, i);
      return { email, emailNormalized: normalizeEmail(email), name: 'Timing Person', passwordHash, searchTerms: searchTermsFor(email, 'Timing Person') };
    });
    const inserted = await server.deps.users.insertMany(docs);
    return inserted.map((user) => String(user._id));
  }

  before(async () => {
    const passwordHash = await server.deps.hasher.hash('the real password 42');
    await insertAccounts('signin', RULES.signIn.max, passwordHash);
    await insertAccounts('forgot', RULES.forgot.max, passwordHash);
    await insertAccounts('signup', RULES.signUp.max, passwordHash);
    // Locked as the lockout locks them (one failure with a limit of one).
    for (const id of await insertAccounts('locked', RULES.signIn.max, passwordHash)) {
      await server.deps.lockout.recordFailure(accountSubject(id), { userId: id, maxFailures: 1 });
    }
  });
  afterEach(async () => {
    await server.deps.tasks.idle();
    await server.deps.mailer.idle();
  });

  /** A form's POST, timed from the request to the last byte of the answer. */
  async function timePost(agent: Agent, url: string, form: Record<string, string>, statuses: number[]): Promise<number> {
    const started = performance.now();
    const page = await agent.request(url, { form });
    const elapsed = performance.now() - started;
    expect(page.status, page.body.slice(0, 500)).to.be.oneOf(statuses);
    return elapsed;
  }

  async function compare(label: string, rule: SequentialOptions, post: (email: string) => Promise<number>, kind: string): Promise<void> {
    const result = await comparePaired((side, i) => post(side === 'a' ? existing(kind, i) : unknown(kind, i)), rule);
    console.log(`      ${label} (a: has an account, b: none): ${result.summary}`);
    expect(result.fails, `${label}: ${result.summary}`).to.equal(false);
  }

  /** One sign-in page serves every try: a failed sign-in leaves the interaction at its login prompt. */
  async function signInForm(): Promise<{ agent: Agent; url: string; fields: Record<string, string> }> {
    const agent = new Agent();
    const page = await openSignIn(agent, await startAuthorization(await discover(server.url, client)));
    const form = formOn(page.body, /\/login$/);
    return { agent, url: new URL(form.action, page.url).href, fields: form.fields };
  }

  it('sign-in with a wrong password: an account and an unknown address take the same time', async () => {
    const { agent, url, fields } = await signInForm();
    await compare('sign-in, wrong password', RULES.signIn, (email) => timePost(agent, url, { ...fields, email, password: 'not the password 42' }, [401]), 'signin');
  });

  it('sign-in to a locked account takes the time of an unknown address', async () => {
    const { agent, url, fields } = await signInForm();
    await compare('sign-in, locked account', RULES.signIn, (email) => timePost(agent, url, { ...fields, email, password: 'not the password 42' }, [401]), 'locked');
  });

  it('forgot password: an account and an unknown address take the same time', async () => {
    const agent = new Agent();
    const page = await agent.request(`${server.url}/password/forgot`);
    const form = formOn(page.body, /\/password\/forgot$/);
    const url = new URL(form.action, page.url).href;
    await compare('forgot password', RULES.forgot, (email) => timePost(agent, url, { ...form.fields, email }, [200]), 'forgot');
  });

  it('sign-up: an address that has an account takes the time of a new one', async () => {
    const agent = new Agent();
    const page = await agent.request(`${server.url}/signup`);
    const form = formOn(page.body, /\/signup$/);
    const url = new URL(form.action, page.url).href;
    await compare('sign-up', RULES.signUp, (email) => timePost(agent, url, { ...form.fields, email, name: 'Timing Person', password: 'signing up properly 12 zebra' }, [200]), 'signup');
    // Both kinds were answered alike and did what they should: new addresses have accounts now.
    expect(await server.deps.users.countDocuments({ emailNormalized: unknown('signup', 0) })).to.equal(1);
  });
});
