// The operator CLI, run as operators run it: `bin/latchkey.js` in a child
// process against a fresh database, checked by exit code, output and what the
// database then holds.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { accountSubject } from '../../src/accounts/lockout.ts';
import { emailKey } from '../../src/accounts/email.ts';
import { loadSigningKeys } from '../../src/oidc/keys.ts';
import { DataVault, dataKeysFor } from '../../src/secrets.ts';
import type { LockoutState } from '../../src/db/models/lockout.ts';
import { freshDatabase, type TestDatabase } from '../helpers/server.ts';
import { cliEnvironment, runCli, type Run } from '../helpers/cli.ts';
import { startSmtp } from '../helpers/smtp.ts';

const DAY = 24 * 60 * 60_000;



describe('latchkey CLI', function () {
  this.timeout(30_000);
  let database: TestDatabase;
  let env: NodeJS.ProcessEnv;

  function latchkey(args: string[], options: { stdin?: string } = {}): Promise<Run> {
    return runCli(args, env, options.stdin);
  }

  const users = () => database.connection.collection('users');
  const clients = () => database.connection.collection('oidc_client');
  const keys = () => database.connection.collection('signing_keys');
  const lockouts = () => database.connection.collection<LockoutState>('lockouts');

  before(async () => {
    database = await freshDatabase();
    env = cliEnvironment(database.name);
  });
  after(async () => {
    await database.drop();
  });

  describe('user:create', () => {
    it('--must-change marks a temporary password that expires', async () => {
      const run = await latchkey(['user:create', '--email', 'handed@example.com', '--password-stdin', '--must-change'], { stdin: 'a temporary one 42\n' });
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.contain('must be changed at the first sign-in');
      const stored = await users().findOne({ emailNormalized: 'handed@example.com' });
      expect(stored!.mustChangePassword).to.equal(true);
      expect((stored!.temporaryPasswordExpiresAt as Date).getTime()).to.be.closeTo(Date.now() + 7 * DAY, 60_000);
    });

    it('--invite creates an account without a password and emails a set-password link', async () => {
      const smtp = await startSmtp();
      try {
        const run = await new Promise<Run>((done) => {
          const previous = env.SMTP_URL;
          env.SMTP_URL = smtp.url;
          latchkey(['user:create', '--email', 'invited@example.com', '--name', 'Invited One', '--invite']).then((r) => {
            env.SMTP_URL = previous;
            done(r);
          });
        });
        expect(run.code, run.stderr).to.equal(0);
        expect(run.stdout).to.match(/^invited invited@example\.com/);
        const stored = await users().findOne({ emailNormalized: 'invited@example.com' });
        expect(stored!.status).to.equal('invited');
        expect(stored!.passwordHash).to.equal(null);
        const mail = await smtp.waitFor((m) => (m.to as { text: string }).text.includes('invited@example.com'));
        expect(smtp.linkIn(mail)).to.match(/\/password\/set\?token=[\w-]{43}$/);
        expect(run.stdout + run.stderr, 'the link is not printed').to.not.contain('token=');
      } finally {
        await smtp.close();
      }
    });

    it('--invite conflicts with a password, and --client needs --invite and a known client', async () => {
      const both = await latchkey(['user:create', '--email', 'x@example.com', '--invite', '--password', 'whatever it is 1']);
      expect(both.code).to.equal(1);
      const lonelyClient = await latchkey(['user:create', '--email', 'x@example.com', '--password', 'whatever it is 1', '--client', 'nope']);
      expect(lonelyClient.code).to.equal(1);
      expect(lonelyClient.stderr).to.contain('--client goes with --invite');
      const unknownClient = await latchkey(['user:create', '--email', 'x@example.com', '--invite', '--client', 'nope']);
      expect(unknownClient.code).to.equal(1);
      expect(unknownClient.stderr).to.contain('no client with client_id nope');
      expect(await users().countDocuments({ emailNormalized: 'x@example.com' })).to.equal(0);
    });

    it('creates an active account with an argon2id hash, never storing or printing the password', async () => {
      const password = 'correct horse battery staple';
      const run = await latchkey(['user:create', '--email', 'Ada@Example.com', '--password', password, '--name', 'Ada Lovelace']);
      expect(run.code, run.stderr).to.equal(0);
      const stored = await users().findOne({ emailNormalized: 'ada@example.com' });
      expect(stored).to.include({ email: 'Ada@Example.com', name: 'Ada Lovelace', status: 'active' });
      expect(run.stdout.trim()).to.equal(`created user Ada@Example.com (${stored!._id})`);
      expect(stored!.passwordHash).to.match(/^\$argon2id\$/);
      expect(JSON.stringify(stored)).not.to.contain(password);
      expect(run.stdout + run.stderr).not.to.contain(password);
    });

    it('refuses an email that is taken, in any case, and keeps one account', async () => {
      const run = await latchkey(['user:create', '--email', 'ADA@example.com', '--password', 'another password']);
      expect(run.code).to.equal(1);
      expect(run.stderr).to.match(/^latchkey: .*already exists/);
      expect(run.stdout).to.equal('');
      expect(await users().countDocuments({ emailNormalized: 'ada@example.com' })).to.equal(1);
    });

    it('refuses an invalid email and a short password', async () => {
      const [badEmail, shortPassword] = await Promise.all([
        latchkey(['user:create', '--email', 'not-an-email', '--password', 'long enough password']),
        latchkey(['user:create', '--email', 'short@example.com', '--password', 'short']),
      ]);
      expect(badEmail.code).to.equal(1);
      expect(badEmail.stderr).to.match(/^latchkey: Not a valid email address: "not-an-email"/);
      expect(shortPassword.code).to.equal(1);
      expect(shortPassword.stderr).to.match(/^latchkey: Use at least 8 characters/);
      expect(shortPassword.stderr).not.to.contain('short@');
      expect(await users().countDocuments({ emailNormalized: { $in: ['not-an-email', 'short@example.com'] } })).to.equal(0);
    });

    it('reads the password from stdin with --password-stdin', async () => {
      const password = 'kept out of shell history';
      const run = await latchkey(['user:create', '--email', 'piped@example.com', '--password-stdin'], { stdin: `${password}\n` });
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/^created user piped@example\.com \(/);
      expect(run.stdout).not.to.contain(password);
      const stored = await users().findOne({ emailNormalized: 'piped@example.com' });
      expect(stored!.passwordHash).to.match(/^\$argon2id\$/);
      // The trailing newline is not part of the password.
      const argon2 = (await import('argon2')).default;
      expect(await argon2.verify(stored!.passwordHash, password)).to.equal(true);
    });

    it('needs a password, and only one way of giving it', async () => {
      const [none, both, emptyStdin] = await Promise.all([
        latchkey(['user:create', '--email', 'nopass@example.com']),
        latchkey(['user:create', '--email', 'nopass@example.com', '--password', 'long enough password', '--password-stdin']),
        latchkey(['user:create', '--email', 'nopass@example.com', '--password-stdin'], { stdin: '' }),
      ]);
      expect(none.code).to.equal(1);
      expect(none.stderr).to.contain('--password is required');
      expect(both.code).to.equal(1);
      expect(both.stderr).to.match(/--password .*cannot be used with.*--password-stdin/);
      expect(emptyStdin.code).to.equal(1);
      expect(emptyStdin.stderr).to.contain('no password on stdin');
      expect(await users().countDocuments({ emailNormalized: 'nopass@example.com' })).to.equal(0);
    });
  });

  describe('user:unlock', () => {
    it('clears the lock, the trusted-browser counters and the throttles, reporting what it found', async () => {
      const userId = randomUUID();
      await users().insertOne({
        _id: userId as never, email: 'locked@example.com', emailNormalized: 'locked@example.com',
        name: '', passwordHash: null, roles: [], status: 'active', emailVerified: false,
      });
      const lockedUntil = new Date(Date.now() + 10 * 60_000);
      const expiresAt = new Date(Date.now() + DAY);
      await lockouts().insertMany([
        { _id: accountSubject(userId), failures: 0, totalFailures: 5, lockedUntil, lockCount: 1, userId, windowStartedAt: null, expiresAt },
        { _id: 'device:some-browser', failures: 3, totalFailures: 3, lockedUntil: null, lockCount: 0, userId, windowStartedAt: new Date(), expiresAt },
        { _id: 'account:someone-else', failures: 2, totalFailures: 2, lockedUntil: null, lockCount: 0, userId: 'someone-else', windowStartedAt: new Date(), expiresAt },
      ]);
      const throttles = database.connection.collection('throttles');
      await throttles.insertOne({ key: `signin-email-ip:${emailKey('locked@example.com')}:192.0.2.1`, points: 10, expire: expiresAt });

      const run = await latchkey(['user:unlock', '--email', 'LOCKED@example.com']);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/^unlocked locked@example\.com/);
      expect(run.stdout).to.match(/failed sign-ins since the last success: 5\b/);
      expect(run.stdout).to.contain(`was locked until ${lockedUntil.toISOString()}`);
      expect(await lockouts().find().map((d) => d._id).toArray()).to.deep.equal(['account:someone-else']);
      expect(await throttles.countDocuments()).to.equal(0);
    });

    it('refuses an unknown email', async () => {
      const run = await latchkey(['user:unlock', '--email', 'nobody@example.com']);
      expect(run.code).to.equal(1);
      expect(run.stderr.trim()).to.equal('latchkey: no account with email nobody@example.com');
      expect(run.stdout).to.equal('');
    });
  });

  describe('client:add', () => {
    it('registers a client from stdin, generating and printing a secret it needs', async () => {
      const metadata = { client_id: 'shop', client_name: 'Shop', redirect_uris: ['https://shop.example.com/callback'], first_party: true };
      const run = await latchkey(['client:add'], { stdin: JSON.stringify(metadata) });
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/^registered client shop\b/);
      const stored = await clients().findOne({ _id: 'shop' as never });
      expect(stored!.payload).to.deep.include(metadata);
      const secret = stored!.payload.client_secret as string;
      expect(secret).to.match(/^[\w-]{43}$/); // 32 bytes, base64url
      expect(run.stdout).to.contain(secret);
    });

    it('registers an array of clients from --file; public clients get no secret', async () => {
      const file = join(env.DATA_DIR!, 'clients.json');
      writeFileSync(file, JSON.stringify([
        { client_id: 'spa', redirect_uris: ['https://spa.example.com/cb'], token_endpoint_auth_method: 'none' },
        { client_id: 'backend', redirect_uris: ['https://backend.example.com/cb'], client_secret: 'a-secret-the-operator-chose-long-enough' },
      ]));
      const run = await latchkey(['client:add', '--file', file]);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/registered client spa\b/);
      expect(run.stdout).to.match(/registered client backend\b/);
      expect(run.stdout).not.to.contain('client_secret');
      expect(run.stdout).not.to.contain('a-secret-the-operator-chose');
      const spa = await clients().findOne({ _id: 'spa' as never });
      expect(spa!.payload).not.to.have.property('client_secret');
      const backend = await clients().findOne({ _id: 'backend' as never });
      expect(backend!.payload.client_secret).to.equal('a-secret-the-operator-chose-long-enough');
    });

    it('refuses invalid metadata, naming the client, and stores none of the input', async () => {
      const valid = { client_id: 'fine', redirect_uris: ['https://fine.example.com/cb'] };
      const [notArray, missing, badFirstParty] = await Promise.all([
        latchkey(['client:add'], { stdin: JSON.stringify([valid, { client_id: 'broken', redirect_uris: 'https://broken.example.com/cb' }]) }),
        latchkey(['client:add'], { stdin: JSON.stringify({ client_id: 'noredirect' }) }),
        latchkey(['client:add'], { stdin: JSON.stringify({ ...valid, client_id: 'firstparty', first_party: 'yes' }) }),
      ]);
      expect(notArray.code).to.equal(1);
      expect(notArray.stderr).to.match(/^latchkey: client \[1\] "broken": .*redirect_uris must be an array/);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.match(/^latchkey: client "noredirect": .*redirect_uris is mandatory/);
      expect(badFirstParty.code).to.equal(1);
      expect(badFirstParty.stderr).to.match(/^latchkey: client "firstparty": first_party: .*boolean/);
      for (const run of [notArray, missing, badFirstParty]) expect(run.stdout).to.equal('');
      expect(await clients().countDocuments({ _id: { $in: ['fine', 'broken', 'noredirect', 'firstparty'] } as never })).to.equal(0);
    });

    it('refuses input that is not JSON, or is empty', async () => {
      const [notJson, empty, missingFile] = await Promise.all([
        latchkey(['client:add'], { stdin: '{"client_id": "x",' }),
        latchkey(['client:add'], { stdin: '  \n' }),
        latchkey(['client:add', '--file', join(env.DATA_DIR!, 'no-such-file.json')]),
      ]);
      expect(notJson.code).to.equal(1);
      expect(notJson.stderr).to.match(/^latchkey: stdin is not valid JSON/);
      expect(empty.code).to.equal(1);
      expect(empty.stderr).to.match(/^latchkey: no client metadata on stdin/);
      expect(missingFile.code).to.equal(1);
      expect(missingFile.stderr).to.match(/^latchkey: cannot read .*no-such-file\.json/);
      expect(await clients().countDocuments({ _id: 'x' as never })).to.equal(0);
    });
  });

  describe('keys:rotate', () => {
    it('adds a key per algorithm, retires the current ones and removes those past the grace period', async () => {
      // The same data keys the CLI processes use (kept in its DATA_DIR): the keys are sealed with them.
      await loadSigningKeys(database.connection.db!, new DataVault(dataKeysFor({ dataKeys: env.DATA_KEYS?.split(','), dataDir: env.DATA_DIR! })));
      const before = await keys().find({ retiredAt: null }).map((k) => k._id as unknown as string).toArray();
      expect(before).to.have.length(2);
      await keys().insertOne({ _id: 'long-retired' as never, alg: 'RS256', jwk: {}, createdAt: new Date(Date.now() - 30 * DAY), retiredAt: new Date(Date.now() - 10 * DAY) });

      const run = await latchkey(['keys:rotate', '--grace-days', '7']);
      expect(run.code, run.stderr).to.equal(0);
      const active = await keys().find({ retiredAt: null }).toArray();
      expect(active.map((k) => k.alg).sort()).to.deep.equal(['ES256', 'RS256']);
      for (const key of active) {
        expect(before).not.to.include(key._id);
        expect(run.stdout).to.contain(`${key.alg} ${key._id}`);
      }
      const retired = await keys().find({ retiredAt: { $ne: null } }).map((k) => k._id as unknown as string).toArray();
      expect(retired.sort()).to.deep.equal([...before].sort());
      expect(run.stdout).to.match(/removed 1 retired key\b/);
      expect(run.stdout).to.match(/no restart needed/);
    });

    it('refuses a --grace-days that is not a non-negative integer', async () => {
      const [negative, fraction] = await Promise.all([
        latchkey(['keys:rotate', '--grace-days', '-1']),
        latchkey(['keys:rotate', '--grace-days', '1.5']),
      ]);
      for (const run of [negative, fraction]) {
        expect(run.code).to.equal(1);
        expect(run.stderr).to.match(/^latchkey: option '--grace-days <days>' argument .* is invalid\. Must be a non-negative integer/);
      }
      expect(await keys().countDocuments({ retiredAt: null })).to.equal(2);
    });
  });

  describe('--help', () => {
    it('describes every command with an example', async () => {
      const commands = ['user:create', 'user:unlock', 'client:add', 'keys:rotate'];
      const runs = await Promise.all([latchkey(['--help']), ...commands.map((command) => latchkey([command, '--help']))]);
      const [top, ...each] = runs;
      expect(top!.code).to.equal(0);
      for (const command of commands) expect(top!.stdout).to.contain(command);
      each.forEach((run, i) => {
        expect(run.code, commands[i]).to.equal(0);
        expect(run.stdout).to.contain(`Usage: latchkey ${commands[i]}`);
        expect(run.stdout).to.match(new RegExp(`Examples?:\\n  \\$ .*latchkey ${commands[i]}`));
      });
    });
  });
});
