// Starting and stopping a Latchkey server: database → services → provider → app
// → listen. main.ts calls it for the process; tests call it for each server they need.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Connection } from 'mongoose';
import type { ClientMetadata } from 'oidc-provider';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { connect } from './db/connection.ts';
import { startDevDb, type DevDb } from './db/devdb.ts';
import type { Lifecycle } from './lifecycle.ts';
import { createServices, prepareDatabase, type AppDeps, type Services } from './deps.ts';
import { secondFactorStatus } from './accounts/mfa-policy.ts';
import { LiveProvider } from './oidc/live-provider.ts';
import { createProvider } from './oidc/provider.ts';
import { recordingSessionDevices } from './oidc/session-devices.ts';
import { demoClient, loadClientsFile, portalClient } from './oidc/clients.ts';
import { cookieKeysFor } from './secrets.ts';
import { providerPages } from './web/provider-pages.ts';
import { noticingNewBrowsers } from './web/new-browser-signin.ts';
import { currentTerms, termsPending } from './accounts/terms.ts';
import { createApp } from './app.ts';
import { deletionNotice, startScheduledDeletions } from './accounts/deletion.ts';
import { Metrics } from './metrics.ts';

export interface RunningServer {
  url: string;
  deps: AppDeps;
  http: Server;
  /** Readiness fails from now on (a load balancer takes the instance out); requests are still served. */
  drain(): void;
  /** Drains, finishes requests in flight and background work, then closes the database. */
  stop(): Promise<void>;
}

/**
 * The answer to every request that arrives before the app is wired (the port is
 * bound first because the issuer needs the port it got): 503 with Retry-After,
 * a short page, liveness 200. Never a request left waiting.
 */
