// The one wiring point: from configuration and a database connection to every
// service the surfaces use. Pages, APIs and the CLI all take their parts from here.
import type { Connection } from 'mongoose';
import type { Db } from 'mongodb';
import type Provider from 'oidc-provider';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { userModel, type UserModel } from './db/models/user.ts';
import { lockoutModel } from './db/models/lockout.ts';
import { ensureExpiryIndex, startExpirySweep } from './db/connection.ts';
import { PasswordHasher } from './accounts/passwords.ts';
import { Lockout } from './accounts/lockout.ts';
import { Throttle, ensureThrottleIndexes, THROTTLE_COLLECTION } from './accounts/throttle.ts';
import type { SignInDeps } from './accounts/signin.ts';
import { PasswordPolicy } from './accounts/password-policy.ts';
import { OneTimeLinks, type LinkPurpose } from './accounts/links.ts';
import type { PasswordFlowDeps } from './accounts/password-links.ts';
import { linkModel } from './db/models/link.ts';
import { Mailer } from './mail/mailer.ts';
import { BackgroundTasks } from './background.ts';
import { AuditTrail } from './accounts/audit.ts';
import { auditModel } from './db/models/audit.ts';
import { PORTAL_SESSIONS } from './accounts/revocation.ts';
import { IMPORT_INVITES, IMPORT_JOBS, ensureImportJobIndexes, importJobKind } from './accounts/import-jobs.ts';
import { MAIL_JOBS, mailJobKind } from './accounts/bulk-mail.ts';
import { JobRunner } from './jobs/runner.ts';
import { Webhooks } from './webhooks/service.ts';
import { announcingImportEnd } from './webhooks/import-finished.ts';
import { ensureWebhookIndexes, WEBHOOK_DELIVERIES } from './db/models/webhook.ts';
import { ensureJobFileIndexes } from './jobs/files.ts';
import { join } from 'node:path';
import type { Metrics } from './metrics.ts';
import type { Lifecycle } from './lifecycle.ts';
import { MODEL_INDEXES, artifactCollection } from './oidc/adapter.ts';
import { emailUrls } from './web/paths.ts';
import { DataVault, dataKeysFor } from './secrets.ts';
import { enrolmentModel, factorModel } from './db/models/factor.ts';
import { groupModel } from './db/models/group.ts';
import { hasSecondFactor, type FactorDeps } from './accounts/factors.ts';
import { challengeModel, passkeyModel } from './db/models/passkey.ts';
import { loadTheme, type Theme } from './web/theme.ts';
import { httpLegacySource } from './legacy/http-source.ts';
import { trustedBrowserModel } from './db/models/trusted-browser.ts';
import { PENDING_SECOND_STEPS } from './accounts/second-step.ts';
import { PENDING_RESTORES } from './accounts/deletion.ts';
import { KNOWN_BROWSERS } from './accounts/new-browser.ts';
import { SESSION_DEVICES } from './db/models/session-device.ts';
import { ensureEmailChangeIndexes } from './accounts/email-change.ts';

export interface Services {
  config: Config;
  /** The organisation's look (web/theme.ts), checked at start. */
  theme: Theme;
  log: Logger;
  connection: Connection;
  db: Db;
  users: UserModel;
  hasher: PasswordHasher;
  lockout: Lockout;
  /** Sign-in attempts (and current-password checks), per IP and per IP and email. */
  throttle: Throttle;
  /** Forms that email an address (forgot password, sign-up), per email and per IP. */
  emailFormThrottle: Throttle;
  policy: PasswordPolicy;
  links: OneTimeLinks;
  mailer: Mailer;
  tasks: BackgroundTasks;
  audit: AuditTrail;
  /** What authenticate() (accounts/signin.ts) uses. */
  signInDeps: SignInDeps;
  /** What every flow that sets or changes a password uses, with or without an emailed link. */
  passwords: PasswordFlowDeps;
  /** Second factors (accounts/factors.ts): authenticator apps and recovery codes. */
  factors: FactorDeps;
  /** Encryption at rest with DATA_KEYS (secrets.ts): authenticator and webhook secrets, the signing keys' private parts. */
  vault: FactorDeps['vault'];
  /** Background jobs (console imports, bulk mail): a server starts it; the CLI drives one job with it. */
  jobs: JobRunner;
  /** Webhook endpoints, the outbox the audit trail feeds, and the delivery loop (src/webhooks). */
  webhooks: Webhooks;
  /** How long an operator's temporary password works. */
  temporaryPasswordMs: number;
}

