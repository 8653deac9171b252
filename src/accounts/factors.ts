// Second factors: an authenticator app (TOTP, RFC 6238: SHA-1, 6 digits, 30-second
// steps) and recovery codes. The protocols come from otpauth and the QR code from
// qrcode; encryption from node:crypto through DataVault (src/secrets.ts).
//
// What is stored (db/models/factor.ts): an authenticator's secret encrypted with the
// data keys and bound to its account; recovery codes as SHA-256 hashes only. No secret
// ever leaves this module after enrolment, and none reaches the audit trail.
//
// Single use, with several instances and concurrent requests: every use is one
// conditional atomic update of one document.
// - TOTP: a code is accepted for a step only if the step is later than the last step
//   accepted ({lastStep: {$lt: step}} → {$set: {lastStep: step}}): a replay within the
//   window fails, and of two concurrent uses of one code exactly one wins.
// - Recovery codes: using one pulls its hash out of the set ({unusedCodes: hash} →
//   {$pull}); of two concurrent uses exactly one finds it there.
//
// Lockout: verifySecondFactor() counts a wrong code on the same subject as a wrong
// password (accounts/signin.ts: the trusted browser's own counter, else the account's),
// through the same Lockout, so wrong codes and wrong passwords share one budget.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { HOTP, Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import type { EnrolmentModel, FactorKind, FactorModel, StoredFactor } from '../db/models/factor.ts';
import type { ChallengeModel, PasskeyModel } from '../db/models/passkey.ts';
import type { TrustedBrowserModel } from '../db/models/trusted-browser.ts';
import type { User, UserModel } from '../db/models/user.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { DataVault } from '../secrets.ts';
import type { AuditTrail, RequestContext } from './audit.ts';
import { AccountError } from './errors.ts';
import { accountSubject, deviceSubject, type Lockout } from './lockout.ts';
import type { EmailUrls } from './password-links.ts';
import type { TrustedDevice } from './signin.ts';
import { tellOwnerOfLock } from './lock-notice.ts';
import { isDuplicateKey } from '../db/duplicate-key.ts';

/** RFC 6238's defaults, which every authenticator app supports. */
export const TOTP_SETTINGS = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
/** Steps accepted either side of now: ±30 s of clock drift between phone and server. */
export const TOTP_WINDOW = 1;
/** 160 bits, the length RFC 4226 recommends for the shared secret. */
const SECRET_BYTES = 20;
/** How long a started enrolment waits for its first correct code. */
export const ENROLMENT_MS = 10 * 60_000;
/** Wrong codes an enrolment takes before it must be started again. */
export const ENROLMENT_ATTEMPTS = 5;
export const RECOVERY_CODE_COUNT = 10;
/**
 * 10 random bytes: 16 base32 characters, 80 bits. Enough that a stolen hash cannot be
 * reversed by trying codes, even at SHA-256's speed (2^80 tries), so a plain SHA-256
 * does: a slow hash (argon2) only helps secrets people choose, which are guessable.
 */
const RECOVERY_CODE_BYTES = 10;
const RECOVERY_CODE_PATTERN = /^[a-z2-7]{16}$/;

/** WebAuthn's relying party (passkeys.ts): who passkeys are for. */
export interface RelyingParty {
  /** The issuer's host name (WebAuthn RP ID). */
  id: string;
  /** Shown by the authenticator when registering. */
  name: string;
  /** The issuer's origin, the only one a response may come from. */
  origin: string;
}

export interface FactorDeps {
  users: UserModel;
  factors: FactorModel;
  enrolments: EnrolmentModel;
  /** Passkeys (accounts/passkeys.ts): any number per account, each a second factor too. */
  passkeys: PasskeyModel;
  challenges: ChallengeModel;
  relyingParty: RelyingParty;
  /** Browsers trusted to skip the second step (accounts/trusted-browsers.ts): ended with a reset. */
  trustedBrowsers: TrustedBrowserModel;
  vault: Pick<DataVault, 'encrypt' | 'decrypt' | 'needsReencryption'>;
  lockout: Lockout;
  audit: AuditTrail;
  mailer: Pick<Mailer, 'send'>;
  /** Notices say "if this wasn't you, reset your password" and link there. */
  urls: Pick<EmailUrls, 'forgotPassword'>;
  /** A trusted browser's own failure budget (as SignInDeps.deviceMaxFailures). */
  deviceMaxFailures: number;
}

