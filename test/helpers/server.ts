// A real Latchkey server for a test: random port, its own fresh database on the
// run's database server, no mail server unless a test gives one.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from 'mongoose';
import type { ClientMetadata } from 'oidc-provider';
import { loadConfig, type Config, type Policy } from '../../src/config.ts';
import { connect } from '../../src/db/connection.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { databaseServerUri, testRoot } from '../setup.ts';
import { startSmtp, type TestSmtp } from './smtp.ts';
import { lazy } from './lazy.ts';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export interface TestServerOptions {
  policy?: DeepPartial<Policy>;
  env?: Record<string, string>;
  clients?: ClientMetadata[];
  /** A logger of the test's own (to read what the server logs). */
  log?: Logger;
}

export interface TestDatabase {
  name: string;
  connection: Connection;
  drop(): Promise<void>;
}

export async function freshDatabase(): Promise<TestDatabase> {
  const name = `lk_test_${randomBytes(6).toString('hex')}`;
  const connection = await connect(databaseServerUri(), { dbName: name });
  return {
    name,
    connection,
    async drop() {
      await connection.dropDatabase().catch(() => {});
      await connection.close();
    },
  };
}

export function testConfig(options: TestServerOptions = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DEMO_APP: 'false',
    DATA_DIR: mkdtempSync(join(testRoot, 'data-')),
    LATCHKEY_CONFIG: 'config/latchkey.json',
    MONGODB_URI: databaseServerUri(),
    ...options.env,
  }, options.policy as Partial<Policy>);
}

/** Starts a server on `database` (a fresh one when omitted). Stopping it leaves the database for a restart. */
export async function startTestServer(options: TestServerOptions & { database?: TestDatabase } = {}): Promise<RunningServer & { database: TestDatabase }> {
  const database = options.database ?? (await freshDatabase());
  const config = testConfig(options);
  const server = await startServer(config, options.log ?? createLogger(config.logLevel), { connection: database.connection, clients: options.clients });
  return Object.assign(server, { database });
}

export type TestServer = RunningServer & { database: TestDatabase };

/**
 * Per-address throttles generous enough that they decide nothing, for tests that
 * send every request from 127.0.0.1 while they check something else (lockout, the
 * flows). Per-email limits stay as configured: tests use an address per case.
 */
export const LENIENT_THROTTLES = {
  throttle: { perIp: { points: 10_000 }, perIpEmail: { points: 10_000 } },
  forgotPassword: { perIpPerHour: 10_000 },
} satisfies DeepPartial<Policy>;

/**
 * A server for the enclosing `describe`: started in a before hook (with a real SMTP
 * server first when `smtp` is set, its URL given as SMTP_URL), stopped with its
 * database dropped (then the SMTP server closed) in an after hook. What it returns
 * stands for the started servers, so tests read `server.url`, `smtp.waitFor(...)`.
 */
export function useTestServer(options: TestServerOptions & { smtp?: boolean } = {}): { server: TestServer; smtp: TestSmtp } {
  let started: { server: TestServer; smtp: TestSmtp | undefined } | undefined;
  before(async function () {
    this.timeout(60_000);
    const smtp = options.smtp ? await startSmtp() : undefined;
    try {
      const server = await startTestServer({ ...options, env: { ...(smtp ? { SMTP_URL: smtp.url } : {}), ...options.env } });
      started = { server, smtp };
    } catch (error) {
      await smtp?.close();
      throw error;
    }
  });
  after(async function () {
    this.timeout(60_000);
    const stopping = started;
    started = undefined;
    if (!stopping) return;
    await stopping.server.stop();
    await stopping.server.database.drop();
    await stopping.smtp?.close();
  });
  return {
    server: lazy('the test server', () => started?.server),
    smtp: lazy('the test SMTP server (useTestServer({ smtp: true }))', () => started?.smtp),
  };
}

/** Runs `use` with a server of its own, stopped with its database dropped afterwards, whatever happened. */
export async function withTestServer<T>(options: TestServerOptions, use: (server: TestServer) => Promise<T>): Promise<T> {
  const server = await startTestServer(options);
  try {
    return await use(server);
  } finally {
    await server.stop();
    await server.database.drop();
  }
}