/** Everything the web app needs besides the services: the provider built on them, and metrics. */
export interface AppDeps extends Services {
  provider: Provider;
  metrics: Metrics;
  /** Whether this instance takes traffic (readiness). */
  lifecycle: Lifecycle;
}

export function createServices(config: Config, log: Logger, connection: Connection): Services {
  const db = connection.db!;
  const users = userModel(connection);
  const hasher = new PasswordHasher(config.policy.passwordHashing);
  const lockout = new Lockout(lockoutModel(connection), config.lockout);
  const throttle = new Throttle(connection, 'signin', config.policy.throttle);
  // Its counters keep the name 'forgot' they were stored under.
  const emailFormThrottle = new Throttle(connection, 'forgot', {
    perEmail: { points: config.policy.forgotPassword.perEmailPerHour, durationSeconds: 3600 },
    perIp: { points: config.policy.forgotPassword.perIpPerHour, durationSeconds: 3600 },
  });
  const policy = new PasswordPolicy(config.policy.passwordPolicy);
  const { links: lifetimes } = config.policy;
  const lifetimeMs = (purpose: LinkPurpose): number => ({
    invite: lifetimes.inviteDays * 86_400_000,
    reset: lifetimes.resetMinutes * 60_000,
    verify_email: lifetimes.verifyEmailHours * 3_600_000,
    first_login: lifetimes.firstLoginMinutes * 60_000,
    email_change: lifetimes.emailChangeHours * 3_600_000,
    email_change_undo: lifetimes.emailChangeUndoDays * 86_400_000,
  })[purpose];
  const links = new OneTimeLinks(linkModel(connection), lifetimeMs);
  const theme = loadTheme(config.policy.theme);
  const mailer = new Mailer({
    smtpUrl: config.smtpUrl, from: config.mailFrom, outboxDir: join(config.dataDir, 'outbox'), issuer: config.issuer, log, productName: theme.productName,
  });
  const tasks = new BackgroundTasks(log);
  const audit = new AuditTrail(auditModel(connection), config.policy.audit.retentionDays, log);
  const passwords: PasswordFlowDeps = {
    db, users, hasher, policy, links, mailer, tasks, lockout, throttle, audit,
    historyCount: config.policy.passwordPolicy.historyCount,
    urls: emailUrls(config.issuer),
    lifetimeMs,
    signOutEverywhereOnReset: config.policy.forgotPassword.signOutEverywhere,
  };
  const factors: FactorDeps = {
    users, lockout, audit, mailer, urls: passwords.urls,
    factors: factorModel(connection),
    enrolments: enrolmentModel(connection),
    passkeys: passkeyModel(connection),
    challenges: challengeModel(connection),
    trustedBrowsers: trustedBrowserModel(connection),
    // WebAuthn's relying party is the issuer: its host the RP ID, its origin the only origin.
    relyingParty: { id: new URL(config.issuer).hostname, name: new URL(config.issuer).host, origin: new URL(config.issuer).origin },
    vault: new DataVault(dataKeysFor(config)),
    deviceMaxFailures: config.policy.device.maxFailures,
  };
  const jobs = new JobRunner({ log, ...config.jobs });
  const webhooks = new Webhooks({
    db, vault: factors.vault, log, production: config.env === 'production', owner: jobs.owner,
    jobs: { pollMs: config.jobs.pollMs, leaseMs: config.jobs.leaseMs, heartbeatMs: config.jobs.heartbeatMs },
  });
  // Every audit record of an account change becomes its webhook event, from one place.
  audit.follow((records) => webhooks.record(records));
  const services: Services = {
    config, theme, log, connection, db, users, hasher, lockout, throttle, emailFormThrottle, policy, links, mailer, tasks, audit, passwords, factors, jobs, webhooks,
    vault: factors.vault,
    temporaryPasswordMs: config.policy.links.temporaryPasswordDays * 86_400_000,
    signInDeps: {
      users, hasher, lockout, audit, deviceMaxFailures: config.policy.device.maxFailures,
      hasSecondFactor: (userId) => hasSecondFactor(factors, userId),
      lockNotice: { mailer, urls: passwords.urls },
      // The old password store people move in from at sign-in, when configured.
      legacy: config.legacyMigration ? httpLegacySource({ ...config.legacyMigration, log }) : null,
    },
  };
  jobs.register(announcingImportEnd(importJobKind(services), (events) => webhooks.recordPayloads(events))).register(mailJobKind(services));
  return services;
}

