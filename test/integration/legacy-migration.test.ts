// Moving people in from an old password store at their next sign-in, with a real HTTP
// server standing in for the old system: the account is created (or a pre-registered
// one completed) with an argon2 hash of the password just used, and the old system is
// never asked about that person again; its no, its failures and its slowness all read
// as the usual "wrong password", never hang the sign-in, and leak nothing by answer or
// time; the lockout and the throttles come before it is asked.
import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { normalizeEmail } from '../../src/accounts/email.ts';
import { importUsers } from '../../src/accounts/import.ts';
import { LENIENT_THROTTLES, startTestServer, useTestServer } from '../helpers/server.ts';
import { Agent, formOn } from '../helpers/agent.ts';
import { discover, openSignIn, publicClient, RP_CALLBACK, startAuthorization } from '../helpers/rp.ts';
import { comparePaired, DEFAULT_RULE } from '../helpers/timing.ts';

const SECRET = 'the-legacy-shared-secret-0123456789';
const client = publicClient();

/** The old system: knows some people's passwords; `mode` makes it misbehave. */
interface Legacy {
  url: string;
  asked: Array<{ email: string; authorization: string | undefined }>;
  people: Map<string, { password: string; name?: string }>;
  mode: 'normal' | 'down' | 'slow' | 'error' | 'garbage' | 'other-email' | 'huge';
  close(): Promise<void>;
}