export interface TotpEnrolment {
  enrolmentId: string;
  /** For manual entry; shown once, never again. */
  secretBase32: string;
  otpauthUri: string;
  /** The otpauth URI as a QR code, an SVG document rendered on the server. */
  qrSvg: string;
  expiresAt: Date;
}

export type ConfirmEnrolmentResult =
  | { ok: true; factorId: string; replaced: boolean }
  | { ok: false; reason: 'not_found' | 'expired' | 'too_many_attempts' | 'wrong_code' };

export type VerifyTotpResult =
  | { ok: true; step: number }
  | { ok: false; reason: 'no_factor' | 'malformed' | 'wrong_code' | 'replayed' };

export type UseRecoveryCodeResult =
  | { ok: true; remaining: number }
  | { ok: false; reason: 'no_factor' | 'malformed' | 'wrong_code' };

export type SecondFactorResult =
  | { ok: true; method: 'totp' | 'recovery_code'; remainingRecoveryCodes: number | null }
  /** One answer for every wrong code, however it was wrong; `reason` is for the audit trail and logs. */
  | { ok: false; reason: 'locked' | 'no_factor' | 'malformed' | 'wrong_code' | 'replayed' };

/** What an account can have: one authenticator app, one set of recovery codes, passkeys. */
export type FactorType = FactorKind | 'passkey';

export interface FactorSummary {
  id: string;
  kind: FactorType;
  /** passkey: the person's name for it. */
  name: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** recovery_codes: how many are left of how many. */
  remainingCodes: number | null;
  codeCount: number | null;
}

/** What a notice email calls each kind. */
const isId = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= 100;
/** What a factor's id looks like (a UUID, or older ids of letters, digits, _ and -): every surface checks input with it. */
export const FACTOR_ID_PATTERN = /^[\w-]{1,100}$/;
/** What binds an authenticator's encrypted secret to its account (DataVault associated data). */
export const totpAssociatedData = (userId: string) => `totp:${userId}`;

async function findUser(deps: FactorDeps, userId: unknown): Promise<User> {
  const user = isId(userId) ? await deps.users.findById(userId).lean<User>() : null;
  if (!user) throw new AccountError('not_found', 'There is no such account.');
  return user;
}

/** Emails the notice of a change to `kinds` (named in the recipient's language by the message). */
function notify(deps: FactorDeps, user: User, message: 'factor_added' | 'factor_removed' | 'recovery_codes_generated', kinds: FactorType[], context: RequestContext, passkeyName?: string): void {
  deps.mailer.send(message, {
    to: user.email, locale: [user.locale, context.locale], name: user.name || undefined, when: new Date(), ip: context.ip ?? undefined, factors: kinds, passkeyName,
    link: deps.urls.forgotPassword(),
  });
}

// ---------------------------------------------------------------------------
// Authenticator app (TOTP)

/** "123456", "123 456" or "123-456"; null for anything else. */
function totpCode(code: unknown): string | null {
  if (typeof code !== 'string' || code.length > 20) return null;
  const digits = code.replace(/[\s-]/g, '');
  return /^\d{6}$/.test(digits) ? digits : null;
}

/** The steps within the window, oldest first, whose code is `code`. */
function matchingSteps(secretBase32: string, code: string, now: number): number[] {
  const hotp = new HOTP({ secret: Secret.fromBase32(secretBase32), algorithm: TOTP_SETTINGS.algorithm, digits: TOTP_SETTINGS.digits });
  const current = TOTP.counter({ period: TOTP_SETTINGS.period, timestamp: now });
  const given = Buffer.from(code);
  const steps: number[] = [];
  for (let step = current - TOTP_WINDOW; step <= current + TOTP_WINDOW; step++) {
    const expected = Buffer.from(hotp.generate({ counter: step }));
    if (expected.length === given.length && timingSafeEqual(expected, given)) steps.push(step);
  }
  return steps;
}