/** Indexes for every collection; where TTL indexes are missing, a sweeper takes their place. Returns its stop. */
export async function prepareDatabase(services: Services): Promise<() => void> {
  const { connection, db, log } = services;
  await userModel(connection).createIndexes();
  await lockoutModel(connection).createIndexes();
  await linkModel(connection).createIndexes();
  await auditModel(connection).createIndexes();
  await factorModel(connection).createIndexes();
  await groupModel(connection).createIndexes();
  await enrolmentModel(connection).createIndexes();
  await passkeyModel(connection).createIndexes();
  await trustedBrowserModel(connection).createIndexes();
  await db.collection(PORTAL_SESSIONS).createIndex({ accountId: 1 });
  await db.collection(KNOWN_BROWSERS).createIndex({ userId: 1 });
  await db.collection(SESSION_DEVICES).createIndex({ accountId: 1 });
  await ensureThrottleIndexes(connection);
  await services.jobs.prepare();
  await ensureImportJobIndexes(db);
  await ensureJobFileIndexes(db);
  await ensureWebhookIndexes(db);
  await ensureEmailChangeIndexes(db);

  const expiring = [
    { collection: lockoutModel(connection).collection as never, field: 'expiresAt' },
    { collection: db.collection(THROTTLE_COLLECTION), field: 'expire' },
    { collection: linkModel(connection).collection as never, field: 'purgeAt' },
    { collection: auditModel(connection).collection as never, field: 'expiresAt' },
    { collection: enrolmentModel(connection).collection as never, field: 'expiresAt' },
    { collection: challengeModel(connection).collection as never, field: 'expiresAt' },
    { collection: trustedBrowserModel(connection).collection as never, field: 'expiresAt' },
    { collection: db.collection(PORTAL_SESSIONS), field: 'expiresAt' },
    { collection: db.collection(KNOWN_BROWSERS), field: 'expiresAt' },
    { collection: db.collection(SESSION_DEVICES), field: 'expiresAt' },
    { collection: db.collection(IMPORT_JOBS), field: 'expiresAt' },
    { collection: db.collection(IMPORT_INVITES), field: 'expiresAt' },
    { collection: db.collection(PENDING_SECOND_STEPS), field: 'expiresAt' },
    { collection: db.collection(PENDING_RESTORES), field: 'expiresAt' },
    { collection: db.collection(MAIL_JOBS), field: 'expiresAt' },
    { collection: db.collection(WEBHOOK_DELIVERIES), field: 'expiresAt' },
  ];
  for (const [model, fields] of Object.entries(MODEL_INDEXES)) {
    const collection = artifactCollection(db, model);
    for (const field of fields) await collection.createIndex({ [field]: 1 });
    expiring.push({ collection: collection as never, field: 'expiresAt' });
  }
  const modes = new Set<string>();
  for (const { collection, field } of expiring) modes.add(await ensureExpiryIndex(collection, field, log));
  // The sweep is harmless where TTL indexes exist, and the only cleanup where they do not.
  log.debug({ expiry: [...modes] }, 'expiry');
  // One instance per period sweeps (a lease in `leases`), however many share the database.
  return startExpirySweep(expiring, services.config.sweepIntervalMs, log, { db, owner: services.jobs.owner });
}
