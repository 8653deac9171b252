// Signing keys across instances: each instance follows the keys in MongoDB by
// itself, a rotation is staged (published everywhere for a JWKS cache lifetime
// before anyone signs with it), and a relying party that caches the JWKS as the
// Cache-Control header says never meets an ID token it cannot verify.
import { expect } from 'chai';
import { createPublicKey, randomBytes, verify, type JsonWebKey } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type * as oidc from 'openid-client';
import { createUser } from '../../src/accounts/users.ts';
import { loadConfig, ConfigError } from '../../src/config.ts';
import {
  deleteExpiredKeys, ensureSigningKeys, keyState, listSigningKeys, publishedKeys, readKeyRecords, readKeys, rotateSigningKeys, type KeyRecord,
} from '../../src/oidc/keys.ts';
import { DataVault } from '../../src/secrets.ts';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { freshDatabase, type TestDatabase } from '../helpers/server.ts';
import { Agent } from '../helpers/agent.ts';
import { discover, publicClient, signIn } from '../helpers/rp.ts';
import { cliEnvironment, runCli, type Run } from '../helpers/cli.ts';
import { testRoot } from '../setup.ts';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const at = (base: Date, ms: number) => new Date(base.getTime() + ms);

/** The kid the provider would sign with for `alg` at `now`: the first of that alg in the published order. */
function signer(keys: KeyRecord[], alg: KeyRecord['alg'], now: Date): string | undefined {
  return publishedKeys(keys, now).keys.find((key) => key.alg === alg)?._id;
}

