// The process: configuration → server → wait for a signal → graceful stop.
import { loadConfig, ConfigError } from './config.ts';
import { createLogger } from './log.ts';
import { startServer } from './server.ts';
import { ensureDemoAccount } from './demo-account.ts';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`latchkey: configuration error\n${error.message}`);
    process.exit(2);
  }
  throw error;
}

const log = createLogger(config.logLevel);
const server = await startServer(config, log).catch((error: Error) => {
  log.fatal({ err: error }, 'could not start');
  process.exit(1);
});

log.info({ url: server.url, database: config.mongodbUri ? 'MONGODB_URI' : 'embedded (FerretDB)' }, 'Latchkey is listening');
if (config.demoApp) {
  const demo = await ensureDemoAccount(server.deps).catch((error: Error) => {
    log.error({ err: error }, 'could not create the demo account');
    return { email: 'demo@example.com', password: undefined };
  });
  console.log([
    '',
    `  Latchkey is running at ${server.url}`,
    `  Try a sign-in: open ${server.url}/demo and sign in as ${demo.email}${demo.password ? ` with password ${demo.password}` : ' (password printed on first start)'}`,
    '  (the demo app and account exist only when DEMO_APP is on, the default outside production)',
    '',
  ].join('\n'));
}

// A member of a pool stops in steps: readiness fails at once (the load balancer
// takes this instance out), requests keep being served for SHUTDOWN_DRAIN_MS, then
// the server finishes what is in flight, hands background work back and exits.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    server.drain();
    log.info({ signal, drainMs: config.shutdownDrainMs }, 'stopping: readiness now fails');
    if (config.shutdownDrainMs) await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
    log.info('stopping: finishing requests in flight');
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    await server.stop();
    log.info('stopped');
    process.exit(0);
  });
}
