// The token signing keys' private parts encrypted at rest with DATA_KEYS (oidc/keys.ts):
// what a fresh start stores (read raw from the database), that the JWKS and ID
// tokens still verify; a key stored in clear by an earlier version sealed in place
// (three instances starting at once; a running instance's poll) and still signing;
// keys:rotate; a key that does not decrypt (wrong DATA_KEYS) refusing the start with
// a clear message, a real server process included; data-keys:reencrypt re-sealing
// the keys after a DATA_KEYS rotation.
import { expect } from 'chai';
import { createPublicKey, generateKeyPairSync, randomBytes, randomUUID, verify, type JsonWebKey } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { ClientMetadata } from 'oidc-provider';
import type { Connection } from 'mongoose';
import { createUser } from '../../src/accounts/users.ts';
import { connect } from '../../src/db/connection.ts';
import { createLogger } from '../../src/log.ts';
import { UnreadableSigningKeyError, signingKeyAssociatedData } from '../../src/oidc/keys.ts';
import { DataVault } from '../../src/secrets.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { freshDatabase, LENIENT_THROTTLES, startTestServer, testConfig, type TestDatabase, type TestServer } from '../helpers/server.ts';
import { Agent } from '../helpers/agent.ts';
import { cliEnvironment, runCli, type Run } from '../helpers/cli.ts';
import { startServerProcess } from '../helpers/process.ts';
import { discover, publicClient, signIn } from '../helpers/rp.ts';
import { databaseServerUri } from '../setup.ts';

const KEY_A = `signing-keys-at-rest-a-${randomBytes(16).toString('hex')}`;
const KEY_B = `signing-keys-at-rest-b-${randomBytes(16).toString('hex')}`;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e', 'kid', 'alg', 'use'];
const rsClient = publicClient({ client_id: 'rp-rs256' });
const esClient = publicClient({ client_id: 'rp-es256', id_token_signed_response_alg: 'ES256' } as never);
const clients: ClientMetadata[] = [rsClient, esClient];
const person = { email: 'ada@example.com', password: 'a passphrase kept at rest 42' };

interface RawKey {
  _id: string;
  alg: 'RS256' | 'ES256';
  publicJwk?: JsonWebKey;
  sealedJwk?: string;
  jwk?: JsonWebKey;
  [field: string]: unknown;
}

const rawKeys = (database: TestDatabase) => database.connection.collection<RawKey>('signing_keys').find().toArray();

/** Paths of every member named like a private JWK parameter, anywhere in `value`. */
function privateMembersIn(value: unknown, path = ''): string[] {
  if (!value || typeof value !== 'object' || value instanceof Date) return [];
  return Object.entries(value).flatMap(([key, inner]) => [
    ...(PRIVATE_MEMBERS.includes(key) ? [`${path}${key}`] : []),
    ...privateMembersIn(inner, `${path}${key}.`),
  ]);
}

/** The private JWK sealed in a stored key, opened with `keys` and bound to its kid. */
function opened(key: RawKey, keys: string[]): JsonWebKey {
  return JSON.parse(new DataVault(keys).decrypt(key.sealedJwk!, signingKeyAssociatedData(key._id))) as JsonWebKey;
}

/** Every stored key sealed: public JWK with public members only, the private JWK under `keys`, nothing private in clear. */
function expectSealed(stored: RawKey[], keys: string[]): void {
  expect(stored).to.not.be.empty;
  for (const key of stored) {
    expect(key.jwk, `${key._id}: no private JWK in clear`).to.equal(undefined);
    expect(privateMembersIn(key), `${key._id}: private members in clear`).to.deep.equal([]);
    expect(Object.keys(key.publicJwk ?? {}).every((member) => PUBLIC_MEMBERS.includes(member)), `${key._id}: public members only`).to.equal(true);
    expect(key.publicJwk).to.include({ kid: key._id, alg: key.alg, use: 'sig' });
    expect(key.sealedJwk).to.be.a('string').and.match(/^v1\./);
    const jwk = opened(key, keys);
    expect(jwk.d, `${key._id}: sealed value holds the private key`).to.be.a('string');
    expect(jwk).to.include(key.publicJwk as Record<string, unknown>);
    // The sealed value is bound to its kid: under another kid it does not open.
    expect(() => new DataVault(keys).decrypt(key.sealedJwk!, signingKeyAssociatedData(randomUUID()))).to.throw();
    expect(JSON.stringify(key)).to.not.contain(jwk.d);
  }
}

