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
