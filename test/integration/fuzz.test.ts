// A seeded fuzzer: malformed input to every form and API route, bounded in count
// and time. No answer may be a 5xx, and nothing may be stored.
// Reproduce a run with FUZZ_SEED=<seed printed below>.
import { expect } from 'chai';
import { createUser } from '../../src/accounts/users.ts';
import { useTestServer } from '../helpers/server.ts';
import { Agent, formOn } from '../helpers/agent.ts';
import { discover, openSignIn, publicClient, startAuthorization } from '../helpers/rp.ts';

const ROUNDS = Number(process.env.FUZZ_ROUNDS ?? 25);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

/** mulberry32: small, fast, and the same sequence for the same seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick };
}

const NASTY = ['', ' ', '\u0000', '\uFFFD', '\u202E', '😀', '%00', '%', '&', '=', '[]', '{}', 'null', 'undefined', 'true', '-1', '1e309', 'NaN',
  '$ne', '$gt', '$where', '__proto__', 'constructor', '<script>alert(1)</script>', "' OR 1=1 --", '../../etc/passwd', 'a@b', 'x@example.com'];
const KEYS = ['email', 'password', 'name', 'token', 'interaction', '_csrf', 'grantId', 'locale', 'phoneNumber', 'current_password', 'new_password',
  'sign_out_other_sessions', 'groups', 'address', 'grant_type', 'code', 'client_id', 'logout', 'xsrf', '__proto__', 'constructor'];

function fuzzText(r: ReturnType<typeof prng>): string {
  switch (r.int(5)) {
    case 0: return r.pick(NASTY);
    case 1: return r.pick(NASTY).repeat(1 + r.int(3000));
    case 2: return Array.from({ length: r.int(60) }, () => { const cp = r.int(0x2ffff); return String.fromCodePoint(cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp); }).join('');
    case 3: return `${r.pick(NASTY)}${r.int(1e9)}@example.com`;
    default: return 'x'.repeat(r.int(20_000));
  }
}

/** An urlencoded body with qs syntax for nesting, arrays and operators. */
function fuzzForm(r: ReturnType<typeof prng>, csrf: string | null): string {
  const parts: string[] = [];
  if (csrf && r.next() < 0.7) parts.push(`_csrf=${encodeURIComponent(csrf)}`);
  for (let i = 0, n = r.int(6); i < n; i++) {
    const key = r.pick(KEYS);
    const shape = r.int(6);
    const value = encodeURIComponent(fuzzText(r));
    if (shape === 0) parts.push(`${key}[${r.pick(['$ne', '$gt', '$regex', '0', '', '__proto__'])}]=${value}`);
    else if (shape === 1) parts.push(`${key}[]=${value}&${key}[]=${value}`);
    else if (shape === 2) parts.push(`${key}[a][b][c][d][e][f]=${value}`);
    else if (shape === 3) parts.push(`${key}`);
    else parts.push(`${key}=${value}`);
  }
  return parts.join('&');
}

function fuzzJson(r: ReturnType<typeof prng>, depth = 0): unknown {
  switch (depth > 6 ? r.int(3) : r.int(7)) {
    case 0: return fuzzText(r);
    case 1: return r.pick([0, -1, 1e308, Number.MAX_SAFE_INTEGER, 3.14]);
    case 2: return r.pick([null, true, false]);
    case 3: return Array.from({ length: r.int(4) }, () => fuzzJson(r, depth + 1));
    case 4: return { $ne: null, $gt: '' };
    default: return Object.fromEntries(Array.from({ length: r.int(5) }, () => [r.pick(KEYS), fuzzJson(r, depth + 1)]));
  }
}

describe('fuzzing every form and API route', function () {
  this.timeout(180_000);
  const client = publicClient();
  const { server } = useTestServer({
    clients: [client],
    policy: { throttle: { perIp: { points: 100_000 }, perIpEmail: { points: 100_000 } }, forgotPassword: { perEmailPerHour: 100_000, perIpPerHour: 100_000 } },
  });

  before(async () => {
    await createUser(server.deps, { email: 'x@example.com', password: 'fuzzing stays out 3' });
  });

  async function stored() {
    const db = server.database.connection;
    return { users: await db.collection('users').countDocuments(), links: await db.collection('one_time_links').countDocuments() };
  }

  it(`answers every malformed request without a 5xx and stores nothing (seed ${SEED}, ${ROUNDS} rounds per route)`, async () => {
    console.log(`      fuzz seed ${SEED}`);
    const r = prng(SEED);
    const before = await stored();
    const config = await discover(server.url, client);
    const agent = new Agent();
    const login = await openSignIn(agent, await startAuthorization(config));
    const csrf = formOn(login.body, /\/login$/).fields._csrf!;
    const uid = /\/interaction\/([\w-]+)\/login/.exec(login.body)![1]!;

    const formRoutes = [
      `/interaction/${uid}/login`, `/interaction/${uid}/confirm`, `/interaction/${uid}/change-password`, `/interaction/${uid}/abort`,
      `/interaction/${uid}/terms`, `/interaction/${uid}/restore`,
      '/password/forgot', '/password/reset', '/password/set', '/password/resend', '/signup', '/email/verify',
      '/account/profile', '/account/password', '/account/apps/revoke', '/account/sign-out-everywhere',
      '/account/sessions/end', '/account/sessions/end-others',
      '/email/change', '/email/change/undo', '/account/email', '/account/email/cancel',
      '/account/data', '/account/delete', '/admin/accounts/x/delete',
      '/token', '/token/introspection', '/token/revocation', '/session/end/confirm',
    ];
    const jsonRoutes = ['/api/account/password', '/api/password-resets', '/api/password-resets/confirm', '/api/admin/accounts', '/api/admin/accounts/x/email'];
    const contentTypes = ['application/x-www-form-urlencoded', 'application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded; charset=utf-16', 'garbage/type', ''];
    const failures: string[] = [];

    const send = async (path: string, body: string, type: string, abortAfterUid = false) => {
      const headers: Record<string, string> = { accept: r.pick(['text/html', 'application/json', '*/*']) };
      if (type) headers['content-type'] = type;
      if (r.next() < 0.2) headers.authorization = `Bearer ${fuzzText(r).slice(0, 2000).replace(/[^\x20-\x7e]/g, 'x')}`;
      const page = await agent.request(`${server.url}${path}`, { method: 'POST', body, headers });
      if (page.status >= 500) failures.push(`${page.status} ${path} ${type} ${body.slice(0, 120)}`);
      if (/\bat \S+ \(|node_modules/.test(page.body)) failures.push(`stack trace from ${path}`);
      return abortAfterUid;
    };

    for (let round = 0; round < ROUNDS; round++) {
      for (const path of formRoutes) {
        // Never let the fuzz complete a real abort: keep the interaction for the other routes.
        if (path.endsWith('/abort')) continue;
        await send(path, fuzzForm(r, csrf), r.next() < 0.8 ? contentTypes[0]! : r.pick(contentTypes));
      }
      for (const path of jsonRoutes) {
        const body = r.next() < 0.85 ? JSON.stringify(fuzzJson(r)) : fuzzText(r);
        await send(path, body, r.next() < 0.8 ? 'application/json' : r.pick(contentTypes));
      }
    }
    await server.deps.tasks.idle();
    expect(failures, failures.slice(0, 10).join('\n')).to.deep.equal([]);
    expect(await stored()).to.deep.equal(before);
  });
});