/** The kid an ID token is signed with, after checking its signature against the issuer's JWKS. */
async function verifiedKid(idToken: string, jwksUri: string): Promise<string> {
  const [header, payload, signature] = idToken.split('.') as [string, string, string];
  const { alg, kid } = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg: string; kid: string };
  const { keys } = (await (await fetch(jwksUri)).json()) as { keys: JsonWebKey[] };
  const key = keys.find((k) => k.kid === kid);
  expect(key, `kid ${kid} in the JWKS`).to.exist;
  const ok = verify('sha256', Buffer.from(`${header}.${payload}`), {
    key: createPublicKey({ key: key!, format: 'jwk' }),
    ...(alg === 'ES256' ? { dsaEncoding: 'ieee-p1363' as const } : {}),
  }, Buffer.from(signature, 'base64url'));
  expect(ok, `signature of a token by ${kid}`).to.equal(true);
  return kid;
}

/** Signs in at `issuer` with the client's algorithm; the verified kid of the ID token. */
async function signingKid(issuer: string, client: ClientMetadata): Promise<string> {
  const config = await discover(issuer, client);
  const { tokens } = await signIn(config, new Agent(), person.email, person.password);
  return verifiedKid(tokens.id_token!, config.serverMetadata().jwks_uri!);
}

async function jwksKids(issuer: string): Promise<string[]> {
  const { keys } = (await (await fetch(new URL('/jwks', issuer))).json()) as { keys: JsonWebKey[] };
  expect(keys.every((k) => k.d === undefined), 'no private parts published').to.equal(true);
  return keys.map((k) => String(k.kid)).sort();
}

/** Waits for `condition` (polled), failing with `what` after `timeoutMs`. */
async function until(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A logger whose lines the test reads. */
function capturingLogger(): { log: Logger; lines: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines: () => text };
}

