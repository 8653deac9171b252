// The JSON password APIs for apps with their own UI, end to end: real server,
// database and SMTP server, access tokens obtained by openid-client through the
// real sign-in pages.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { ParsedMail } from 'mailparser';
import type { z } from 'zod';
import { createUser } from '../../src/accounts/users.ts';
import { authenticate } from '../../src/accounts/signin.ts';
import { linkModel } from '../../src/db/models/link.ts';
import { PROBLEM_CODES } from '../../src/web/api/problem.ts';
import { REQUEST_SCHEMAS } from '../../src/web/api/schemas.ts';
import { callApi, codesOf, expectProblem as expectProblemOf, fieldsOf, type Answer, type CallInit } from '../helpers/api.ts';
import { useTestServer } from '../helpers/server.ts';
import { Agent } from '../helpers/agent.ts';
import { confidentialClient, discover, openSignIn, publicClient, RP_CALLBACK, signIn, startAuthorization } from '../helpers/rp.ts';

const app = publicClient();
const otherApp = confidentialClient();


describe('password API', () => {
  const { server, smtp } = useTestServer({ clients: [app, otherApp], smtp: true, policy: { forgotPassword: { perIpPerHour: 10_000 } } });
  let appConfig: oidc.Configuration;
  let otherConfig: oidc.Configuration;
  let counter = 0;
  const uniqueEmail = (tag: string) => `api-${tag}-${++counter}@example.com`;

  before(async () => {
    appConfig = await discover(server.url, app);
    otherConfig = await discover(server.url, otherApp);
  });

  /** A request to the API (POST unless said otherwise). */
  const call = (path: string, init: CallInit = {}) => callApi(server.url, path, { method: 'POST', ...init });
  const expectProblem = (answer: Answer, status: number, code: string) => expectProblemOf(answer, status, code, server.url);

  async function accessToken(email: string, password: string, scope = 'openid account', agent = new Agent()): Promise<string> {
    const { tokens } = await signIn(appConfig, agent, email, password, { scope });
    return tokens.access_token;
  }

  const passwordHashOf = async (email: string) =>
    (await server.database.connection.collection('users').findOne({ emailNormalized: email }))?.passwordHash as string;
  const stored = async (email: string) => ({
    users: await server.database.connection.collection('users').countDocuments(),
    links: (await linkModel(server.database.connection).find({}, { _id: 1 }).lean()).map((link) => link._id).sort(),
    hash: await passwordHashOf(email),
  });
  const settle = () => server.deps.tasks.idle().then(() => server.deps.mailer.idle());
  const mailTo = (to: string, subject: RegExp) => smtp.waitFor((m: ParsedMail) => (m.to as { text: string }).text.includes(to) && subject.test(m.subject ?? ''));
  const signsIn = async (email: string, password: string) => (await authenticate(server.deps.signInDeps, { email, password })).ok;

  describe('POST /api/account/password', () => {
    it('changes the password with an account-scoped token; other apps are signed out, the calling one is not', async () => {
      const email = uniqueEmail('change');
      const oldPassword = 'the old api passphrase';
      const newPassword = 'a fresh api passphrase 2';
      await createUser(server.deps, { email, password: oldPassword });
      const other = await signIn(otherConfig, new Agent(), email, oldPassword, { scope: 'openid offline_access' });
      const browser = new Agent();
      const token = await accessToken(email, oldPassword, 'openid account', browser);

      const answer = await call('/api/account/password', { token, body: { current_password: oldPassword, new_password: newPassword } });
      expect(answer.status, answer.text).to.equal(204);
      expect(answer.text).to.equal('');
      expect(answer.headers.get('cache-control')).to.equal('no-store');

      expect(await signsIn(email, oldPassword)).to.equal(false);
      expect(await signsIn(email, newPassword)).to.equal(true);
      const refused = await oidc.refreshTokenGrant(otherConfig, other.tokens.refresh_token!).catch((e: Error) => e);
      expect(refused, 'the other app\'s refresh token is revoked').to.be.instanceOf(oidc.ResponseBodyError);
      // The calling app's grant stays: its token is still accepted (here refused only for the policy).
      expectProblem(await call('/api/account/password', { token, body: { current_password: newPassword, new_password: 'short' } }), 400, 'password-policy');
      // The browser it came from is still signed in at the provider.
      const again = await openSignIn(browser, await startAuthorization(appConfig, { scope: 'openid account' }));
      expect(again.url.startsWith(RP_CALLBACK), 'no password asked in the calling browser').to.equal(true);

      const notice = await mailTo(email, /changed/i);
      expect(notice.text).to.not.contain(newPassword);
    });

    it('keeps other apps signed in with sign_out_other_sessions: false', async () => {
      const email = uniqueEmail('keep');
      await createUser(server.deps, { email, password: 'keep these sessions 1' });
      const other = await signIn(otherConfig, new Agent(), email, 'keep these sessions 1', { scope: 'openid offline_access' });
      const token = await accessToken(email, 'keep these sessions 1');
      const answer = await call('/api/account/password', { token, body: { current_password: 'keep these sessions 1', new_password: 'kept sessions passphrase 2', sign_out_other_sessions: false } });
      expect(answer.status, answer.text).to.equal(204);
      const refreshed = await oidc.refreshTokenGrant(otherConfig, other.tokens.refresh_token!);
      expect(refreshed.access_token).to.be.a('string');
      expect(await signsIn(email, 'kept sessions passphrase 2')).to.equal(true);
    });

    it('refuses a wrong current password with 403 and changes nothing', async () => {
      const email = uniqueEmail('wrong');
      await createUser(server.deps, { email, password: 'right current one 1' });
      const token = await accessToken(email, 'right current one 1');
      const before = await stored(email);
      const answer = await call('/api/account/password', { token, body: { current_password: 'not the current one', new_password: 'whatever new passphrase 9' } });
      expectProblem(answer, 403, 'wrong-current-password');
      expect(answer.text).to.not.contain('not the current one').and.not.contain('whatever new passphrase 9');
      expect(await stored(email)).to.deep.equal(before);
    });

    it('answers 400 password-policy with each issue\'s code', async () => {
      const email = uniqueEmail('policy');
      await createUser(server.deps, { email, password: 'policy current one 1' });
      const token = await accessToken(email, 'policy current one 1');
      const before = await stored(email);
      const short = await call('/api/account/password', { token, body: { current_password: 'policy current one 1', new_password: 'short' } });
      expectProblem(short, 400, 'password-policy');
      expect(codesOf(short)).to.include('too_short');
      expect(fieldsOf(short)).to.deep.equal(fieldsOf(short).map(() => 'new_password'));
      expect((short.json.errors as Array<{ message: string }>)[0]!.message).to.be.a('string').and.not.equal('');
      const common = await call('/api/account/password', { token, body: { current_password: 'policy current one 1', new_password: 'password123' } });
      expectProblem(common, 400, 'password-policy');
      expect(codesOf(common)).to.include('common');
      const reused = await call('/api/account/password', { token, body: { current_password: 'policy current one 1', new_password: 'policy current one 1' } });
      expectProblem(reused, 400, 'password-policy');
      expect(codesOf(reused)).to.deep.equal(['reused']);
      expect(await stored(email)).to.deep.equal(before);
    });

    it('answers 403 insufficient_scope to a token without the account scope', async () => {
      const email = uniqueEmail('scope');
      await createUser(server.deps, { email, password: 'scope current one 1' });
      const token = await accessToken(email, 'scope current one 1', 'openid email');
      const before = await stored(email);
      const answer = await call('/api/account/password', { token, body: { current_password: 'scope current one 1', new_password: 'scoped new passphrase 2' } });
      expectProblem(answer, 403, 'insufficient-scope');
      const challenge = answer.headers.get('www-authenticate')!;
      expect(challenge).to.match(/^Bearer /).and.contain('error="insufficient_scope"').and.contain('scope="account"');
      expect(await stored(email)).to.deep.equal(before);
    });

    it('answers 401 without a token, with a garbage token and with a revoked token', async () => {
      const email = uniqueEmail('unauth');
      await createUser(server.deps, { email, password: 'unauth current one 1' });
      const body = { current_password: 'unauth current one 1', new_password: 'unauthorised new one 2' };

      const none = await call('/api/account/password', { body });
      expectProblem(none, 401, 'invalid-token');
      expect(none.headers.get('www-authenticate')).to.match(/^Bearer realm=/).and.not.contain('error=');
      const basic = await call('/api/account/password', { body, headers: { authorization: 'Basic dXNlcjpwYXNz' } });
      expectProblem(basic, 401, 'invalid-token');

      for (const garbage of ['not-a-real-token', 'a'.repeat(43), 'x'.repeat(2000), 'two words']) {
        const answer = await call('/api/account/password', { body, token: garbage });
        expectProblem(answer, 401, 'invalid-token');
        expect(answer.headers.get('www-authenticate')).to.match(/^Bearer /).and.contain('error="invalid_token"');
        expect(answer.text).to.not.contain(garbage.slice(0, 20));
      }

      const { tokens } = await signIn(appConfig, new Agent(), email, 'unauth current one 1', { scope: 'openid account' });
      await oidc.tokenRevocation(appConfig, tokens.access_token);
      const revoked = await call('/api/account/password', { body, token: tokens.access_token });
      expectProblem(revoked, 401, 'invalid-token');
      expect(revoked.headers.get('www-authenticate')).to.contain('error="invalid_token"');
      expect(await signsIn(email, 'unauth current one 1')).to.equal(true);
    });

    it('throttles guesses at the current password with 429 and Retry-After', async () => {
      const email = uniqueEmail('throttle');
      await createUser(server.deps, { email, password: 'throttled current 1' });
      const token = await accessToken(email, 'throttled current 1');
      const statuses: number[] = [];
      let last: Answer | undefined;
      for (let i = 0; i < 12 && last?.status !== 429; i++) {
        last = await call('/api/account/password', { token, body: { current_password: `guess number ${i}`, new_password: 'throttled new passphrase 2' } });
        statuses.push(last.status);
      }
      expectProblem(last!, 429, 'too-many-requests');
      expect(Number(last!.headers.get('retry-after'))).to.be.greaterThan(0);
      expect(statuses.slice(0, -1)).to.satisfy((s: number[]) => s.every((status) => status === 403));
    });
  });

  describe('password resets', () => {
    it('answers the same 202 for an existing and an unknown email; only the account gets mail', async () => {
      const email = uniqueEmail('reset-known');
      await createUser(server.deps, { email, password: 'reset known current 1' });
      const known = await call('/api/password-resets', { body: { email } });
      const unknown = await call('/api/password-resets', { body: { email: 'api-nobody-at-all@example.com' } });
      expect(known.status).to.equal(202);
      expect(unknown.status).to.equal(202);
      expect(known.text).to.equal(unknown.text);
      expect(known.headers.get('content-type')).to.equal(unknown.headers.get('content-type'));
      expect(known.headers.get('cache-control')).to.equal('no-store');
      expect(known.json).to.have.property('status', 'accepted');
      await settle();
      expect(smtp.messages.filter((m) => (m.to as { text: string }).text.includes('api-nobody-at-all'))).to.have.length(0);
      expect(smtp.linkIn(await mailTo(email, /reset/i))).to.match(/\/password\/reset\?token=[\w-]{43}$/);
    });

    it('confirms with the emailed token: 204 and the new password works; the link works once', async () => {
      const email = uniqueEmail('reset-confirm');
      await createUser(server.deps, { email, password: 'reset confirm current 1' });
      expect((await call('/api/password-resets', { body: { email } })).status).to.equal(202);
      const token = new URL(smtp.linkIn(await mailTo(email, /reset/i))).searchParams.get('token')!;

      const weak = await call('/api/password-resets/confirm', { body: { token, password: 'short' } });
      expectProblem(weak, 400, 'password-policy');
      expect(codesOf(weak)).to.include('too_short');
      expect(fieldsOf(weak)[0]).to.equal('password');

      const done = await call('/api/password-resets/confirm', { body: { token, password: 'reset through the api 7' } });
      expect(done.status, done.text).to.equal(204);
      expect(await signsIn(email, 'reset through the api 7')).to.equal(true);
      expect(await signsIn(email, 'reset confirm current 1')).to.equal(false);

      const reused = await call('/api/password-resets/confirm', { body: { token, password: 'another reset passphrase 8' } });
      expectProblem(reused, 410, 'link-used');
      expect(await signsIn(email, 'reset through the api 7')).to.equal(true);

      const unknown = await call('/api/password-resets/confirm', { body: { token: 'A'.repeat(43), password: 'another reset passphrase 8' } });
      expectProblem(unknown, 404, 'link-unknown');
      expectProblem(await call('/api/password-resets/confirm', { body: { token: 'not-even-a-token', password: 'another reset passphrase 8' } }), 404, 'link-unknown');
    });

    it('answers 410 link-expired for an expired link', async () => {
      const email = uniqueEmail('reset-expired');
      const user = await createUser(server.deps, { email, password: 'reset expired current 1' });
      const { token } = await server.deps.links.issue(user._id, 'reset');
      await linkModel(server.database.connection).updateMany({ userId: user._id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
      expectProblem(await call('/api/password-resets/confirm', { body: { token, password: 'too late passphrase 3' } }), 410, 'link-expired');
    });

    it('throttles reset requests with 429 and Retry-After, the same for every email', async () => {
      const email = uniqueEmail('reset-throttle');
      await createUser(server.deps, { email, password: 'reset throttle current 1' });
      const unknown = 'api-throttled-nobody@example.com';
      const answers: Record<string, Answer[]> = { [email]: [], [unknown]: [] };
      for (let i = 0; i < 4; i++) {
        for (const address of [email, unknown]) answers[address]!.push(await call('/api/password-resets', { body: { email: address } }));
      }
      for (const address of [email, unknown]) {
        expect(answers[address]!.map((a) => a.status)).to.deep.equal([202, 202, 202, 429]);
        const last = answers[address]!.at(-1)!;
        expectProblem(last, 429, 'too-many-requests');
        expect(Number(last.headers.get('retry-after'))).to.be.greaterThan(0);
      }
      const [known429, unknown429] = [answers[email]!.at(-1)!, answers[unknown]!.at(-1)!];
      expect(known429.text).to.equal(unknown429.text);
    });
  });

  describe('bad input', () => {
    const email = 'api-bad-input@example.com';
    const password = 'bad input current 1';
    let token: string;
    let resetToken: string;

    before(async () => {
      await createUser(server.deps, { email, password });
      token = await accessToken(email, password);
      const user = await server.deps.users.findOne({ emailNormalized: email }).lean();
      resetToken = (await server.deps.links.issue(user!._id, 'reset')).token;
    });

    const big = 'z'.repeat(20_000);
    const routes = [
      {
        path: '/api/account/password',
        valid: () => ({ current_password: password, new_password: 'never stored passphrase 5' }),
        fields: ['current_password', 'new_password'],
        auth: true,
      },
      { path: '/api/password-resets', valid: () => ({ email }), fields: ['email'], auth: false },
      { path: '/api/password-resets/confirm', valid: () => ({ token: resetToken, password: 'never stored passphrase 5' }), fields: ['token', 'password'], auth: false },
    ];

    for (const route of routes) {
      const cases: Array<[string, () => { body: unknown; type?: string }, number, string, string[]?]> = [
        ['missing fields', () => ({ body: {} }), 400, 'invalid-request', route.fields],
        ['an empty body', () => ({ body: '' }), 400, 'invalid-request', route.fields],
        ['an extra field', () => ({ body: { ...route.valid(), admin: true } }), 400, 'invalid-request', ['admin']],
        ['a __proto__ field', () => ({ body: `{"__proto__": {"admin": true}, ${JSON.stringify(route.valid()).slice(1)}` }), 400, 'invalid-request'],
        ...route.fields.map((field): [string, () => { body: unknown }, number, string, string[]] =>
          [`an operator object for ${field}`, () => ({ body: { ...route.valid(), [field]: { $ne: null } } }), 400, 'invalid-request', [field]]),
        ...route.fields.map((field): [string, () => { body: unknown }, number, string, string[]] =>
          [`an array for ${field}`, () => ({ body: { ...route.valid(), [field]: ['a', 'b'] } }), 400, 'invalid-request', [field]]),
        ...route.fields.map((field): [string, () => { body: unknown }, number, string, string[]] =>
          [`a number for ${field}`, () => ({ body: { ...route.valid(), [field]: 12345 } }), 400, 'invalid-request', [field]]),
        ['an array body', () => ({ body: [route.valid()] }), 400, 'invalid-request', ['(body)']],
        ['a JSON string body', () => ({ body: '"just a string"' }), 400, 'invalid-request'],
        ['invalid JSON', () => ({ body: '{"email": "a@example.com",' }), 400, 'invalid-request'],
        ['a 20 kB body', () => ({ body: { ...route.valid(), pad: big } }), 413, 'payload-too-large'],
        ['text/plain', () => ({ body: JSON.stringify(route.valid()), type: 'text/plain' }), 415, 'unsupported-media-type'],
        ['a form', () => ({ body: new URLSearchParams(route.valid() as Record<string, string>).toString(), type: 'application/x-www-form-urlencoded' }), 415, 'unsupported-media-type'],
      ];
      if (route.path === '/api/account/password') {
        cases.push(['a string for sign_out_other_sessions', () => ({ body: { ...route.valid(), sign_out_other_sessions: 'false' } }), 400, 'invalid-request', ['sign_out_other_sessions']]);
      }
      if (route.path === '/api/password-resets') {
        cases.push(['a malformed email', () => ({ body: { email: 'not an email' } }), 400, 'invalid-request', ['email']]);
      }

      for (const [name, input, status, code, fields] of cases) {
        it(`${route.path}: ${name} -> ${status} ${code}`, async () => {
          await settle(); // background work of earlier tests done, so the counts below are ours
          const before = await stored(email);
          const { body, type } = input();
          const answer = await call(route.path, { body, type, token: route.auth ? token : undefined });
          expectProblem(answer, status, code);
          if (fields) expect(fieldsOf(answer)).to.include.members(fields);
          expect(answer.text).to.not.contain(password).and.not.contain('never stored passphrase').and.not.contain(resetToken);
          await settle();
          expect(await stored(email), 'nothing stored').to.deep.equal(before);
        });
      }
    }

    it('no reset email was sent for any of the bad requests', async () => {
      await settle();
      expect(smtp.messages.filter((m) => (m.to as { text: string }).text.includes(email))).to.have.length(0);
    });

    it('(the "nothing stored" check above does see a valid request\'s effect)', async () => {
      await settle();
      const before = await stored(email);
      expect((await call('/api/password-resets', { body: { email } })).status).to.equal(202);
      await settle();
      expect((await stored(email)).links).to.not.deep.equal(before.links);
      const answer = await call('/api/account/password', { token, body: { current_password: password, new_password: 'now it is stored 6', sign_out_other_sessions: false } });
      expect(answer.status, answer.text).to.equal(204);
      expect((await stored(email)).hash).to.not.equal(before.hash);
    });

    it('answers unknown /api paths with 404 and other methods with 405, as problems', async () => {
      expectProblem(await call('/api/nothing-here', { method: 'GET', headers: { accept: 'text/html' } }), 404, 'about:blank');
      const wrongMethod = await call('/api/password-resets', { method: 'GET' });
      expectProblem(wrongMethod, 405, 'about:blank');
      expect(wrongMethod.headers.get('allow')).to.equal('POST');
      const options = await call('/api/password-resets', { method: 'OPTIONS', headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'POST' } });
      expect(options.status).to.equal(204);
      expect(options.headers.get('access-control-allow-origin'), 'no CORS').to.equal(null);
      expectProblem(await call('/api/problems/no-such-thing', { method: 'GET' }), 404, 'about:blank');
    });
  });

  describe('GET /api/openapi.json', () => {
    let doc: Record<string, any>;

    before(async () => {
      const answer = await call('/api/openapi.json', { method: 'GET' });
      expect(answer.status).to.equal(200);
      expect(answer.headers.get('content-type')).to.match(/^application\/json/);
      expect(answer.headers.get('cache-control')).to.equal('no-store');
      doc = JSON.parse(answer.text);
    });

    it('is OpenAPI 3.1 for this issuer, with the three POST endpoints and the bearer scheme', () => {
      expect(doc.openapi).to.match(/^3\.1\.\d+$/);
      expect(doc.servers).to.deep.equal([{ url: server.url }]);
      for (const path of ['/api/account/password', '/api/password-resets', '/api/password-resets/confirm']) {
        expect(doc.paths[path]?.post, path).to.be.an('object');
        expect(doc.paths[path].post.requestBody.content['application/json'].schema.$ref).to.match(/^#\/components\/schemas\//);
      }
      expect(doc.components.securitySchemes.bearerAuth).to.include({ type: 'http', scheme: 'bearer' });
      expect(doc.paths['/api/account/password'].post.security).to.deep.equal([{ bearerAuth: ['account'] }]);
      const change = doc.paths['/api/account/password'].post.responses;
      expect(Object.keys(change)).to.include.members(['204', '400', '401', '403', '413', '415', '429']);
      expect(Object.keys(doc.paths['/api/password-resets/confirm'].post.responses)).to.include.members(['204', '400', '404', '410']);
      expect(Object.keys(doc.paths['/api/password-resets'].post.responses)).to.include.members(['202', '400', '429']);
      expect(change['401'].content['application/problem+json'].schema.$ref).to.equal('#/components/schemas/Problem');
      expect(change['429'].headers).to.have.property('Retry-After');
      expect(doc.components.schemas.Problem.required).to.include.members(['type', 'title', 'status', 'detail']);
      // Every $ref points at a schema that exists.
      const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
      for (const name of refs) expect(doc.components.schemas, name).to.have.property(name);
    });

    it('its request schemas are the routes\' schemas: they accept a valid example and refuse an invalid one', () => {
      const valid: Record<string, Record<string, unknown>> = {
        ChangePasswordRequest: { current_password: 'old one', new_password: 'new one', sign_out_other_sessions: false },
        PasswordResetRequest: { email: 'person@example.com' },
        PasswordResetConfirmRequest: { token: 'abc', password: 'new one' },
      };
      for (const [name, zodSchema] of Object.entries(REQUEST_SCHEMAS)) {
        const schema = doc.components.schemas[name];
        expect(schema, name).to.be.an('object');
        const examples = [valid[name]!, ...(schema.examples ?? [])];
        const invalid = [{}, { ...valid[name], extra: 1 }, ...Object.keys(valid[name]!).map((key) => ({ ...valid[name], [key]: { $ne: null } }))];
        for (const example of examples) {
          expect(conforms(schema, example), `${name} accepts ${JSON.stringify(example)}`).to.equal(true);
          expect((zodSchema as z.ZodType).safeParse(example).success).to.equal(true);
        }
        for (const example of invalid) {
          expect(conforms(schema, example), `${name} refuses ${JSON.stringify(example)}`).to.equal(false);
          expect((zodSchema as z.ZodType).safeParse(example).success).to.equal(false);
        }
      }
      // The optional field with a default is not required in what clients send.
      expect(doc.components.schemas.ChangePasswordRequest.required).to.deep.equal(['current_password', 'new_password']);
    });

    it('every problem type it names resolves to a description', async () => {
      expect(doc.info.description).to.contain(`${server.url}/api/problems/`);
      for (const code of PROBLEM_CODES) {
        const answer = await call(`/api/problems/${code}`, { method: 'GET' });
        expect(answer.status, code).to.equal(200);
        expect(answer.json).to.include({ type: `${server.url}/api/problems/${code}`, code });
        expect(answer.json.description).to.be.a('string');
      }
    });
  });
});

/** A minimal JSON Schema check, enough for flat request objects: types, required, additionalProperties, lengths, const. */
function conforms(schema: Record<string, any>, value: unknown): boolean {
  if (schema.const !== undefined && value !== schema.const) return false;
  switch (schema.type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
      const record = value as Record<string, unknown>;
      if ((schema.required ?? []).some((key: string) => !(key in record))) return false;
      for (const [key, item] of Object.entries(record)) {
        const property = schema.properties?.[key];
        if (!property) {
          if (schema.additionalProperties === false) return false;
          continue;
        }
        if (!conforms(property, item)) return false;
      }
      return true;
    }
    case 'string':
      if (typeof value !== 'string') return false;
      if (schema.minLength !== undefined && value.length < schema.minLength) return false;
      if (schema.maxLength !== undefined && value.length > schema.maxLength) return false;
      if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) return false;
      return true;
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return Number.isInteger(value);
    default:
      return true;
  }
}