describe('signing key rotation', function () {
  this.timeout(120_000);

  describe('states and order (stored dates, a given clock)', () => {
    let database: TestDatabase;
    const db = () => database.connection.db!;
    // The private keys are sealed with DATA_KEYS: a key of this test's own.
    const vault = new DataVault([randomBytes(32).toString('base64url')]);
    beforeEach(async () => {
      database = await freshDatabase();
    });
    afterEach(async () => {
      await database.drop();
    });

    it('stages a rotation: next, then signing at activatesAt on the dot, the old key retired then and gone after its grace', async () => {
      const t0 = new Date('2030-01-01T00:00:00Z');
      const first = await ensureSigningKeys(db(), vault, t0);
      expect(first.map((k) => k.alg).sort()).to.deep.equal(['ES256', 'RS256']);
      const oldRs = first.find((k) => k.alg === 'RS256')!;

      const rotation = await rotateSigningKeys(db(), vault, { delayMs: 10 * MINUTE, graceMs: DAY, now: at(t0, MINUTE) });
      const switchAt = at(t0, 11 * MINUTE);
      expect(rotation.added.map((k) => [k.alg, k.activatesAt.getTime()])).to.deep.equal([['RS256', switchAt.getTime()], ['ES256', switchAt.getTime()]]);
      expect(rotation.retiring.map((k) => k.kid).sort()).to.deep.equal(first.map((k) => k._id).sort());
      const newRs = rotation.added.find((k) => k.alg === 'RS256')!.kid;
      const keys = await readKeys(db(), vault, t0);
      const state = (kid: string, now: Date) => keyState(keys.find((k) => k._id === kid)!, now);

      const before = at(switchAt, -1);
      expect([state(oldRs._id, before), state(newRs, before)]).to.deep.equal(['signing', 'next']);
      expect(signer(keys, 'RS256', before)).to.equal(oldRs._id);
      // Published everywhere ahead of its use: the JWKS holds both keys already.
      expect(publishedKeys(keys, before).keys.map((k) => k._id)).to.include.members([oldRs._id, newRs]);
      expect(publishedKeys(keys, at(t0, 2 * MINUTE)).changesAt?.getTime()).to.equal(switchAt.getTime());

      expect([state(oldRs._id, switchAt), state(newRs, switchAt)]).to.deep.equal(['retired', 'signing']);
      expect(signer(keys, 'RS256', switchAt)).to.equal(newRs);
      expect(publishedKeys(keys, switchAt).keys).to.have.length(4);
      expect(publishedKeys(keys, switchAt).changesAt?.getTime()).to.equal(switchAt.getTime() + DAY);

      const gone = at(switchAt, DAY);
      expect(state(oldRs._id, gone)).to.equal('expired');
      expect(publishedKeys(keys, gone).keys.map((k) => k._id)).not.to.include(oldRs._id);

      // Instances delete what is past its grace when their poll sees it; so does a rotation.
      expect(await deleteExpiredKeys(db(), at(gone, -1))).to.equal(0);
      expect(await deleteExpiredKeys(db(), gone)).to.equal(2);
      expect((await readKeyRecords(db())).map((k) => k._id)).not.to.include(oldRs._id);
      await database.connection.collection('signing_keys').insertOne({ _id: 'past-grace' as never, alg: oldRs.alg, createdAt: t0, activatesAt: t0, retiredAt: switchAt, deleteAfter: gone });
      const later = await rotateSigningKeys(db(), vault, { delayMs: 10 * MINUTE, graceMs: DAY, now: at(gone, MINUTE) });
      expect(later.removed).to.equal(1);
      expect((await readKeyRecords(db())).map((k) => k._id)).not.to.include('past-grace');
    });

    it('a second rotation before the first activates: each key signs in its own window, in order', async () => {
      const t0 = new Date('2030-01-01T00:00:00Z');
      const [oldRs] = (await ensureSigningKeys(db(), vault, t0)).filter((k) => k.alg === 'RS256');
      const one = (await rotateSigningKeys(db(), vault, { delayMs: 10 * MINUTE, graceMs: DAY, now: t0 })).added[0]!;
      const two = (await rotateSigningKeys(db(), vault, { delayMs: 10 * MINUTE, graceMs: DAY, now: at(t0, 5 * MINUTE) })).added[0]!;
      const keys = await readKeys(db(), vault, t0);
      expect(signer(keys, 'RS256', at(t0, 9 * MINUTE))).to.equal(oldRs!._id);
      expect(signer(keys, 'RS256', at(t0, 10 * MINUTE))).to.equal(one.kid);
      expect(signer(keys, 'RS256', at(t0, 15 * MINUTE))).to.equal(two.kid);
      expect(keyState(keys.find((k) => k._id === one.kid)!, at(t0, 15 * MINUTE))).to.equal('retired');
    });

    it('--compromised: the new keys sign at once and every previous key is deleted', async () => {
      const t0 = new Date('2030-01-01T00:00:00Z');
      await ensureSigningKeys(db(), vault, t0);
      await rotateSigningKeys(db(), vault, { delayMs: 10 * MINUTE, graceMs: DAY, now: t0 });
      const rotation = await rotateSigningKeys(db(), vault, { delayMs: 10 * MINUTE, graceMs: DAY, now: at(t0, MINUTE), compromised: true });
      expect(rotation.removed).to.equal(4);
      const keys = await readKeys(db(), vault, t0);
      expect(keys.map((k) => k._id).sort()).to.deep.equal(rotation.added.map((k) => k.kid).sort());
      expect(keys.map((k) => keyState(k, at(t0, MINUTE)))).to.deep.equal(['signing', 'signing']);
    });

    it('reads keys stored before staged rotation (no activatesAt, no deleteAfter)', async () => {
      const t0 = new Date('2030-01-01T00:00:00Z');
      const [current] = await ensureSigningKeys(db(), vault, at(t0, -DAY));
      await database.connection.collection('signing_keys').updateOne({ _id: current!._id as never }, { $unset: { activatesAt: '', deleteAfter: '' } });
      await database.connection.collection('signing_keys').insertOne({ _id: 'legacy-retired' as never, alg: current!.alg, jwk: { ...current!.jwk, kid: 'legacy-retired' }, createdAt: at(t0, -30 * DAY), retiredAt: at(t0, -10 * DAY) });
      const listing = await listSigningKeys(db(), t0);
      const row = (kid: string) => listing.find((k) => k.kid === kid)!;
      expect(row(current!._id)).to.include({ state: 'signing', deleteAfter: null });
      expect(row(current!._id).activatesAt.getTime()).to.equal(current!.createdAt.getTime());
      expect(row('legacy-retired').state).to.equal('retired');
      expect(signer(await readKeys(db(), vault, t0), current!.alg, t0)).to.equal(current!._id);
      // Kept until a rotation removes it after the grace period, as before.
      expect(await deleteExpiredKeys(db(), t0)).to.equal(0);
      expect(await deleteExpiredKeys(db(), t0, 7 * DAY)).to.equal(1);
    });

    it('refuses a propagation delay shorter than the JWKS cache lifetime plus one poll', () => {
      const env = { NODE_ENV: 'test', DATA_DIR: mkdtempSync(join(testRoot, 'cfg-')) };
      expect(() => loadConfig({ ...env, JWKS_MAX_AGE_S: '300', KEYS_POLL_MS: '5000', KEY_ROTATION_DELAY_S: '304' }))
        .to.throw(ConfigError, /KEY_ROTATION_DELAY_S: must be at least JWKS_MAX_AGE_S \+ KEYS_POLL_MS \(305 seconds\)/);
      const defaults = loadConfig(env).signingKeys;
      expect(defaults).to.deep.equal({ pollMs: 5000, jwksMaxAgeS: 300, rotationDelayMs: 900_000 });
      expect(defaults.rotationDelayMs).to.be.at.least(defaults.jwksMaxAgeS * 1000 + defaults.pollMs);
    });
  });

  describe('keys:list and keys:rotate', () => {
    let database: TestDatabase;
    let env: NodeJS.ProcessEnv;
    // The CLI seals new keys with its DATA_KEYS; the test reads them with the same.
    const dataKey = randomBytes(32).toString('base64url');
    const vault = new DataVault([dataKey]);
    const latchkey = (args: string[]): Promise<Run> => runCli(args, env);
    before(async () => {
      database = await freshDatabase();
      env = cliEnvironment(database.name, { DATA_KEYS: dataKey });
    });
    after(async () => {
      await database.drop();
    });

    it('rotate says when the new keys sign; list shows each key with its state and dates', async () => {
      const empty = await latchkey(['keys:list']);
      expect(empty.code, empty.stderr).to.equal(0);
      expect(empty.stdout).to.match(/no signing keys yet/);

      const current = await ensureSigningKeys(database.connection.db!, vault);
      const rotate = await latchkey(['keys:rotate', '--grace-days', '3']);
      expect(rotate.code, rotate.stderr).to.equal(0);
      const added = (await readKeys(database.connection.db!, vault)).filter((k) => !current.some((c) => c._id === k._id));
      expect(added).to.have.length(2);
      for (const key of added) {
        // The default propagation delay: 15 minutes.
        expect(key.activatesAt!.getTime() - key.createdAt.getTime()).to.equal(15 * MINUTE);
        expect(rotate.stdout).to.match(new RegExp(`${key.alg} ${key._id}  signs from \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ \\(in 15 minutes\\)`));
      }
      for (const key of current) expect(rotate.stdout).to.match(new RegExp(`${key.alg} ${key._id}  published until `));
      expect(rotate.stdout).to.match(/no restart needed/);
      const retired = (await readKeys(database.connection.db!, vault)).find((k) => k._id === current[0]!._id)!;
      expect(retired.deleteAfter!.getTime() - retired.retiredAt!.getTime()).to.equal(3 * DAY);

      const list = await latchkey(['keys:list']);
      expect(list.code, list.stderr).to.equal(0);
      const [header, ...rows] = list.stdout.trim().split('\n');
      expect(header!.split(/\s{2,}/)).to.deep.equal(['KID', 'ALG', 'STATE', 'CREATED', 'SIGNS FROM', 'SIGNS UNTIL', 'PUBLISHED UNTIL']);
      expect(rows).to.have.length(4);
      const cells = Object.fromEntries(rows.map((row) => {
        const [kid, ...rest] = row.split(/\s{2,}/);
        return [kid, rest];
      }));
      const iso = (date: Date | null | undefined) => (date ? date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');
      for (const key of added) {
        expect(cells[key._id]).to.deep.equal([key.alg, 'next', iso(key.createdAt), iso(key.activatesAt), '-', '-']);
      }
      for (const key of current) {
        const stored = (await readKeys(database.connection.db!, vault)).find((k) => k._id === key._id)!;
        expect(cells[key._id]).to.deep.equal([key.alg, 'signing', iso(key.createdAt), iso(key.activatesAt), iso(stored.retiredAt), iso(stored.deleteAfter)]);
      }
    });

    it('keeps a replaced key published at least the ID token lifetime plus the JWKS max-age, whatever --grace-days says', async () => {
      const unreplaced = (await readKeys(database.connection.db!, vault)).filter((k) => k.retiredAt === null).map((k) => k._id);
      expect(unreplaced).to.have.length(2);
      const rotate = await latchkey(['keys:rotate', '--grace-days', '0']);
      expect(rotate.code, rotate.stderr).to.equal(0);
      for (const key of (await readKeys(database.connection.db!, vault)).filter((k) => unreplaced.includes(k._id))) {
        expect(key.deleteAfter!.getTime() - key.retiredAt!.getTime(), key._id).to.equal((3600 + 300) * 1000);
      }
    });

    it('--compromised signs with new keys now and deletes every other key', async () => {
      const run = await latchkey(['keys:rotate', '--compromised']);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/signs from .* \(now\)/);
      expect(run.stdout).to.match(/removed \d+ previous keys \(compromised\)/);
      const keys = await readKeys(database.connection.db!, vault);
      expect(keys).to.have.length(2);
      expect(keys.map((k) => keyState(k, new Date()))).to.deep.equal(['signing', 'signing']);
    });

    it('refuses to start when the delay is shorter than the JWKS max-age plus one poll', async () => {
      const run = await runCli(['keys:rotate'], { ...env, JWKS_MAX_AGE_S: '600', KEY_ROTATION_DELAY_S: '60' });
      expect(run.code).to.equal(2);
      expect(run.stderr).to.match(/KEY_ROTATION_DELAY_S: must be at least/);
    });
  });

  describe('three instances behind a round-robin proxy', () => {
    const MAX_AGE_S = 2;
    const POLL_MS = 250;
    const DELAY_MS = 3_000;
    const rsClient = publicClient({ client_id: 'rp-rs256' });
    const esClient = publicClient({ client_id: 'rp-es256', id_token_signed_response_alg: 'ES256' } as never);
    let cluster: Cluster;
    const person = { email: 'ada@example.com', password: 'a staged passphrase for keys 42' };

    before(async () => {
      cluster = await startCluster(3, {
        clients: [rsClient, esClient],
        env: { KEYS_POLL_MS: String(POLL_MS), JWKS_MAX_AGE_S: String(MAX_AGE_S), KEY_ROTATION_DELAY_S: String(DELAY_MS / 1000) },
        policy: { throttle: { perIp: { points: 100_000 }, perIpEmail: { points: 100_000 } } },
      });
      await createUser(cluster.instances[0]!.deps, person);
    });
    after(async () => {
      await cluster?.stop();
    });

    const db = () => cluster.database.connection.db!;
    // Keys the test adds are sealed with the DATA_KEYS the instances share.
    const vault = () => new DataVault([cluster.dataKeys]);
    const jwksAt = async (base: string) => {
      const response = await fetch(new URL('/jwks', base));
      return { cacheControl: response.headers.get('cache-control'), keys: ((await response.json()) as { keys: JsonWebKey[] }).keys };
    };

    it('sends the JWKS with Cache-Control: public, max-age=JWKS_MAX_AGE_S from every instance', async () => {
      for (const base of cluster.proxy.targets) {
        const { cacheControl, keys } = await jwksAt(base);
        expect(cacheControl, base).to.equal(`public, max-age=${MAX_AGE_S}`);
        expect(keys.every((k) => k.d === undefined)).to.equal(true);
      }
    });

    it('rotating twice while a relying party signs in and verifies against its cached JWKS: not one verification fails', async () => {
      /** A relying party's JWKS cache: fetched through the proxy (any instance), kept for max-age, never refreshed early. */
      class CachedJwks {
        keys: JsonWebKey[] = [];
        expires = 0;
        fetches = 0;
        async get(uri: string): Promise<JsonWebKey[]> {
          if (Date.now() >= this.expires) {
            const response = await fetch(uri);
            const maxAge = Number(/max-age=(\d+)/.exec(response.headers.get('cache-control') ?? '')?.[1] ?? 0);
            this.keys = ((await response.json()) as { keys: JsonWebKey[] }).keys;
            this.expires = Date.now() + maxAge * 1000;
            this.fetches++;
          }
          return this.keys;
        }
      }
      /** `started` and `at` bracket the moment the token was signed. */
      interface Outcome { alg: string; kid: string; started: number; at: number; ok: boolean; reason?: string }

      async function relyingParty(client: typeof rsClient, stop: { done: boolean }): Promise<{ outcomes: Outcome[]; jwks: CachedJwks }> {
        const config: oidc.Configuration = await discover(cluster.url, client);
        const jwksUri = config.serverMetadata().jwks_uri!;
        const jwks = new CachedJwks();
        const agent = new Agent(); // signs in once with the password, then rides the session
        const outcomes: Outcome[] = [];
        while (!stop.done) {
          const started = Date.now();
          const { tokens } = await signIn(config, agent, person.email, person.password);
          const idToken = tokens.id_token!;
          const [header, payload, signature] = idToken.split('.') as [string, string, string];
          const { alg, kid } = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg: string; kid: string };
          const key = (await jwks.get(jwksUri)).find((k) => k.kid === kid);
          let ok = false;
          let reason: string | undefined;
          if (!key) {
            reason = `kid ${kid} not in the cached JWKS`;
          } else {
            ok = verify('sha256', Buffer.from(`${header}.${payload}`), {
              key: createPublicKey({ key, format: 'jwk' }),
              ...(alg === 'ES256' ? { dsaEncoding: 'ieee-p1363' as const } : {}),
            }, Buffer.from(signature, 'base64url'));
            if (!ok) reason = 'bad signature';
          }
          outcomes.push({ alg, kid, started, at: Date.now(), ok, reason });
        }
        return { outcomes, jwks };
      }

      const stop = { done: false };
      const parties = Promise.all([relyingParty(rsClient, stop), relyingParty(esClient, stop)]);
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      const forwardedBefore = cluster.proxy.forwarded.length;
      const stored = await readKeyRecords(db());
      const initial = { RS256: signer(stored, 'RS256', new Date()), ES256: signer(stored, 'ES256', new Date()) };
      try {
        await sleep(1_000);
        const one = await rotateSigningKeys(db(), vault(), { delayMs: DELAY_MS, graceMs: DAY });
        // Every instance publishes the new keys within a poll, long before they sign.
        await sleep(POLL_MS * 3);
        for (const base of cluster.proxy.targets) {
          expect((await jwksAt(base)).keys.map((k) => k.kid), base).to.include.members(one.added.map((k) => k.kid));
        }
        await sleep(one.added[0]!.activatesAt.getTime() - Date.now() + 1_500);
        const two = await rotateSigningKeys(db(), vault(), { delayMs: DELAY_MS, graceMs: DAY });
        await sleep(two.added[0]!.activatesAt.getTime() - Date.now() + 1_500);
        stop.done = true;
        const results = await parties;

        const all = results.flatMap((r) => r.outcomes);
        const failures = all.filter((o) => !o.ok);
        expect(failures, JSON.stringify(failures.slice(0, 5))).to.deep.equal([]);
        for (const [i, { outcomes, jwks }] of results.entries()) {
          const alg = i === 0 ? 'RS256' : 'ES256';
          const kidOf = (rotation: typeof one) => rotation.added.find((k) => k.alg === alg)!;
          // The signing kid changed twice, in order, each at its activation time and not before.
          const sequence = outcomes.map((o) => o.kid).filter((kid, n, list) => kid !== list[n - 1]);
          expect(sequence, `${alg} signing kids in order`).to.deep.equal([initial[alg], kidOf(one).kid, kidOf(two).kid]);
          // Every instance switches at activatesAt, whatever the phase of its poll: no token
          // from the new key before it, none from the key it replaces after it.
          for (const [previous, rotation] of [[initial[alg]!, one], [kidOf(one).kid, two]] as const) {
            const { kid, activatesAt } = kidOf(rotation);
            const signed = outcomes.filter((o) => o.kid === kid);
            expect(signed.length, `${alg} tokens signed by ${kid}`).to.be.at.least(3);
            expect(Math.min(...signed.map((o) => o.at)), `${alg} ${kid} signed before its activation`).to.be.at.least(activatesAt.getTime());
            const late = outcomes.filter((o) => o.kid === previous && o.started >= activatesAt.getTime());
            expect(late, `${alg} ${previous} still signing after ${activatesAt.toISOString()}`).to.deep.equal([]);
          }
          expect(outcomes.every((o) => o.alg === alg)).to.equal(true);
          expect(jwks.fetches, `${alg} JWKS fetches`).to.be.at.least(4);
        }
        // The sign-ins went through every instance.
        expect(new Set(cluster.proxy.forwarded.slice(forwardedBefore)).size).to.equal(3);
      } finally {
        stop.done = true;
        await parties.catch(() => {});
      }
    });

    it('--compromised: within a poll every instance signs with the new keys and no longer publishes the old ones', async () => {
      const before = (await jwksAt(cluster.url)).keys.map((k) => k.kid);
      const rotation = await rotateSigningKeys(db(), vault(), { delayMs: DELAY_MS, graceMs: DAY, compromised: true });
      await new Promise((resolve) => setTimeout(resolve, POLL_MS * 3));
      const config = await discover(cluster.url, rsClient);
      const newRs = rotation.added.find((k) => k.alg === 'RS256')!.kid;
      const agent = new Agent();
      for (const [i, base] of cluster.proxy.targets.entries()) {
        const kids = (await jwksAt(base)).keys.map((k) => k.kid);
        expect(kids.sort(), base).to.deep.equal(rotation.added.map((k) => k.kid).sort());
        expect(kids.some((kid) => before.includes(kid))).to.equal(false);
        // Three sign-ins: their token requests land on different instances in turn.
        const { tokens } = await signIn(config, agent, person.email, person.password);
        const { kid } = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()) as { kid: string };
        expect(kid, `sign-in ${i}`).to.equal(newRs);
        // A relying party holding the JWKS from before the rotation cannot verify it: this is what the staging avoids.
        expect(before).not.to.include(kid);
      }
    });
  });
});