/** A key as an earlier version stored it: the private JWK in clear. */
function keyInClear(alg: 'RS256' | 'ES256', dates: { createdAt: Date; activatesAt: Date }): RawKey {
  const { privateKey } = alg === 'RS256'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = randomUUID();
  return { _id: kid, alg, jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' }, ...dates, retiredAt: null, deleteAfter: null };
}

describe('signing keys encrypted at rest', function () {
  this.timeout(180_000);

  describe('a fresh start', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ clients, policy: LENIENT_THROTTLES, env: { DATA_KEYS: KEY_A } });
      await createUser(server.deps, person);
    });
    after(async () => {
      await server?.stop();
      await server?.database.drop();
    });

    it('stores no private parameter in clear: a public JWK and the private JWK sealed with DATA_KEYS, bound to its kid', async () => {
      const stored = await rawKeys(server.database);
      expect(stored.map((k) => k.alg).sort()).to.deep.equal(['ES256', 'RS256']);
      expectSealed(stored, [KEY_A]);
      // Not with another key.
      expect(() => opened(stored[0]!, [KEY_B])).to.throw();
    });

    it('publishes the public keys, and ID tokens of both algorithms verify against them', async () => {
      const stored = await rawKeys(server.database);
      expect(await jwksKids(server.url)).to.deep.equal(stored.map((k) => k._id).sort());
      expect(await signingKid(server.url, rsClient)).to.equal(stored.find((k) => k.alg === 'RS256')!._id);
      expect(await signingKid(server.url, esClient)).to.equal(stored.find((k) => k.alg === 'ES256')!._id);
    });

    it('keys:list shows the keys, never a private part', async () => {
      const stored = await rawKeys(server.database);
      const run = await runCli(['keys:list'], cliEnvironment(server.database.name, { DATA_KEYS: KEY_A }));
      expect(run.code, run.stderr).to.equal(0);
      for (const key of stored) {
        expect(run.stdout).to.contain(key._id);
        const jwk = opened(key, [KEY_A]);
        for (const member of PRIVATE_MEMBERS) if (typeof jwk[member] === 'string') expect(run.stdout + run.stderr).to.not.contain(jwk[member]);
        expect(run.stdout + run.stderr).to.not.contain(key.sealedJwk);
      }
    });
  });

  describe('keys stored in clear by an earlier version', () => {
    let database: TestDatabase;
    const connections: Connection[] = [];
    const instances: RunningServer[] = [];
    const captured = capturingLogger();
    before(async () => {
      database = await freshDatabase();
    });
    after(async () => {
      await Promise.all(instances.map((instance) => instance.stop()));
      await Promise.all(connections.map((connection) => connection.close()));
      await database.drop();
    });

    it('are sealed in place when three instances start at once, keep their kids and keep signing', async () => {
      const yesterday = new Date(Date.now() - 24 * 3600_000);
      const legacy = [keyInClear('RS256', { createdAt: yesterday, activatesAt: yesterday }), keyInClear('ES256', { createdAt: yesterday, activatesAt: yesterday })];
      await database.connection.collection<RawKey>('signing_keys').insertMany(legacy);

      const env = { DATA_KEYS: KEY_A, KEYS_POLL_MS: '200' };
      const started = await Promise.all([0, 1, 2].map(async (i) => {
        const connection = await connect(databaseServerUri(), { dbName: database.name });
        connections.push(connection);
        const config = testConfig({ env, policy: LENIENT_THROTTLES });
        return startServer(config, i === 0 ? captured.log : createLogger(config.logLevel), { connection, clients });
      }));
      instances.push(...started);
      await createUser(instances[0]!.deps, person);

      const stored = await rawKeys(database);
      expect(stored.map((k) => k._id).sort(), 'no key generated over them').to.deep.equal(legacy.map((k) => k._id).sort());
      expectSealed(stored, [KEY_A]);
      for (const key of legacy) expect(opened(stored.find((k) => k._id === key._id)!, [KEY_A])).to.deep.equal(key.jwk);

      for (const instance of instances) {
        expect(await jwksKids(instance.url)).to.deep.equal(legacy.map((k) => k._id).sort());
      }
      const rs = legacy.find((k) => k.alg === 'RS256')!;
      const es = legacy.find((k) => k.alg === 'ES256')!;
      expect(await signingKid(instances[1]!.url, rsClient)).to.equal(rs._id);
      expect(await signingKid(instances[2]!.url, esClient)).to.equal(es._id);
      // The tokens verify with the key as it was stored before.
      const config = await discover(instances[0]!.url, rsClient);
      const { tokens } = await signIn(config, new Agent(), person.email, person.password);
      const [header, payload, signature] = tokens.id_token!.split('.') as [string, string, string];
      expect(verify('sha256', Buffer.from(`${header}.${payload}`), createPublicKey({ key: rs.jwk!, format: 'jwk' }), Buffer.from(signature, 'base64url'))).to.equal(true);
      expect(captured.lines()).to.not.contain(rs.jwk!.d).and.not.contain(es.jwk!.d);
    });

    it('one stored in clear while the instances run is sealed by their poll, and published', async () => {
      const later = new Date(Date.now() + 3600_000);
      const next = keyInClear('RS256', { createdAt: new Date(), activatesAt: later });
      await database.connection.collection<RawKey>('signing_keys').insertOne(next);
      await until('the key sealed in place', async () => {
        const doc = await database.connection.collection<RawKey>('signing_keys').findOne({ _id: next._id });
        return !!doc?.sealedJwk && doc.jwk === undefined;
      });
      const doc = (await database.connection.collection<RawKey>('signing_keys').findOne({ _id: next._id }))!;
      expectSealed([doc], [KEY_A]);
      expect(opened(doc, [KEY_A])).to.deep.equal(next.jwk);
      for (const instance of instances) await until(`${instance.url} publishes it`, async () => (await jwksKids(instance.url)).includes(next._id));
      expect(captured.lines()).to.not.contain(next.jwk!.d);
    });

    it('a running instance meeting a key it cannot decrypt keeps its keys and says so; a new start is refused', async () => {
      const signingBefore = await signingKid(instances[0]!.url, rsClient);
      const jwksBefore = await jwksKids(instances[0]!.url);
      // Sealed with DATA_KEYS these instances do not have, signing from now on.
      const foreign = keyInClear('RS256', { createdAt: new Date(), activatesAt: new Date() });
      const { jwk, ...record } = foreign;
      await database.connection.collection<RawKey>('signing_keys').insertOne({
        ...record,
        publicJwk: { kty: jwk!.kty, n: jwk!.n, e: jwk!.e, kid: foreign._id, alg: 'RS256', use: 'sig' },
        sealedJwk: new DataVault([KEY_B]).encrypt(JSON.stringify(jwk), signingKeyAssociatedData(foreign._id)),
      });
      await until('the warning', () => captured.lines().includes('signing keys: cannot read them; keeping the current ones'));
      expect(captured.lines()).to.contain(`signing key ${foreign._id} (RS256) cannot be decrypted with the configured DATA_KEYS`);
      expect(await signingKid(instances[0]!.url, rsClient)).to.equal(signingBefore);
      expect(await jwksKids(instances[0]!.url)).to.deep.equal(jwksBefore);

      const keysBefore = (await rawKeys(database)).map((k) => k._id).sort();
      let refused: unknown;
      await startTestServer({ database, clients, policy: LENIENT_THROTTLES, env: { DATA_KEYS: KEY_A } }).then(
        async (server) => server.stop(),
        (error: unknown) => (refused = error),
      );
      expect(refused).to.be.instanceOf(UnreadableSigningKeyError);
      expect((refused as Error).message).to.contain(foreign._id).and.contain('DATA_KEYS');
      expect((await rawKeys(database)).map((k) => k._id).sort(), 'no key generated over it').to.deep.equal(keysBefore);

      // Removed: the instances read the keys again.
      await database.connection.collection<RawKey>('signing_keys').deleteOne({ _id: foreign._id });
      await until('reading works again', () => captured.lines().includes('signing keys: reading them works again'));
    });
  });

  describe('wrong DATA_KEYS', () => {
    let database: TestDatabase;
    before(async () => {
      database = await freshDatabase();
      const first = await startTestServer({ database, clients, policy: LENIENT_THROTTLES, env: { DATA_KEYS: KEY_A } });
      await first.stop();
    });
    after(async () => {
      await database.drop();
    });

    it('refuse the start of a server process with a message naming the key and what to do; nothing is generated over it', async () => {
      const before = await rawKeys(database);
      const child = await startServerProcess(database.name, { DATA_KEYS: KEY_B });
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        child.exited,
        new Promise((resolve) => (timer = setTimeout(() => resolve('still running'), 90_000))),
      ]);
      clearTimeout(timer);
      if (code === 'still running') await child.kill('SIGKILL');
      expect(code, child.output()).to.equal(1);
      const output = child.output();
      expect(output).to.match(/could not start/);
      expect(before.some((key) => output.includes(`signing key ${key._id} (${key.alg}) cannot be decrypted with the configured DATA_KEYS`)), output).to.equal(true);
      expect(output).to.contain('the DATA_KEYS it was sealed with').and.contain('keys:rotate --compromised');
      expect(output).to.not.contain(KEY_A).and.not.contain(KEY_B);
      expect(await rawKeys(database)).to.deep.equal(before);
    });

    it('keys:rotate refuses them (keys it added would never sign); --compromised replaces every key, and the server starts', async () => {
      const before = await rawKeys(database);
      const refused = await runCli(['keys:rotate'], cliEnvironment(database.name, { DATA_KEYS: KEY_B }));
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.match(/^latchkey: signing key \S+ \((RS256|ES256)\) cannot be decrypted with the configured DATA_KEYS/);
      expect(await rawKeys(database)).to.deep.equal(before);

      // The keys' DATA_KEYS lost for good: replaced, sealed with the new ones.
      const replaced: Run = await runCli(['keys:rotate', '--compromised'], cliEnvironment(database.name, { DATA_KEYS: KEY_B }));
      expect(replaced.code, replaced.stderr).to.equal(0);
      const stored = await rawKeys(database);
      expect(stored).to.have.length(2);
      expect(stored.some((key) => before.some((old) => old._id === key._id))).to.equal(false);
      expectSealed(stored, [KEY_B]);
      const server = await startTestServer({ database, clients, policy: LENIENT_THROTTLES, env: { DATA_KEYS: KEY_B } });
      try {
        await createUser(server.deps, person);
        expect(await signingKid(server.url, rsClient)).to.equal(stored.find((k) => k.alg === 'RS256')!._id);
      } finally {
        await server.stop();
      }
    });
  });

  describe('keys:rotate', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({
        clients,
        policy: LENIENT_THROTTLES,
        env: { DATA_KEYS: KEY_A, KEYS_POLL_MS: '200', JWKS_MAX_AGE_S: '1', KEY_ROTATION_DELAY_S: '2' },
      });
      await createUser(server.deps, person);
    });
    after(async () => {
      await server?.stop();
      await server?.database.drop();
    });

    it('adds sealed keys; the running server publishes them, then signs with them', async () => {
      const before = await rawKeys(server.database);
      const run = await runCli(['keys:rotate'], cliEnvironment(server.database.name, { DATA_KEYS: KEY_A, KEY_ROTATION_DELAY_S: '2', JWKS_MAX_AGE_S: '1', KEYS_POLL_MS: '200' }));
      expect(run.code, run.stderr).to.equal(0);
      const stored = await rawKeys(server.database);
      expect(stored).to.have.length(4);
      expectSealed(stored, [KEY_A]);
      const added = stored.filter((key) => !before.some((old) => old._id === key._id));
      const rs = added.find((k) => k.alg === 'RS256')!;
      const es = added.find((k) => k.alg === 'ES256')!;
      for (const key of stored) expect(run.stdout).to.not.contain(opened(key, [KEY_A]).d);
      await until('the new keys published', async () => {
        const kids = await jwksKids(server.url);
        return kids.includes(rs._id) && kids.includes(es._id);
      });
      await until('the new RS256 key signing', async () => (await signingKid(server.url, rsClient)) === rs._id, 60_000);
      await until('the new ES256 key signing', async () => (await signingKid(server.url, esClient)) === es._id, 60_000);
    });
  });

  describe('data-keys:reencrypt after a DATA_KEYS rotation', () => {
    let database: TestDatabase;
    before(async () => {
      database = await freshDatabase();
    });
    after(async () => {
      await database.drop();
    });

    it('re-seals the signing keys under the new first key; the server then starts without the old key and signs with the same kids', async () => {
      const first = await startTestServer({ database, clients, policy: LENIENT_THROTTLES, env: { DATA_KEYS: KEY_A } });
      await createUser(first.deps, person);
      await first.stop();
      const before = await rawKeys(database);
      expectSealed(before, [KEY_A]);

      const run = await runCli(['data-keys:reencrypt'], cliEnvironment(database.name, { DATA_KEYS: `${KEY_B},${KEY_A}` }));
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/^token signing keys: 2 re-encrypted, 0 already current, 0 failed to decrypt/m);
      const after = await rawKeys(database);
      expectSealed(after, [KEY_B]);
      for (const key of after) {
        const old = before.find((k) => k._id === key._id)!;
        expect(opened(key, [KEY_B])).to.deep.equal(opened(old, [KEY_A]));
        expect(() => opened(key, [KEY_A]), 'no longer under the old key').to.throw();
        expect(run.stdout).to.not.contain(opened(key, [KEY_B]).d);
      }
      const again = await runCli(['data-keys:reencrypt'], cliEnvironment(database.name, { DATA_KEYS: `${KEY_B},${KEY_A}` }));
      expect(again.stdout).to.match(/^token signing keys: 0 re-encrypted, 2 already current/m);

      const server = await startTestServer({ database, clients, policy: LENIENT_THROTTLES, env: { DATA_KEYS: KEY_B } });
      try {
        expect(await signingKid(server.url, rsClient)).to.equal(after.find((k) => k.alg === 'RS256')!._id);
        expect(await signingKid(server.url, esClient)).to.equal(after.find((k) => k.alg === 'ES256')!._id);
      } finally {
        await server.stop();
      }
    });
  });
});
