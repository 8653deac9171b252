// Typed configuration: environment variables for deployment, a JSON file for policy.
// Everything is validated once at start; a bad value stops the process with a
// message naming the setting.
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';

const minutes = (n: number) => n * 60_000;

const positiveInt = z.number().int().positive();

const PolicySchema = z.strictObject({
  $comment: z.string().optional(),
  // OWASP's minimum for argon2id is m=19 MiB, t=2, p=1; lower values are refused.
  passwordHashing: z.strictObject({
    memoryKiB: positiveInt.min(19456).default(19456),
    timeCost: positiveInt.min(2).default(2),
    parallelism: positiveInt.max(16).default(1),
  }).prefault({}),
  lockout: z.strictObject({
    maxFailures: positiveInt.default(5),
    windowMinutes: positiveInt.default(15),
    lockMinutes: positiveInt.default(15),
    // Each further lockout doubles the period, up to this cap.
    maxLockMinutes: positiveInt.default(240),
  }).prefault({}),
  throttle: z.strictObject({
    perIp: z.strictObject({ points: positiveInt.default(100), durationSeconds: positiveInt.default(900) }).prefault({}),
    perIpEmail: z.strictObject({ points: positiveInt.default(10), durationSeconds: positiveInt.default(900) }).prefault({}),
  }).prefault({}),
  device: z.strictObject({
    cookieDays: positiveInt.default(180),
    // A trusted browser's own failure budget before it too is locked out.
    maxFailures: positiveInt.default(10),
  }).prefault({}),
  clientsFile: z.string().default('config/clients.json'),
  // One policy for every path that sets a password (sign-up, reset, invite, change, API, import).
  passwordPolicy: z.strictObject({
    minLength: positiveInt.min(8).default(8),
    // NIST 800-63B: allow at least 64 characters.
    maxLength: positiveInt.min(64).max(1024).default(128),
    // zxcvbn score from 0 (guessable) to 4; 2 keeps out the easily guessed without demanding gibberish.
    minScore: z.number().int().min(0).max(4).default(2),
    rejectCommon: z.boolean().default(true),
    // Refuse passwords containing the email's local part or the person's name.
    rejectPersonalInfo: z.boolean().default(true),
    // How many previous passwords may not be reused (0 turns it off).
    historyCount: z.number().int().min(0).max(24).default(3),
    // Rules some organisations require; off by default, as NIST advises.
    forbidSpaces: z.boolean().default(false),
    requiredCharacterClasses: z.number().int().min(0).max(4).default(0),
  }).prefault({}),
  // Lifetimes of one-time links and temporary passwords.
  links: z.strictObject({
    resetMinutes: positiveInt.default(60),
    inviteDays: positiveInt.default(7),
    verifyEmailHours: positiveInt.default(24),
    temporaryPasswordDays: positiveInt.default(7),
    // The link to the account portal a person gets right after choosing a first password.
    firstLoginMinutes: positiveInt.max(60).default(15),
    // Change of email (accounts/email-change.ts): the confirmation link sent to the new address,
    // and the undo link sent to the old one (long enough to notice a change one did not make).
    emailChangeHours: positiveInt.max(7 * 24).default(24),
    emailChangeUndoDays: positiveInt.max(90).default(7),
  }).prefault({}),
  // How long sign-ins, sessions and tokens last. Short access tokens bound what a
  // leaked one can do (every token is looked up on use, so revocation is immediate
  // anyway); refresh tokens rotate on use and end with their grant.
  lifetimes: z.strictObject({
    // A sign-in in progress (the provider's interaction): the hosted pages and the
    // "back to your sign-in" cookie of emailed links live as long.
    signInMinutes: positiveInt.max(24 * 60).default(60),
    // Signed in at the provider without typing a password again.
    sessionDays: positiveInt.max(365).default(14),
    // The account portal's own session, shorter: it changes the account.
    portalSessionHours: positiveInt.max(24 * 30).default(12),
    // How recently the password must have been typed to change how one signs in (second factors).
    recentSignInMinutes: positiveInt.max(60).default(5),
    accessTokenMinutes: positiveInt.max(24 * 60).default(60),
    idTokenMinutes: positiveInt.max(24 * 60).default(60),
    refreshTokenDays: positiveInt.max(365).default(14),
    grantDays: positiveInt.max(365).default(14),
    authorizationCodeSeconds: positiveInt.max(600).default(60),
    clientCredentialsMinutes: positiveInt.max(24 * 60).default(10),
  }).prefault({}),
  forgotPassword: z.strictObject({
    perEmailPerHour: positiveInt.default(3),
    perIpPerHour: positiveInt.default(30),
    // After a reset: end the person's other sessions and revoke their grants.
    signOutEverywhere: z.boolean().default(true),
  }).prefault({}),
  signup: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
  // Second factors (issue 12). `require`: who must sign in with a second factor: nobody
  // beyond what apps ask (require_mfa, acr_values), administrators (the console and the
  // admin API take only their two-step sign-ins), or everyone. A person who must and has
  // none is led to set one up right after the password.
  mfa: z.strictObject({
    require: z.enum(['none', 'admins', 'everyone']).default('none'),
    // "Trust this browser" skips the second step on this browser for this many days
    // (bound to the signed device cookie, ended by a password change or factor reset); 0: off.
    trustBrowserDays: z.number().int().min(0).max(365).default(0),
  }).prefault({}),
  audit: z.strictObject({ retentionDays: positiveInt.default(365) }).prefault({}),
  // Deleting an account (accounts/deletion.ts). graceDays 0 (the default) erases at once, as
  // the person asked and expects; a grace period (up to 90 days) disables the account at once
  // instead and erases it when the period ends, unless they sign in and restore it first.
  accountDeletion: z.strictObject({ graceDays: z.number().int().min(0).max(90).default(0) }).prefault({}),
  // "Download my data" in the portal (accounts/export.ts): each export reads every record of the
  // account, so a stolen session cannot turn it into a load on the database.
  dataExport: z.strictObject({ perAccountPerHour: positiveInt.max(100).default(5) }).prefault({}),
  // The organisation's terms (accounts/terms.ts). Without a version there are no terms to
  // accept; when the version differs from the one a person accepted, their next sign-in
  // asks them to accept it before it goes on to the app (declining: access_denied).
  terms: z.strictObject({
    version: z.string().trim().min(1).max(64).regex(/^[\w.:-]+$/, 'letters, digits and . _ : - only').nullable().default(null),
    // Where the terms are read: an https URL, or a path this server (or its proxy) serves.
    url: z.union([z.url({ protocol: /^https$/ }), z.string().regex(/^\/(?!\/)[^\s]{0,500}$/, 'an https URL or a path starting with one /')]).nullable().default(null),
  }).prefault({}).refine((terms) => !terms.version || terms.url, { message: 'terms.url is required when terms.version is set (people must be able to read what they accept)' }),
  // Emails that tell an account's owner something happened (accounts/new-browser.ts).
  notices: z.strictObject({
    // A sign-in from a browser the account has not used before (default on).
    newBrowser: z.boolean().default(true),
    // At most one such email per account in this many minutes (one new browser after another: one email).
    newBrowserThrottleMinutes: positiveInt.max(7 * 24 * 60).default(60),
  }).prefault({}),
  // Moving people in from an old password store at their next sign-in (accounts/legacy-migration.ts).
  // Off without a url; the shared secret is the environment's LEGACY_MIGRATION_SECRET.
  legacyMigration: z.strictObject({
    // https, or http to this machine only (a source beside the server).
    url: z.url({ protocol: /^https?$/ }).nullable().default(null),
    // Past this the sign-in answers "wrong password" and goes on: a slow source never hangs it.
    timeoutMs: z.number().int().min(100).max(10_000).default(3_000),
  }).prefault({}),
  // The organisation's look (web/theme.ts): checked at start, colours for WCAG AA contrast.
  theme: z.strictObject({
    productName: z.string().trim().min(1).max(60).default('Latchkey'),
    // A .png, .svg, .jpg or .webp file (at most 512 kB) shown above every page; null: the name alone.
    logoFile: z.string().min(1).nullable().default(null),
    // Buttons (white text on it) and links (on white): at least 4.5:1 against white.
    primaryColor: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a colour as #rrggbb').default('#2f5bd3'),
    // The same in dark mode, on the dark background: at least 4.5:1 against #1f2226.
    primaryColorDark: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a colour as #rrggbb').default('#8fb0ff'),
    supportEmail: z.email().nullable().default(null),
    supportUrl: z.url({ protocol: /^https?$/ }).nullable().default(null),
  }).prefault({}),
});

