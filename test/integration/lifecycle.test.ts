// An instance's life in a pool, as a load balancer sees it through real processes:
// every request answered from the moment the port accepts connections, readiness
// only once everything is wired, and on SIGTERM readiness failing at once, a drain
// during which requests are still served, requests in flight finished, exit 0.
import { expect } from 'chai';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { startServerProcess } from '../helpers/process.ts';
import { freshDatabase, type TestDatabase } from '../helpers/server.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('lifecycle of an instance (real processes)', function () {
  this.timeout(120_000);
  let database: TestDatabase;

  before(async () => {
    database = await freshDatabase();
  });
  after(async () => {
    await database.drop();
  });

  it('answers every request from the moment the port accepts connections, and is ready only when wired', async () => {
    // A fresh database each time, so the start does its slowest work (indexes, first keys).
    const name = `lk_test_${randomBytes(6).toString('hex')}`;
    const server = await startServerProcess(name);
    const seen: Array<{ path: string; status: number; retryAfter: string | null; ms: number }> = [];
    const unanswered: string[] = [];
    try {
      let ready = false;
      const deadline = Date.now() + 60_000;
      while (!ready && Date.now() < deadline) {
        for (const path of ['/healthz/ready', '/healthz/live', '/.well-known/openid-configuration', '/password/forgot']) {
          const started = performance.now();
          try {
            // Far shorter than Node's request timeout: a request the port took but nobody answers shows here.
            const response = await fetch(`${server.url}${path}`, { signal: AbortSignal.timeout(5_000) });
            await response.arrayBuffer();
            seen.push({ path, status: response.status, retryAfter: response.headers.get('retry-after'), ms: performance.now() - started });
            if (path === '/healthz/ready' && response.status === 200) ready = true;
          } catch (error) {
            const cause = (error as { cause?: { code?: string } }).cause?.code;
            if (cause === 'ECONNREFUSED') continue; // the port is not bound yet
            unanswered.push(`${path}: ${(error as Error).name} ${cause ?? ''}`);
          }
        }
        await sleep(5);
      }
      expect(unanswered, 'requests the port took but nobody answered').to.deep.equal([]);
      expect(ready, 'became ready').to.equal(true);
      // Anything answered before readiness was a 503 asking to retry (liveness excepted).
      for (const answer of seen.filter((a) => a.status !== 200)) {
        expect(answer.status).to.equal(503);
        expect(answer.retryAfter).to.equal('1');
      }
      // Once ready, everything is wired.
      expect((await fetch(`${server.url}/.well-known/openid-configuration`)).status).to.equal(200);
      expect((await fetch(`${server.url}/password/forgot`)).status).to.equal(200);
    } finally {
      await server.kill('SIGKILL');
      const { connect } = await import('../../src/db/connection.ts');
      const { databaseServerUri } = await import('../setup.ts');
      const connection = await connect(databaseServerUri(), { dbName: name });
      await connection.dropDatabase().catch(() => {});
      await connection.close();
    }
  });

  it('on SIGTERM fails readiness at once, serves through the drain, finishes a request in flight, and exits 0', async () => {
    const server = await startServerProcess(database.name, { SHUTDOWN_DRAIN_MS: '1500' });
    await server.ready();

    // A request in flight: headers and half its body now, the rest after the signal.
    const body = 'email=someone%40example.com&x=' + 'y'.repeat(200);
    const inFlight = new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/password/forgot`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
      }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write(body.slice(0, 20));
      setTimeout(() => req.end(body.slice(20)), 2_500); // after the drain, while the server closes
    });
    await sleep(200);

    const signalled = performance.now();
    server.child.kill('SIGTERM');
    await sleep(50);
    // Readiness fails at once; liveness and pages are still served during the drain.
    const ready = await fetch(`${server.url}/healthz/ready`);
    expect(ready.status).to.equal(503);
    expect(await ready.json()).to.deep.equal({ status: 'unavailable', reason: 'draining' });
    expect((await fetch(`${server.url}/healthz/live`)).status).to.equal(200);
    expect((await fetch(`${server.url}/.well-known/openid-configuration`)).status).to.equal(200);

    // The request in flight gets its answer (the form has no CSRF token: a 403 page), not a reset connection.
    expect(await inFlight).to.equal(403);
    expect(await server.exited).to.equal(0);
    // Not before the drain was over.
    expect(performance.now() - signalled).to.be.at.least(1_500);
    expect(server.output()).to.not.match(/"level":(50|60)/);
  });
});