function answerWhileStarting(request: IncomingMessage, response: ServerResponse): void {
  const live = request.url === '/healthz/live';
  const json = live || request.url?.startsWith('/healthz/') || request.url?.startsWith('/api/');
  const body = json
    ? JSON.stringify(live ? { status: 'ok' } : { status: 'unavailable', reason: 'starting' })
    : '<!doctype html><html lang="en"><meta charset="utf-8"><title>Starting</title><h1>Starting</h1><p>This service is starting. Please try again in a moment.</p></html>';
  request.resume(); // a body, if any, is read and dropped
  response.writeHead(live ? 200 : 503, {
    'Content-Type': json ? 'application/json' : 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    ...(live ? {} : { 'Retry-After': '1' }),
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(body);
}

/** The database the config points at: MONGODB_URI, or the embedded one under DATA_DIR. */
export async function openDatabase(config: Config, dbName?: string, log?: Logger): Promise<{ connection: Connection; close(): Promise<void> }> {
  let devdb: DevDb | undefined;
  let uri = config.mongodbUri;
  if (!uri) {
    devdb = await startDevDb(join(config.dataDir, 'devdb'), {
      onBuild: () => log?.info('building the embedded database with Go (first start only, about a minute)'),
    });
    uri = devdb.uri;
  }
  try {
    const connection = await connect(uri, { dbName: dbName ?? (config.mongodbUri ? undefined : 'latchkey') });
    return {
      connection,
      async close() {
        await connection.close();
        await devdb?.stop();
      },
    };
  } catch (error) {
    await devdb?.stop();
    throw error;
  }
}

export interface StartOptions {
  /** Use this connection (tests share one database server); it is left open on stop. */
  connection?: Connection;
  /** Clients to register besides the config file's (tests' relying parties). */
  clients?: ClientMetadata[];
}

export async function startServer(config: Config, log: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const opened = options.connection ? { connection: options.connection, close: async () => {} } : await openDatabase(config, undefined, log);
  const lifecycle: Lifecycle = { state: 'starting' };
  let handle: (request: IncomingMessage, response: ServerResponse) => void = answerWhileStarting;
  const http = createServer((request, response) => handle(request, response));
  let liveProvider: LiveProvider | undefined; // stopped on a failed start too
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.port, config.host, () => resolve());
    });
    const { port } = http.address() as AddressInfo;
    const issuer = config.issuerExplicit ? config.issuer : `http://localhost:${port}`;
    const resolved: Config = { ...config, port, issuer };

    const services: Services = createServices(resolved, log, opened.connection);
    const stopSweep = await prepareDatabase(services);
    const cookieKeys = cookieKeysFor(resolved);
    const clients = loadClientsFile(resolved.policy.clientsFile);
    // The organisation's terms in force, if any (accounts/terms.ts): the sign-in asks for them.
    const terms = currentTerms(resolved.policy.terms);
    clients.push(portalClient(issuer));
    if (resolved.demoApp) clients.push(demoClient(issuer));
    clients.push(...(options.clients ?? []));

    // A new provider whenever the signing keys change (live-provider.ts); deps.provider is the current one.
    const live = (liveProvider = await LiveProvider.start(services.db, services.vault, (jwks) => {
      const built = createProvider({
        issuer,
        db: services.db,
        users: services.users,
        jwks,
        jwksMaxAgeS: resolved.signingKeys.jwksMaxAgeS,
        cookieKeys,
        secure: resolved.secure,
        trustProxy: resolved.trustProxy,
        clients,
        lifetimes: resolved.policy.lifetimes,
        secondFactorOf: (accountId) => secondFactorStatus(services.factors, accountId, config.policy.mfa),
        termsPending: terms ? (accountId) => termsPending(services, terms, accountId) : undefined,
        pages: providerPages,
      });
      built.on('server_error', (_ctx, error) => log.error({ err: error }, 'provider error'));
      // A sign-in from a browser the account had not used: its owner is told (web/new-browser-signin.ts).
      built.use(noticingNewBrowsers(services));
      // Each session's browser, address and last use, for the sessions lists (oidc/session-devices.ts).
      built.use(recordingSessionDevices(services.db, resolved.policy.lifetimes.sessionDays * 86_400_000, log));
      return built;
    }, { pollMs: resolved.signingKeys.pollMs, log }));
    // The configured apps checked now (the provider would only find a bad one at its first sign-in).
    for (const metadata of clients) {
      try {
        await live.current.Client.validate(metadata);
      } catch (error) {
        const detail = (error as { error_description?: string }).error_description ?? (error as Error).message;
        throw new Error(`client ${metadata.client_id}: ${detail}`);
      }
    }
    const deps: AppDeps = {
      ...services,
      get provider() {
        return live.current;
      },
      lifecycle,
      metrics: new Metrics(services.audit, services.mailer),
    };
    handle = createApp(deps, cookieKeys).callback();
    lifecycle.state = 'ready';
    // Background jobs (imports, bulk mail) from the shared queue in MongoDB (src/jobs).
    services.jobs.start();
    // Webhook deliveries from the outbox, by whichever instance holds their lease (src/webhooks).
    services.webhooks.dispatcher.start();
    // Accounts whose deletion grace period ended are erased by whichever instance holds its lease (accounts/deletion.ts).
    const stopDeletions = startScheduledDeletions(services, deletionNotice(services), { everyMs: config.sweepIntervalMs, owner: services.jobs.owner, log });
    // Bounded time for slow clients; keep-alive shorter than typical proxies' idle timeout.
    http.requestTimeout = 30_000;
    http.headersTimeout = 15_000;
    http.keepAliveTimeout = 5_000;

    let stopping: Promise<void> | undefined;
    return {
      url: issuer,
      deps,
      http,
      drain() {
        lifecycle.state = 'draining';
      },
      stop: () => (stopping ??= (async () => {
        lifecycle.state = 'draining';
        stopSweep();
        stopDeletions();
        // Jobs running here commit their step and are handed back: another instance resumes them at once.
        const jobsStopped = deps.jobs.stop();
        // Attempts in flight finish, then the webhook lease is handed back.
        const webhooksStopped = deps.webhooks.dispatcher.stop();
        await live.stop();
        // Finish requests in flight, then drop idle keep-alive sockets.
        const closed = new Promise<void>((resolve) => http.close(() => resolve()));
        http.closeIdleConnections();
        await closed;
        await jobsStopped;
        await webhooksStopped;
        // Work the last requests started (emails among it) finishes before the database goes.
        await deps.tasks.idle();
        await deps.mailer.close();
        await opened.close();
      })()),
    };
  } catch (error) {
    http.close();
    await liveProvider?.stop();
    await opened.close();
    throw error;
  }
}