export type Policy = z.infer<typeof PolicySchema>;

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  ISSUER: z.url({ protocol: /^https?$/ }).optional(),
  MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://').optional(),
  DATA_DIR: z.string().min(1).default('data'),
  SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://').optional(),
  MAIL_FROM: z.string().min(3).default('Latchkey <no-reply@localhost>'),
  COOKIE_KEYS: z.string().optional(),
  // Keys that encrypt secrets stored in the database (authenticator apps' secrets); see src/secrets.ts.
  DATA_KEYS: z.string().optional(),
  TRUST_PROXY: z.enum(['true', 'false']).default('false'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LATCHKEY_CONFIG: z.string().default('config/latchkey.json'),
  DEMO_APP: z.enum(['true', 'false']).optional(),
  METRICS_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  // The bearer token Latchkey sends to the legacy password store (policy legacyMigration.url).
  LEGACY_MIGRATION_SECRET: z.string().min(16, 'use at least 16 characters').optional(),
  // 0: stop at once. Behind a load balancer that polls readiness (Kubernetes, ELB), set it
  // to at least its probe interval × failure threshold, so it stops sending traffic first.
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).max(300_000).default(0),
  // Signing keys (README, "Signing key rotation"). Each instance re-reads the keys' dates
  // this often: one small query, and a new provider only when they changed.
  KEYS_POLL_MS: z.coerce.number().int().min(100).max(300_000).default(5_000),
  // How long relying parties may cache the JWKS (Cache-Control max-age).
  JWKS_MAX_AGE_S: z.coerce.number().int().min(0).max(86_400).default(300),
  // How long a new key is published before it signs; at least JWKS_MAX_AGE_S + KEYS_POLL_MS.
  // 15 minutes also covers client libraries that ignore Cache-Control and keep a JWKS
  // for their own 10 minutes (jose's createRemoteJWKSet, jwks-rsa).
  KEY_ROTATION_DELAY_S: z.coerce.number().int().min(1).max(30 * 86_400).default(900),
  // Background jobs (console imports, bulk mail) and sweeps, shared by every instance through
  // MongoDB (src/jobs). An instance holds a job under a lease it renews every JOB_HEARTBEAT_MS;
  // a lease not renewed for JOB_LEASE_MS means its instance is gone, and another resumes the
  // job from its last checkpoint. Idle instances look for work every JOB_POLL_MS (the instance
  // that creates a job looks at once).
  JOB_LEASE_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
  JOB_HEARTBEAT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  JOB_POLL_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  // Invitations a console import sends, per second at most (bulk mail from the CLI has --rate).
  JOB_MAIL_RATE: z.coerce.number().positive().max(1000).default(10),
  // How often expired documents are deleted where TTL indexes are missing (one instance per period).
  SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
});

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  /** Public base URL; also the OpenID issuer identifier. */
  issuer: string;
  /** False when ISSUER was not set: the server derives it from the port it got. */
  issuerExplicit: boolean;
  /** Serve the demo relying party at /demo (development quick start). */
  demoApp: boolean;
  /** True when the issuer is https: cookies become Secure and HSTS is sent. */
  secure: boolean;
  mongodbUri?: string;
  dataDir: string;
  smtpUrl?: string;
  mailFrom: string;
  /** From COOKIE_KEYS; when absent outside production they are generated and kept in DATA_DIR. */
  cookieKeys?: string[];
  /**
   * From DATA_KEYS: the first encrypts secrets stored in the database, all decrypt. When absent
   * outside production they are generated and kept in DATA_DIR (data-keys.json).
   */
  dataKeys?: string[];
  trustProxy: boolean;
  /** Bearer token for /metrics; without it, /metrics answers only requests from this machine. */
  metricsToken?: string;
  /** After SIGTERM: how long readiness fails while requests are still served, before the stop. */
  shutdownDrainMs: number;
  signingKeys: {
    /** How often an instance re-reads the signing keys (KEYS_POLL_MS). */
    pollMs: number;
    /** Cache-Control max-age of the JWKS (JWKS_MAX_AGE_S). */
    jwksMaxAgeS: number;
    /** How long `keys:rotate` publishes a new key before it signs (KEY_ROTATION_DELAY_S). */
    rotationDelayMs: number;
  };
  /** Background jobs: lease, heartbeat and poll periods, and the invitation rate of console imports. */
  jobs: { leaseMs: number; heartbeatMs: number; pollMs: number; mailRatePerSecond: number };
  /** The legacy password store asked at sign-in, when configured (accounts/legacy-migration.ts). */
  legacyMigration: { url: string; secret: string; timeoutMs: number } | null;
  /** Period of the expiry sweep (SWEEP_INTERVAL_MS); one instance runs it per period. */
  sweepIntervalMs: number;
  logLevel: string;
  policy: Policy;
  lockout: { maxFailures: number; windowMs: number; lockMs: number; maxLockMs: number };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function describeIssues(source: string, issues: z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => `${source}${issue.path.length ? ` ${issue.path.join('.')}` : ''}: ${issue.message}`)
    .join('\n');
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Policy> = {}): Config {
  const parsedEnv = EnvSchema.safeParse(stripEmpty(env));
  if (!parsedEnv.success) throw new ConfigError(describeIssues('environment variable', parsedEnv.error.issues));
  const e = parsedEnv.data;

  const policyPath = resolve(e.LATCHKEY_CONFIG);
  let fileValues: unknown = {};
  if (existsSync(policyPath)) {
    try {
      fileValues = JSON.parse(readFileSync(policyPath, 'utf8'));
    } catch (error) {
      throw new ConfigError(`LATCHKEY_CONFIG ${policyPath}: not valid JSON (${(error as Error).message})`);
    }
  } else if (env.LATCHKEY_CONFIG) {
    throw new ConfigError(`LATCHKEY_CONFIG ${policyPath}: file not found`);
  }
  const parsedPolicy = PolicySchema.safeParse(mergeDeep(fileValues, overrides));
  if (!parsedPolicy.success) throw new ConfigError(describeIssues(`${e.LATCHKEY_CONFIG}`, parsedPolicy.error.issues));
  const policy = parsedPolicy.data;

  const issuer = (e.ISSUER ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  const cookieKeys = e.COOKIE_KEYS?.split(',').map((k) => k.trim()).filter(Boolean);
  if (cookieKeys?.some((k) => k.length < 32)) {
    throw new ConfigError('environment variable COOKIE_KEYS: each key must be at least 32 characters');
  }
  if (e.NODE_ENV === 'production' && !cookieKeys?.length) {
    throw new ConfigError('environment variable COOKIE_KEYS: required when NODE_ENV=production');
  }
  const dataKeys = e.DATA_KEYS?.split(',').map((k) => k.trim()).filter(Boolean);
  if (dataKeys?.some((k) => k.length < 32)) {
    throw new ConfigError('environment variable DATA_KEYS: each key must be at least 32 characters');
  }
  if (dataKeys && new Set(dataKeys).size !== dataKeys.length) {
    throw new ConfigError('environment variable DATA_KEYS: a key is listed twice');
  }
  if (e.JOB_HEARTBEAT_MS * 2 > e.JOB_LEASE_MS) {
    throw new ConfigError('environment variable JOB_HEARTBEAT_MS: must be at most half of JOB_LEASE_MS, so a lease outlives one missed heartbeat');
  }
  if (e.NODE_ENV === 'production' && !e.MONGODB_URI) {
    throw new ConfigError('environment variable MONGODB_URI: required when NODE_ENV=production (the embedded database is for development)');
  }
  if (e.NODE_ENV === 'production' && !dataKeys?.length) {
    throw new ConfigError('environment variable DATA_KEYS: required when NODE_ENV=production (secrets stored in the database are encrypted with them; every instance needs the same keys)');
  }

  // Every instance must publish a new key (within one poll) for a whole JWKS cache
  // lifetime before any instance signs with it.
  const propagationS = e.JWKS_MAX_AGE_S + e.KEYS_POLL_MS / 1000;
  if (e.KEY_ROTATION_DELAY_S < propagationS) {
    throw new ConfigError(`environment variable KEY_ROTATION_DELAY_S: must be at least JWKS_MAX_AGE_S + KEYS_POLL_MS (${Math.ceil(propagationS)} seconds), so every instance publishes a new key for a whole JWKS cache lifetime before it signs`);
  }

  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    issuer,
    issuerExplicit: Boolean(e.ISSUER),
    demoApp: e.DEMO_APP ? e.DEMO_APP === 'true' : e.NODE_ENV !== 'production',
    secure: issuer.startsWith('https:'),
    mongodbUri: e.MONGODB_URI,
    dataDir: resolve(e.DATA_DIR),
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    cookieKeys,
    dataKeys,
    trustProxy: e.TRUST_PROXY === 'true',
    metricsToken: e.METRICS_TOKEN,
    legacyMigration: legacyMigrationFor(policy.legacyMigration, e.LEGACY_MIGRATION_SECRET),
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    signingKeys: {
      pollMs: e.KEYS_POLL_MS,
      jwksMaxAgeS: e.JWKS_MAX_AGE_S,
      rotationDelayMs: e.KEY_ROTATION_DELAY_S * 1000,
    },
    jobs: { leaseMs: e.JOB_LEASE_MS, heartbeatMs: e.JOB_HEARTBEAT_MS, pollMs: e.JOB_POLL_MS, mailRatePerSecond: e.JOB_MAIL_RATE },
    sweepIntervalMs: e.SWEEP_INTERVAL_MS,
    logLevel: e.LOG_LEVEL,
    policy,
    lockout: {
      maxFailures: policy.lockout.maxFailures,
      windowMs: minutes(policy.lockout.windowMinutes),
      lockMs: minutes(policy.lockout.lockMinutes),
      maxLockMs: minutes(policy.lockout.maxLockMinutes),
    },
  };
}

function stripEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mergeDeep(base: unknown, extra: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(extra)) return extra === undefined ? base : extra;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) out[key] = mergeDeep(base[key], value);
  return out;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The legacy source, checked: https (or http to this machine), and a secret to send it. */
function legacyMigrationFor(policy: Policy['legacyMigration'], secret: string | undefined): Config['legacyMigration'] {
  if (!policy.url) return null;
  const url = new URL(policy.url);
  if (url.protocol !== 'https:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    throw new ConfigError(`legacyMigration.url ${url.origin}: use https (http only to this machine); it receives people's passwords`);
  }
  if (url.username || url.password) throw new ConfigError('legacyMigration.url: no credentials in the URL; set LEGACY_MIGRATION_SECRET');
  if (!secret) throw new ConfigError('legacyMigration.url is set: set LEGACY_MIGRATION_SECRET too (the bearer token sent to it)');
  return { url: url.href, secret, timeoutMs: policy.timeoutMs };
}
