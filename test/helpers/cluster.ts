// Several Latchkey instances on one database behind a round-robin proxy, as a
// load balancer without sticky sessions would run them: every request goes to
// the next instance in turn. Each instance has its own database connection and
// the same ISSUER (the proxy's URL) and COOKIE_KEYS, as a real deployment shares.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { connect } from '../../src/db/connection.ts';
import { createLogger } from '../../src/log.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { databaseServerUri } from '../setup.ts';
import { freshDatabase, testConfig, type TestDatabase, type TestServerOptions } from './server.ts';

export interface RoundRobinProxy {
  url: string;
  /** Where the proxy forwards to, in turn; replace entries to take an instance out or in. */
  targets: string[];
  /** Which target each forwarded request went to (index into targets at the time). */
  readonly forwarded: number[];
  close(): Promise<void>;
}

/** A plain HTTP proxy on 127.0.0.1 that sends each request to the next target, with X-Forwarded-For kept as the client's. */
export async function startRoundRobinProxy(targets: string[] = []): Promise<RoundRobinProxy> {
  let next = 0;
  const forwarded: number[] = [];
  const state = { targets };
  const server: Server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    if (!state.targets.length) {
      outgoing.writeHead(502).end('no instance');
      return;
    }
    const index = next++ % state.targets.length;
    forwarded.push(index);
    const target = new URL(incoming.url ?? '/', state.targets[index]);
    const upstream = request(target, { method: incoming.method, headers: incoming.headers, agent: false }, (response) => {
      outgoing.writeHead(response.statusCode ?? 502, response.rawHeaders as unknown as Record<string, string>);
      response.pipe(outgoing);
    });
    upstream.on('error', () => {
      if (!outgoing.headersSent) outgoing.writeHead(502);
      outgoing.end();
    });
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get targets() {
      return state.targets;
    },
    set targets(value: string[]) {
      state.targets = value;
    },
    forwarded,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

export interface Cluster {
  /** The proxy's URL: the issuer every instance announces. */
  url: string;
  proxy: RoundRobinProxy;
  instances: RunningServer[];
  database: TestDatabase;
  cookieKeys: string;
  /** The DATA_KEYS every instance shares (secrets encrypted by one decrypt on the others). */
  dataKeys: string;
  stop(): Promise<void>;
}

/** `size` instances, each with its own connection to one fresh database, behind a round-robin proxy. */
export async function startCluster(size: number, options: TestServerOptions = {}): Promise<Cluster> {
  const proxy = await startRoundRobinProxy();
  const database = await freshDatabase();
  const cookieKeys = [randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')].join(',');
  const dataKeys = randomBytes(32).toString('base64url');
  const instances: RunningServer[] = [];
  const connections: Array<{ close(): Promise<void> }> = [];
  try {
    for (let i = 0; i < size; i++) {
      const connection = await connect(databaseServerUri(), { dbName: database.name });
      connections.push(connection);
      const config = testConfig({ ...options, env: { ISSUER: proxy.url, COOKIE_KEYS: cookieKeys, DATA_KEYS: dataKeys, ...options.env } });
      instances.push(await startServer(config, options.log ?? createLogger(config.logLevel), { connection, clients: options.clients }));
    }
  } catch (error) {
    await Promise.all(instances.map((instance) => instance.stop()));
    await Promise.all(connections.map((connection) => connection.close()));
    await proxy.close();
    await database.drop();
    throw error;
  }
  proxy.targets = instances.map((instance) => `http://127.0.0.1:${(instance.http.address() as AddressInfo).port}`);
  return {
    url: proxy.url,
    proxy,
    instances,
    database,
    cookieKeys,
    dataKeys,
    async stop() {
      await proxy.close();
      await Promise.all(instances.map((instance) => instance.stop()));
      await Promise.all(connections.map((connection) => connection.close()));
      await database.drop();
    },
  };
}