/**
 * A new secret for an authenticator app, waiting (ENROLMENT_MS) for its first correct
 * code. Starting again drops the account's earlier unconfirmed enrolments; an active
 * authenticator stays active until a new one is confirmed.
 */
export async function startTotpEnrolment(deps: FactorDeps, userId: string, labels: { issuer: string; account: string }): Promise<TotpEnrolment> {
  const user = await findUser(deps, userId);
  const secret = new Secret({ size: SECRET_BYTES });
  const totp = new TOTP({ ...TOTP_SETTINGS, issuer: labels.issuer, label: labels.account, secret });
  const otpauthUri = totp.toString();
  const qrSvg = await QRCode.toString(otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  const createdAt = new Date();
  const expiresAt = new Date(createdAt.getTime() + ENROLMENT_MS);
  const enrolmentId = randomUUID();
  await deps.enrolments.deleteMany({ userId: user._id });
  await deps.enrolments.create({
    _id: enrolmentId, userId: user._id, kind: 'totp', createdAt, expiresAt, attempts: 0,
    secret: deps.vault.encrypt(secret.base32, totpAssociatedData(user._id)),
  });
  return { enrolmentId, secretBase32: secret.base32, otpauthUri, qrSvg, expiresAt };
}

/**
 * Makes the enrolment the account's authenticator, only with a correct code (±1 step)
 * before it expires. The step of that code is recorded, so the same code cannot also
 * pass a sign-in. A confirmed authenticator replaces the account's previous one.
 */
export async function confirmTotpEnrolment(
  deps: FactorDeps, userId: string, enrolmentId: string, code: string, context: RequestContext = {},
): Promise<ConfirmEnrolmentResult> {
  if (!isId(userId) || !isId(enrolmentId)) return { ok: false, reason: 'not_found' };
  const now = new Date();
  const enrolment = await deps.enrolments.findOne({ _id: enrolmentId, userId }).lean();
  if (!enrolment) return { ok: false, reason: 'not_found' };
  if (enrolment.expiresAt <= now) return { ok: false, reason: 'expired' };
  if (enrolment.attempts >= ENROLMENT_ATTEMPTS) return { ok: false, reason: 'too_many_attempts' };

  const digits = totpCode(code);
  const secretBase32 = deps.vault.decrypt(enrolment.secret, totpAssociatedData(userId));
  const [step] = digits ? matchingSteps(secretBase32, digits, now.getTime()) : [];
  if (step === undefined) {
    await deps.enrolments.updateOne({ _id: enrolmentId, attempts: { $lt: ENROLMENT_ATTEMPTS } }, { $inc: { attempts: 1 } });
    return { ok: false, reason: 'wrong_code' };
  }
  // Claim it: of concurrent confirmations, one deletes it, the others find nothing.
  const claimed = await deps.enrolments.findOneAndDelete({ _id: enrolmentId, userId, expiresAt: { $gt: now } }).lean();
  if (!claimed) return { ok: false, reason: 'not_found' };

  const user = await findUser(deps, userId);
  const { factor, replaced } = await upsertFactor(deps, userId, 'totp', {
    secret: claimed.secret, lastStep: step, createdAt: now, lastUsedAt: null, unusedCodes: [], codeCount: 0,
  });
  await deps.users.updateOne({ _id: userId, mustEnrolSecondFactor: true }, { $set: { mustEnrolSecondFactor: false } });
  await deps.audit.record('factor.added', userId, context, { kind: 'totp', factorId: factor, replaced });
  notify(deps, user, 'factor_added', ['totp'], context);
  return { ok: true, factorId: factor, replaced };
}

/**
 * Sets the account's factor of this kind in one atomic update (the unique index on
 * userId and kind keeps one per account). Two concurrent first inserts: the loser
 * meets the unique index and goes round once more, replacing the winner's.
 */
async function upsertFactor(
  deps: FactorDeps, userId: string, kind: FactorKind, fields: Omit<StoredFactor, '_id' | 'userId' | 'kind'>,
): Promise<{ factor: string; replaced: boolean }> {
  for (let attempt = 0; ; attempt++) {
    const id = randomUUID();
    try {
      const before = await deps.factors.findOneAndUpdate(
        { userId, kind },
        { $set: fields, $setOnInsert: { _id: id } },
        { upsert: true, returnDocument: 'before', setDefaultsOnInsert: false },
      ).lean();
      return { factor: before?._id ?? id, replaced: Boolean(before) };
    } catch (error) {
      if (!isDuplicateKey(error) || attempt >= 3) throw error;
    }
  }
}

/**
 * Checks a code from the account's authenticator and uses it up: accepted once, for a
 * step within the window later than the last accepted one. Counts nothing towards the
 * lockout (verifySecondFactor does).
 */
export async function verifyTotp(deps: FactorDeps, userId: string, code: string, now = new Date()): Promise<VerifyTotpResult> {
  if (!isId(userId)) return { ok: false, reason: 'no_factor' };
  const factor = await deps.factors.findOne({ userId, kind: 'totp' }).lean();
  if (!factor?.secret) return { ok: false, reason: 'no_factor' };
  const digits = totpCode(code);
  if (!digits) return { ok: false, reason: 'malformed' };
  const secretBase32 = deps.vault.decrypt(factor.secret, totpAssociatedData(userId));
  const steps = matchingSteps(secretBase32, digits, now.getTime());
  if (!steps.length) return { ok: false, reason: 'wrong_code' };
  const step = steps.find((s) => s > factor.lastStep);
  if (step === undefined) return { ok: false, reason: 'replayed' };

  const used = await deps.factors.findOneAndUpdate(
    { _id: factor._id, userId, lastStep: { $lt: step } },
    { $set: { lastStep: step, lastUsedAt: now } },
    { returnDocument: 'after' },
  ).lean();
  if (!used) return { ok: false, reason: 'replayed' };
  if (deps.vault.needsReencryption(factor.secret)) {
    // Encrypted with an older data key: store it under the first one (rotation).
    const secret = deps.vault.encrypt(secretBase32, totpAssociatedData(userId));
    await deps.factors.updateOne({ _id: factor._id, secret: factor.secret }, { $set: { secret } });
  }
  return { ok: true, step };
}

// ---------------------------------------------------------------------------
// Recovery codes

const hashRecoveryCode = (normalized: string) => createHash('sha256').update(normalized).digest('hex');

/** Lower case without spaces or hyphens, as generated; null when it cannot be a recovery code. */
function recoveryCode(code: unknown): string | null {
  if (typeof code !== 'string' || code.length > 40) return null;
  const normalized = code.toLowerCase().replace(/[\s-]/g, '');
  return RECOVERY_CODE_PATTERN.test(normalized) ? normalized : null;
}

/** "abcd-efgh-ijkl-mnop": how codes are shown. */
const groupCode = (normalized: string) => normalized.match(/.{4}/g)!.join('-');

/**
 * Ten new single-use codes, shown now and never again; the account's earlier codes
 * stop working in the same update.
 */
export async function generateRecoveryCodes(deps: FactorDeps, userId: string, context: RequestContext = {}): Promise<{ codes: string[]; factorId: string }> {
  const user = await findUser(deps, userId);
  const codes = new Set<string>();
  while (codes.size < RECOVERY_CODE_COUNT) codes.add(new Secret({ size: RECOVERY_CODE_BYTES }).base32.toLowerCase());
  const { factor, replaced } = await upsertFactor(deps, user._id, 'recovery_codes', {
    secret: null, lastStep: -1, createdAt: new Date(), lastUsedAt: null,
    unusedCodes: [...codes].map(hashRecoveryCode), codeCount: codes.size,
  });
  await deps.audit.record('recovery_codes.generated', user._id, context, { factorId: factor, count: codes.size, replaced });
  notify(deps, user, 'recovery_codes_generated', ['recovery_codes'], context);
  return { codes: [...codes].map(groupCode), factorId: factor };
}

/** Uses up one recovery code: each works once, also when tried concurrently. Counts nothing towards the lockout. */
export async function useRecoveryCode(deps: FactorDeps, userId: string, code: string): Promise<UseRecoveryCodeResult> {
  if (!isId(userId)) return { ok: false, reason: 'no_factor' };
  const normalized = recoveryCode(code);
  if (!normalized) return { ok: false, reason: 'malformed' };
  const hash = hashRecoveryCode(normalized);
  const used = await deps.factors.findOneAndUpdate(
    { userId, kind: 'recovery_codes', unusedCodes: hash },
    { $pull: { unusedCodes: hash }, $set: { lastUsedAt: new Date() } },
    { returnDocument: 'after' },
  ).lean();
  if (used) return { ok: true, remaining: used.unusedCodes.length };
  const exists = await deps.factors.exists({ userId, kind: 'recovery_codes' });
  return { ok: false, reason: exists ? 'wrong_code' : 'no_factor' };
}

// ---------------------------------------------------------------------------
// The sign-in step

/**
 * The second step of a sign-in, after the password: a code from the authenticator app
 * (six digits) or a recovery code. As authenticate() does for the password: the
 * subject is the trusted browser's counter when `device` is this account's, else the
 * account's; a locked subject is refused without looking at the code; every failure
 * counts once on that subject and is audited as a failed sign-in; a success clears it.
 */
export async function verifySecondFactor(
  deps: FactorDeps, input: { userId: string; device?: TrustedDevice | null; code: string; context?: RequestContext },
): Promise<SecondFactorResult> {
  const { userId, context } = input;
  if (!isId(userId)) return { ok: false, reason: 'no_factor' };
  const device = input.device?.userId === userId ? input.device : null;
  const subject = device ? deviceSubject(device.deviceId) : accountSubject(userId);
  const lock = await deps.lockout.check(subject);

  let result: SecondFactorResult;
  if (lock.locked) {
    result = { ok: false, reason: 'locked' };
  } else if (totpCode(input.code)) {
    const totp = await verifyTotp(deps, userId, input.code);
    result = totp.ok ? { ok: true, method: 'totp', remainingRecoveryCodes: null } : totp;
  } else {
    const recovery = await useRecoveryCode(deps, userId, input.code);
    result = recovery.ok ? { ok: true, method: 'recovery_code', remainingRecoveryCodes: recovery.remaining } : recovery;
  }

  if (!result.ok) {
    const counted = await deps.lockout.recordFailure(subject, { userId, maxFailures: device ? deps.deviceMaxFailures : undefined });
    await deps.audit.record('signin.failed', userId, context, { reason: result.reason, during: 'second_factor', trustedDevice: Boolean(device) });
    if (counted.justLocked) {
      await deps.audit.record('account.locked', userId, { ...context, actor: 'system' }, {
        scope: device ? 'device' : 'account', until: counted.lockedUntil?.toISOString() ?? null, lockNumber: counted.lockCount,
      });
      if (!device) {
        const owner = await deps.users.findById(userId, { email: 1, name: 1, locale: 1 }).lean<Pick<User, 'email' | 'name' | 'locale'>>();
        if (owner) tellOwnerOfLock(deps, owner, counted.lockedUntil ?? null, context);
      }
    }
    return result;
  }
  if (lock.counting) await deps.lockout.reset(subject);
  await deps.audit.record('factor.verified', userId, context, {
    method: result.method, remaining: result.remainingRecoveryCodes, trustedDevice: Boolean(device),
  });
  if (result.method === 'recovery_code') {
    // The person may have lost their app or passkey, or someone has a code: tell them either way.
    const user = await deps.users.findById(userId, { email: 1, name: 1, locale: 1 }).lean<Pick<User, 'email' | 'name' | 'locale'>>();
    if (user) {
      deps.mailer.send('recovery_code_used', {
        to: user.email, locale: [user.locale, context?.locale], name: user.name || undefined, when: new Date(), ip: context?.ip ?? undefined,
        remaining: result.remainingRecoveryCodes ?? 0, link: deps.urls.forgotPassword(),
      });
    }
  }
  return result;
}

// ---------------------------------------------------------------------------
// What an account has, and removing it

/** The account's second factors, without any secret. */
export async function factorsOf(deps: Pick<FactorDeps, 'factors' | 'passkeys'>, userId: string): Promise<FactorSummary[]> {
  if (!isId(userId)) return [];
  const [factors, passkeys] = await Promise.all([
    deps.factors.find({ userId }, { secret: 0 }).sort({ kind: 1 }).lean(),
    deps.passkeys.find({ userId }, { publicKey: 0 }).sort({ createdAt: 1 }).lean(),
  ]);
  return [
    ...factors.map((f) => ({
      id: f._id,
      kind: f.kind,
      name: null,
      createdAt: f.createdAt,
      lastUsedAt: f.lastUsedAt ?? null,
      remainingCodes: f.kind === 'recovery_codes' ? f.unusedCodes.length : null,
      codeCount: f.kind === 'recovery_codes' ? f.codeCount : null,
    })),
    ...passkeys.map((p) => ({
      id: p._id, kind: 'passkey' as const, name: p.name, createdAt: p.createdAt, lastUsedAt: p.lastUsedAt ?? null, remainingCodes: null, codeCount: null,
    })),
  ];
}

/** Whether the account has a factor that a sign-in can ask for: an authenticator app or a passkey (recovery codes only stand in for them). */
export async function hasSecondFactor(deps: Pick<FactorDeps, 'factors' | 'passkeys'>, userId: string): Promise<boolean> {
  if (!isId(userId)) return false;
  const [totp, passkey] = await Promise.all([deps.factors.exists({ userId, kind: 'totp' }), deps.passkeys.exists({ userId })]);
  return Boolean(totp || passkey);
}

/** Which second steps the account can take at sign-in. */
export async function secondStepMethods(deps: Pick<FactorDeps, 'factors' | 'passkeys'>, userId: string): Promise<{ code: boolean; passkey: boolean; recoveryCode: boolean }> {
  if (!isId(userId)) return { code: false, passkey: false, recoveryCode: false };
  const [kinds, passkey] = await Promise.all([deps.factors.distinct('kind', { userId }), deps.passkeys.exists({ userId })]);
  return { code: kinds.includes('totp'), passkey: Boolean(passkey), recoveryCode: kinds.includes('recovery_codes') };
}

/** Removes one of the account's factors; false when it has no such factor. */
export async function removeFactor(deps: FactorDeps, userId: string, factorId: string, context: RequestContext = {}): Promise<boolean> {
  if (!isId(userId) || !isId(factorId)) return false;
  const removed: { kind: FactorType; name?: string } | null =
    (await deps.factors.findOneAndDelete({ _id: factorId, userId }).lean())
    ?? (await deps.passkeys.findOneAndDelete({ _id: factorId, userId }).lean().then((p) => p && { kind: 'passkey' as const, name: p.name }));
  if (!removed) return false;
  await deps.audit.record('factor.removed', userId, context, { kind: removed.kind, factorId });
  const user = await deps.users.findById(userId).lean<User>();
  if (user) notify(deps, user, 'factor_removed', [removed.kind], context, removed.kind === 'passkey' ? removed.name : undefined);
  return true;
}

/** Every factor of the account, and its unconfirmed enrolments (an operator's action: a person who lost their phone). */
export async function removeAllFactors(deps: FactorDeps, userId: string, context: RequestContext = {}): Promise<number> {
  const user = await findUser(deps, userId);
  const factors = [
    ...(await deps.factors.find({ userId: user._id }, { kind: 1 }).lean()).map((f) => ({ _id: f._id, kind: f.kind as FactorType, model: deps.factors as never as FactorModel })),
    ...(await deps.passkeys.find({ userId: user._id }, { _id: 1 }).lean()).map((p) => ({ _id: p._id, kind: 'passkey' as FactorType, model: deps.passkeys as never as FactorModel })),
  ];
  await deps.enrolments.deleteMany({ userId: user._id });
  await deps.trustedBrowsers.deleteMany({ userId: user._id });
  const removedKinds: FactorType[] = [];
  for (const factor of factors) {
    const removed = await factor.model.deleteOne({ _id: factor._id, userId: user._id });
    if (!removed.deletedCount) continue;
    removedKinds.push(factor.kind);
    await deps.audit.record('factor.removed', user._id, context, { kind: factor.kind, factorId: factor._id, all: true });
  }
  if (removedKinds.length) notify(deps, user, 'factor_removed', removedKinds, context);
  return removedKinds.length;
}
