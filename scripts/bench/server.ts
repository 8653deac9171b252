// The Latchkey server under test, as a child process of the bench: startServer
// with a fresh DATA_DIR (its own embedded FerretDB, or a fresh database on
// MONGODB_URI), PORT=0 on 127.0.0.1, LOG_LEVEL=warn (logs to stderr), no demo app,
// the bench's clients, throttles out of the way, and the users created up front.
// Prints one JSON line on stdout when ready: {"ready": true, "url": ..., ...}.
// Stops on SIGTERM/SIGINT or when stdin ends (the bench process went away).
//
// BENCH_CHILD_CONFIG (environment): JSON {dataDir, users: [{email, password}], clients: [...]}.
import { randomBytes } from 'node:crypto';
import type { ClientMetadata } from 'oidc-provider';
import { join } from 'node:path';
import { appendFileSync } from 'node:fs';
import { loadConfig, type Policy } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { startServer } from '../../src/server.ts';
import { connect } from '../../src/db/connection.ts';
import { startDevDb, type DevDb } from '../../src/db/devdb.ts';
import { createUser } from '../../src/accounts/users.ts';

interface Options {
  dataDir: string;
  users: Array<{ email: string; password: string }>;
  clients: ClientMetadata[];
}

const options = JSON.parse(process.env.BENCH_CHILD_CONFIG ?? '{}') as Options;

// Only what the bench does not decide itself passes through: the database and the policy file.
const env: Record<string, string> = {
  NODE_ENV: 'development',
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  DEMO_APP: 'false',
  DATA_DIR: options.dataDir,
};
if (process.env.MONGODB_URI) env.MONGODB_URI = process.env.MONGODB_URI;
if (process.env.LATCHKEY_CONFIG) env.LATCHKEY_CONFIG = process.env.LATCHKEY_CONFIG;

// Generous throttles: the load comes from one IP and signs the same accounts in many times.
const generous = { points: 1_000_000_000, durationSeconds: 900 };
const config = loadConfig(env, { throttle: { perIp: generous, perIpEmail: generous } } as Partial<Policy>);
const log = createLogger(config.logLevel, 2);

// The database, opened here rather than by startServer so the driver can count
// commands (monitorCommands): the embedded FerretDB under DATA_DIR as openDatabase
// starts it, or a database of the run's own on MONGODB_URI, dropped at the end.
let devdb: DevDb | undefined;
let uri = config.mongodbUri;
if (!uri) {
  devdb = await startDevDb(join(config.dataDir, 'devdb'));
  uri = devdb.uri;
}
const connection = await connect(withMonitoring(uri), { dbName: config.mongodbUri ? `latchkey_bench_${randomBytes(6).toString('hex')}` : 'latchkey' });
const commands: Record<string, number> = {};
// BENCH_TRACE_COMMANDS=<file>: one line per command (name, collection, filter keys), to see what a flow sends.
const trace = process.env.BENCH_TRACE_COMMANDS;
connection.getClient().on('commandStarted', (event) => {
  commands[event.commandName] = (commands[event.commandName] ?? 0) + 1;
  if (trace) {
    const body = event.command as Record<string, unknown>;
    const filter = (body.filter ?? body.query ?? (body.updates as Array<{ q: object }> | undefined)?.[0]?.q ?? (body.deletes as Array<{ q: object }> | undefined)?.[0]?.q ?? {}) as object;
    appendFileSync(trace, `${event.commandName} ${String(body[event.commandName])} ${Object.keys(filter).join(',')}\n`);
  }
});

const server = await startServer(config, log, { clients: options.clients, connection });

let stopping: Promise<void> | undefined;
const stop = () => (stopping ??= (async () => {
  const force = setTimeout(() => process.exit(1), 20_000);
  force.unref();
  try {
    await server.stop();
    if (config.mongodbUri) await connection.dropDatabase().catch(() => {});
    await connection.close();
    await devdb?.stop();
  } finally {
    process.exit(0);
  }
})());
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
// SIGUSR2: the database commands sent so far, by name, as one JSON line.
process.on('SIGUSR2', () => process.stdout.write(`${JSON.stringify({ dbCommands: commands })}\n`));

// Accounts, two at a time (argon2 runs on libuv's pool: both cores).
const queue = [...options.users];
await Promise.all([0, 1].map(async () => {
  for (let user = queue.shift(); user; user = queue.shift()) await createUser(server.deps, { email: user.email, password: user.password, name: 'Bench Person' });
}));

process.stdout.write(`${JSON.stringify({ ready: true, url: server.url, pid: process.pid, users: options.users.length })}\n`);

/** The URI with monitorCommands=true added (a connection-string option of the driver). */
function withMonitoring(value: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?]+)(\/[^?]*)?(\?.*)?$/.exec(value);
  if (!match) return value;
  return `${match[1]}${match[2] ?? '/'}${match[3] ? `${match[3]}&` : '?'}monitorCommands=true`;
}
