// The database goes away and comes back: pages answer 503 with a readable page,
// readiness fails, and the service resumes by itself, with no restart.
import { expect } from 'chai';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { startDevDb, type DevDb } from '../../src/db/devdb.ts';
import { connect } from '../../src/db/connection.ts';
import { createUser } from '../../src/accounts/users.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { Agent } from '../helpers/agent.ts';
import { discover, publicClient, signIn, startAuthorization } from '../helpers/rp.ts';
import { testRoot } from '../setup.ts';

const freePort = () => new Promise<number>((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address() as { port: number };
    probe.close(() => resolve(port));
  });
});

async function until(check: () => Promise<boolean>, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('database outage', function () {
  this.timeout(90_000);
  if (process.env.MONGODB_URI) return; // needs a database this test can stop and start

  const client = publicClient();
  let dir: string;
  let port: number;
  let devdb: DevDb;
  let server: RunningServer;

  before(async () => {
    dir = mkdtempSync(join(testRoot, 'outage-'));
    port = await freePort();
    devdb = await startDevDb(join(dir, 'db'), { port });
    const connection = await connect(devdb.uri, { dbName: 'outage' });
    const config = loadConfig({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DEMO_APP: 'false', DATA_DIR: dir, MONGODB_URI: devdb.uri });
    server = await startServer(config, createLogger('silent'), { connection, clients: [client] });
    await createUser(server.deps, { email: 'steady@example.com', password: 'through the outage 5' });
  });
  after(async () => {
    await server?.stop();
    await server?.deps.connection.close();
    await devdb?.stop();
  });

  const ready = async () => (await fetch(`${server.url}/healthz/ready`)).status === 200;

  it('answers 503 while the database is down, and resumes when it returns', async () => {
    const config = await discover(server.url, client);
    expect(await ready()).to.equal(true);

    await devdb.stop();
    await until(async () => !(await ready()), 20_000);
    expect((await fetch(`${server.url}/healthz/live`)).status, 'liveness does not depend on the database').to.equal(200);

    const page = await new Agent().follow((await startAuthorization(config)).url.href);
    expect(page.status).to.equal(503);
    expect(page.headers.get('retry-after')).to.equal('30');
    expect(page.body).to.contain('Temporarily unavailable').and.not.match(/\bat \S+ \(|Mongo/);

    const json = await fetch(`${server.url}/api/password-resets`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: '{"email":"a@example.com"}' });
    expect(json.status).to.equal(503);

    devdb = await startDevDb(join(dir, 'db'), { port });
    await until(ready, 30_000);
    const { tokens } = await signIn(config, new Agent(), 'steady@example.com', 'through the outage 5');
    expect(tokens.access_token).to.be.a('string');
  });
});