async function startLegacy(): Promise<Legacy> {
  const legacy: Omit<Legacy, 'url' | 'close'> = { asked: [], people: new Map(), mode: 'normal' };
  const read = (request: IncomingMessage) => new Promise<string>((resolve) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => resolve(body));
  });
  const server: Server = createServer(async (request, response) => {
    const { email, password } = JSON.parse(await read(request)) as { email: string; password: string };
    legacy.asked.push({ email, authorization: request.headers.authorization });
    if (request.headers.authorization !== `Bearer ${SECRET}`) return response.writeHead(403).end();
    switch (legacy.mode) {
      case 'down': return request.socket.destroy();
      case 'slow': return setTimeout(() => response.writeHead(200).end(JSON.stringify({ email })), 5_000).unref();
      case 'error': return response.writeHead(500).end('oops');
      case 'garbage': return response.writeHead(200, { 'content-type': 'application/json' }).end('{not json');
      case 'other-email': return response.writeHead(200).end(JSON.stringify({ email: 'someone-else@example.com' }));
      case 'huge': return response.writeHead(200).end(JSON.stringify({ email, name: 'x'.repeat(100_000) }));
    }
    const person = legacy.people.get(normalizeEmail(email));
    if (!person) return response.writeHead(404).end();
    if (person.password !== password) return response.writeHead(401).end();
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ email, name: person.name, email_verified: true, locale: 'de' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/verify`;
  return Object.assign(legacy, { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
}

describe('moving people in from a legacy password store', function () {
  this.timeout(120_000);
  let legacy: Legacy;
  const legacyMigration = { url: '', timeoutMs: 500 };
  // The old system first (this hook runs before the server's), so the server starts pointed at it.
  before(async () => {
    legacy = await startLegacy();
    legacyMigration.url = legacy.url;
  });
  after(async () => legacy.close());

  const { server } = useTestServer({ clients: [client], policy: { ...LENIENT_THROTTLES, legacyMigration } as never, env: { LEGACY_MIGRATION_SECRET: SECRET } });

  async function signIn(email: string, password: string, agent = new Agent()) {
    const page = await openSignIn(agent, await startAuthorization(await discover(server.url, client)));
    const form = formOn(page.body, /\/login$/);
    const started = performance.now();
    const answer = await agent.follow(new URL(form.action, page.url).href, { form: { ...form.fields, email, password } }, RP_CALLBACK);
    return { answer, elapsed: performance.now() - started };
  }

  const account = (email: string) => server.deps.users.findOne({ emailNormalized: normalizeEmail(email) }).lean();

  it('creates the account from the old system\'s yes, with an argon2 hash of the password; later sign-ins never ask it again', async () => {
    legacy.people.set('mover@example.com', { password: 'an old password 1', name: 'Mo Ver' });
    legacy.asked.length = 0;
    const { answer } = await signIn('Mover@example.com', 'an old password 1');
    expect(answer.url.startsWith(RP_CALLBACK), answer.body.slice(0, 200)).to.equal(true);
    expect(legacy.asked).to.have.length(1);
    expect(legacy.asked[0]!.authorization).to.equal(`Bearer ${SECRET}`);
    const stored = await account('mover@example.com');
    expect(stored!.passwordHash).to.match(/^\$argon2id\$/);
    expect(stored).to.include({ name: 'Mo Ver', emailVerified: true, locale: 'de', status: 'active' });

    legacy.mode = 'down';
    try {
      const again = await signIn('mover@example.com', 'an old password 1');
      expect(again.answer.url.startsWith(RP_CALLBACK), 'signed in with the stored hash').to.equal(true);
      expect(legacy.asked, 'not asked again').to.have.length(1);
    } finally {
      legacy.mode = 'normal';
    }
  });

  it('answers the old system\'s no like any wrong password, and stores nothing', async () => {
    legacy.people.set('known@example.com', { password: 'the right one 22' });
    const wrong = await signIn('known@example.com', 'not the right one');
    const unknown = await signIn('nobody-anywhere@example.com', 'not the right one');
    expect(wrong.answer.status).to.equal(401);
    expect(unknown.answer.status).to.equal(401);
    // The same page apart from what differs per request (CSRF token, nonce, the sign-in's id) and the address typed.
    const text = (body: string) => body.replace(/name="_csrf" value="[^"]+"|nonce="[^"]+"|interaction[/=][\w-]+|value="[^"]*@example.com"/g, '');
    expect(text(wrong.answer.body)).to.equal(text(unknown.answer.body));
    expect(await account('known@example.com')).to.equal(null);
    expect(await account('nobody-anywhere@example.com')).to.equal(null);
  });

  for (const mode of ['down', 'slow', 'error', 'garbage', 'other-email', 'huge'] as const) {
    it(`a source that is ${mode}: "wrong password" within its time limit, nothing stored`, async () => {
      legacy.people.set(`${mode}@example.com`, { password: 'the right one 33' });
      legacy.mode = mode;
      try {
        const { answer, elapsed } = await signIn(`${mode}@example.com`, 'the right one 33');
        expect(answer.status).to.equal(401);
        expect(answer.body).to.contain('Email or password is incorrect');
        // The limit is 500 ms; the bound only shows the sign-in did not wait for the 5 s source.
        expect(elapsed, 'not hung on the source').to.be.lessThan(4_500);
        expect(await account(`${mode}@example.com`)).to.equal(null);
      } finally {
        legacy.mode = 'normal';
      }
    });
  }

  it('completes a pre-registered account whose password the old system holds, only while it holds it', async () => {
    await server.deps.users.create({ email: 'prereg@example.com', emailNormalized: 'prereg@example.com', status: 'invited', passwordHeldByLegacy: true, searchTerms: [] });
    legacy.people.set('prereg@example.com', { password: 'held elsewhere 44' });
    const { answer } = await signIn('prereg@example.com', 'held elsewhere 44');
    expect(answer.url.startsWith(RP_CALLBACK)).to.equal(true);
    const stored = await account('prereg@example.com');
    expect(stored).to.include({ status: 'active', passwordHeldByLegacy: false });
    expect(stored!.passwordHash).to.match(/^\$argon2id\$/);
  });

  it('moves in people imported from a CSV with --legacy-passwords: no invitation, their first sign-in asks the old system', async () => {
    const report = await importUsers(server.deps, Readable.from('email,name\nimported-legacy@example.com,Imo\n'), { legacyPasswords: true });
    expect(report.created).to.equal(1);
    expect(await account('imported-legacy@example.com')).to.include({ status: 'invited', passwordHeldByLegacy: true, passwordHash: null });
    legacy.people.set('imported-legacy@example.com', { password: 'kept by the old system 88' });
    const { answer } = await signIn('imported-legacy@example.com', 'kept by the old system 88');
    expect(answer.url.startsWith(RP_CALLBACK)).to.equal(true);
    expect(await account('imported-legacy@example.com')).to.include({ status: 'active', passwordHeldByLegacy: false, name: 'Imo' });
  });

  it('asks nothing once the address is locked out (the per-address throttles come earlier still, on the page)', async () => {
    legacy.people.set('locked-out@example.com', { password: 'the right one 55' });
    for (let i = 0; i < server.deps.config.policy.lockout.maxFailures; i++) await signIn('locked-out@example.com', `wrong ${i}`);
    legacy.asked.length = 0;
    const { answer } = await signIn('locked-out@example.com', 'the right one 55');
    expect(answer.status).to.equal(401);
    expect(legacy.asked, 'the lockout comes first').to.have.length(0);
    expect(await account('locked-out@example.com')).to.equal(null);
  });

  it('two first sign-ins at once make one account, and both get in', async () => {
    legacy.people.set('twice@example.com', { password: 'at the same time 66' });
    const [a, b] = await Promise.all([signIn('twice@example.com', 'at the same time 66'), signIn('twice@example.com', 'at the same time 66')]);
    expect(a.answer.url.startsWith(RP_CALLBACK)).to.equal(true);
    expect(b.answer.url.startsWith(RP_CALLBACK)).to.equal(true);
    expect(await server.deps.users.countDocuments({ emailNormalized: 'twice@example.com' })).to.equal(1);
  });

  it('takes the same time whether the old system knows the address (wrong password) or not', async () => {
    let n = 0;
    for (let i = 0; i < 200; i++) legacy.people.set(`timing-known-${i}@example.com`, { password: 'their real password' });
    const result = await comparePaired(async (side) => {
      const email = side === 'a' ? `timing-known-${n++ % 200}@example.com` : `timing-unknown-${n++}@example.com`;
      const { answer, elapsed } = await signIn(email, 'a wrong password 77');
      expect(answer.status).to.equal(401);
      return elapsed;
    }, { ...DEFAULT_RULE, bound: 0.1, start: 30, max: 120 });
    console.log(`      legacy source (a: knows the address, b: does not): ${result.summary}`);
    expect(result.fails, result.summary).to.equal(false);
  });
});

describe('legacy migration settings', () => {
  it('refuses a source over plain http elsewhere than this machine, or without the secret', async () => {
    for (const [policy, env, message] of [
      [{ url: 'http://legacy.example/verify' }, { LEGACY_MIGRATION_SECRET: SECRET }, /use https/],
      [{ url: 'https://legacy.example/verify' }, {}, /set LEGACY_MIGRATION_SECRET/],
    ] as const) {
      const error = await startTestServer({ policy: { legacyMigration: policy } as never, env }).then(
        async (started) => { await started.stop(); await started.database.drop(); return null; },
        (caught: Error) => caught,
      );
      expect(String(error?.message), JSON.stringify(policy)).to.match(message);
    }
  });
});
