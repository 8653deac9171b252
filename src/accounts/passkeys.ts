// Passkeys: WebAuthn credentials (Level 2/3) registered in the account portal and used
// to sign in, alone or as the second step after a password. The protocol, CBOR, COSE
// and signature checks are @simplewebauthn/server's; this module decides what is asked
// for, what is stored and who it signs in.
//
// Rules:
// - Discoverable credentials with user verification required: a passkey is something
//   the person has (the authenticator) and is or knows (its biometric or PIN), so a
//   passkey alone is a multi-factor sign-in (amr hwk or swk, user, mfa).
// - Relying party: the issuer's host is the RP ID and its origin the only origin.
// - Every ceremony's challenge is stored (webauthn_challenges), bound to what asked for
//   it (the portal session registering, the sign-in's interaction uid) and used once:
//   verification deletes it in the same step that compares it, so a response cannot be
//   replayed, used in another session, or answer a challenge given to someone else.
// - A credential belongs to one account (unique index); the user handle it returns must
//   be that account's, and a challenge given for one account's second step accepts only
//   that account's passkeys.
// - The signature counter, where an authenticator keeps one, only goes up
//   (@simplewebauthn refuses a lower one; the update is conditional besides).
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type PublicKeyCredentialCreationOptionsJSON, type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { ChallengeModel, PasskeyModel, StoredPasskey } from '../db/models/passkey.ts';
import type { User } from '../db/models/user.ts';
import type { RequestContext } from './audit.ts';
import { AccountError } from './errors.ts';
import type { FactorDeps, RelyingParty } from './factors.ts';
import { isDuplicateKey } from '../db/duplicate-key.ts';

/** How long a browser has to answer a ceremony (the authenticator's own prompt included). */
export const CEREMONY_MS = 5 * 60_000;
/** Enough for every device a person owns; bounds what one account can store. */
export const MAX_PASSKEYS = 20;
export const PASSKEY_NAME_MAX = 60;
/**
 * COSE algorithms we accept: EdDSA, ES256, RS256, what every authenticator offers
 * (explicit, so the library does not probe the runtime for experimental ones).
 */
const ALGORITHMS = [-8, -7, -257];
/** A response is a few hundred bytes to a few kB; anything near this is not one. */
const RESPONSE_MAX = 12_000;

export interface PasskeyDeps extends Pick<FactorDeps, 'users' | 'audit' | 'mailer' | 'urls'> {
  passkeys: PasskeyModel;
  challenges: ChallengeModel;
  relyingParty: RelyingParty;
}

export type Binding = `portal:${string}` | `interaction:${string}`;

export interface PasskeySummary {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** Synced between the person's devices (multiDevice), or bound to one authenticator. */
  synced: boolean;
}

export type RegisterPasskeyResult =
  | { ok: true; passkeyId: string; synced: boolean }
  | { ok: false; reason: 'malformed' | 'invalid' | 'already_registered' | 'too_many' };

export type PasskeySignInResult =
  | { ok: true; userId: string; passkeyId: string; amr: 'hwk' | 'swk' }
  | { ok: false; reason: 'malformed' | 'unknown_credential' | 'wrong_account' | 'invalid' };

// The shapes @simplewebauthn/browser sends, bounded; the library checks the contents.
const base64url = z.string().max(RESPONSE_MAX).regex(/^[A-Za-z0-9_-]*$/);
const common = {
  id: base64url.min(1).max(1400),
  rawId: base64url.min(1).max(1400),
  type: z.literal('public-key'),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
};
const registrationResponse = z.object({
  ...common,
  response: z.object({
    clientDataJSON: base64url,
    attestationObject: base64url,
    transports: z.array(z.string().max(20)).max(10).optional(),
    publicKeyAlgorithm: z.number().optional(),
    publicKey: base64url.optional(),
    authenticatorData: base64url.optional(),
  }),
});
const authenticationResponse = z.object({
  ...common,
  response: z.object({
    clientDataJSON: base64url,
    authenticatorData: base64url,
    signature: base64url,
    userHandle: base64url.optional(),
  }),
});

/** The browser's JSON (a form field), parsed and bounded; null when it cannot be a response. */
function parseResponse<T>(schema: z.ZodType<T>, json: unknown): T | null {
  if (typeof json !== 'string' || json.length > RESPONSE_MAX) return null;
  try {
    const parsed = schema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** A challenge as generateRegistrationOptions/generateAuthenticationOptions make them: base64url. */
const CHALLENGE = /^[A-Za-z0-9_-]{16,512}$/;
const isId = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= 100;
const userHandleOf = (userId: string) => Buffer.from(userId, 'utf8');
const challengeKey = (purpose: 'register' | 'sign_in', binding: Binding) => `${purpose}:${binding}`;

/**
 * Characters dropped from a passkey's name, shown on pages and in emails: control
 * characters (C0, DEL, C1), line and paragraph separators, and the bidirectional
 * overrides and isolates that can make a name read as something else.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** What a person calls a passkey: printable, trimmed, bounded; a default when empty. */
export function passkeyName(value: unknown, fallback: string): string {
  const name = typeof value === 'string' ? value.replace(UNPRINTABLE, '').trim().slice(0, PASSKEY_NAME_MAX) : '';
  return name || fallback;
}

async function storeChallenge(deps: PasskeyDeps, purpose: 'register' | 'sign_in', binding: Binding, challenge: string, userId: string | null): Promise<void> {
  await deps.challenges.replaceOne(
    { _id: challengeKey(purpose, binding) },
    { challenge, userId, expiresAt: new Date(Date.now() + CEREMONY_MS) },
    { upsert: true },
  );
}

/**
 * Takes the ceremony's challenge if `challenge` is it and it is still open: true once.
 * `forUser` must match the account the challenge was given for, when it was given for one.
 */
async function takeChallenge(deps: PasskeyDeps, purpose: 'register' | 'sign_in', binding: Binding, challenge: unknown, forUser: string): Promise<boolean> {
  // The challenge comes from the response's clientDataJSON, which the sender writes: only a
  // string like the ones we issue is compared. Anything else (an operator object such as
  // {"$ne": ""}, a number, no challenge at all) would otherwise become part of the query
  // and take the open challenge without naming it.
  if (typeof challenge !== 'string' || !CHALLENGE.test(challenge)) return false;
  const taken = await deps.challenges.findOneAndDelete({ _id: challengeKey(purpose, binding), challenge, expiresAt: { $gt: new Date() } }).lean();
  return Boolean(taken) && (taken!.userId === null || taken!.userId === forUser);
}

// ---------------------------------------------------------------------------
// Registration (account portal)

/** Options for navigator.credentials.create(): a discoverable credential with user verification, not one the account has. */
export async function passkeyRegistrationOptions(deps: PasskeyDeps, userId: string, binding: Binding): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const user = isId(userId) ? await deps.users.findById(userId).lean<User>() : null;
  if (!user) throw new AccountError('not_found', 'There is no such account.');
  const existing = await deps.passkeys.find({ userId }, { credentialId: 1, transports: 1 }).lean();
  const options = await generateRegistrationOptions({
    rpName: deps.relyingParty.name,
    rpID: deps.relyingParty.id,
    userName: user.email,
    userID: userHandleOf(user._id),
    userDisplayName: user.name || user.email,
    timeout: CEREMONY_MS,
    attestationType: 'none',
    excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    supportedAlgorithmIDs: ALGORITHMS,
  });
  await storeChallenge(deps, 'register', binding, options.challenge, user._id);
  return options;
}

/**
 * Verifies the browser's answer to passkeyRegistrationOptions() for the same account
 * and binding, and stores the passkey under `name`. The challenge is used up whatever
 * the outcome. Audited and notified like every new factor.
 */
export async function registerPasskey(
  deps: PasskeyDeps, input: { userId: string; binding: Binding; response: unknown; name: unknown; context?: RequestContext },
): Promise<RegisterPasskeyResult> {
  const { userId, binding, context = {} } = input;
  const response = parseResponse(registrationResponse, input.response);
  if (!isId(userId) || !response) return { ok: false, reason: 'malformed' };
  const user = await deps.users.findById(userId).lean<User>();
  if (!user) return { ok: false, reason: 'invalid' };
  if ((await deps.passkeys.countDocuments({ userId })) >= MAX_PASSKEYS) return { ok: false, reason: 'too_many' };

  let verified;
  try {
    verified = await verifyRegistrationResponse({
      response: response as RegistrationResponseJSON,
      expectedChallenge: (challenge) => takeChallenge(deps, 'register', binding, challenge, userId),
      expectedOrigin: deps.relyingParty.origin,
      expectedRPID: deps.relyingParty.id,
      requireUserVerification: true,
      supportedAlgorithmIDs: ALGORITHMS,
    });
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  if (!verified.verified) return { ok: false, reason: 'invalid' };
  const info = verified.registrationInfo;

  const passkey: StoredPasskey = {
    _id: randomUUID(),
    userId,
    credentialId: info.credential.id,
    publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
    counter: info.credential.counter,
    transports: (info.credential.transports ?? []).slice(0, 10),
    name: passkeyName(input.name, 'Passkey'),
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    aaguid: info.aaguid,
    createdAt: new Date(),
    lastUsedAt: null,
  };
  try {
    await deps.passkeys.create(passkey);
  } catch (error) {
    if (isDuplicateKey(error)) return { ok: false, reason: 'already_registered' };
    throw error;
  }
  await deps.users.updateOne({ _id: userId, mustEnrolSecondFactor: true }, { $set: { mustEnrolSecondFactor: false } });
  await deps.audit.record('factor.added', userId, context, { kind: 'passkey', factorId: passkey._id, synced: passkey.deviceType === 'multiDevice' });
  deps.mailer.send('factor_added', {
    to: user.email, locale: [user.locale, context.locale], name: user.name || undefined, when: new Date(), ip: context.ip ?? undefined,
    factors: ['passkey'], passkeyName: passkey.name, link: deps.urls.forgotPassword(),
  });
  return { ok: true, passkeyId: passkey._id, synced: passkey.deviceType === 'multiDevice' };
}

// ---------------------------------------------------------------------------
// Signing in

/**
 * Options for navigator.credentials.get() in sign-in `binding`: for a passkey alone,
 * any discoverable credential of ours (the browser offers them, also in the email
 * field's autofill); for the second step of `userId`, that account's passkeys.
 */
export async function passkeySignInOptions(deps: PasskeyDeps, binding: Binding, userId: string | null = null): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const allowed = userId ? await deps.passkeys.find({ userId }, { credentialId: 1, transports: 1 }).lean() : [];
  const options = await generateAuthenticationOptions({
    rpID: deps.relyingParty.id,
    timeout: CEREMONY_MS,
    userVerification: 'required',
    allowCredentials: allowed.map((p) => ({ id: p.credentialId, transports: p.transports })),
  });
  await storeChallenge(deps, 'sign_in', binding, options.challenge, userId);
  return options;
}

/**
 * Verifies an assertion answering passkeySignInOptions() in the same sign-in; with
 * `userId`, only that account's passkey is accepted. Whose passkey it is decides whose
 * sign-in it is: the caller checks the account may sign in.
 */
export async function verifyPasskeySignIn(
  deps: PasskeyDeps, input: { binding: Binding; response: unknown; userId?: string | null },
): Promise<PasskeySignInResult> {
  const response = parseResponse(authenticationResponse, input.response);
  if (!response) return { ok: false, reason: 'malformed' };
  const passkey = await deps.passkeys.findOne({ credentialId: response.id }).lean();
  if (!passkey) return { ok: false, reason: 'unknown_credential' };
  if (input.userId && passkey.userId !== input.userId) return { ok: false, reason: 'wrong_account' };
  // A discoverable credential says whose it is; it must be the account we stored it for.
  const { userHandle } = response.response;
  if (userHandle !== undefined && !Buffer.from(userHandle, 'base64url').equals(userHandleOf(passkey.userId))) return { ok: false, reason: 'wrong_account' };

  let verified;
  try {
    verified = await verifyAuthenticationResponse({
      response: response as AuthenticationResponseJSON,
      expectedChallenge: (challenge) => takeChallenge(deps, 'sign_in', input.binding, challenge, passkey.userId),
      expectedOrigin: deps.relyingParty.origin,
      expectedRPID: deps.relyingParty.id,
      credential: { id: passkey.credentialId, publicKey: Buffer.from(passkey.publicKey, 'base64url'), counter: passkey.counter, transports: passkey.transports as never },
      requireUserVerification: true,
    });
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  if (!verified.verified) return { ok: false, reason: 'invalid' };
  const { newCounter, credentialBackedUp } = verified.authenticationInfo;
  // Counting authenticators move forward only; of two concurrent uses of one counter value one is refused.
  const counted = await deps.passkeys.updateOne(
    { _id: passkey._id, ...(newCounter > 0 ? { counter: { $lt: newCounter } } : {}) },
    { $set: { counter: newCounter, lastUsedAt: new Date(), backedUp: credentialBackedUp } },
  );
  if (!counted.matchedCount) return { ok: false, reason: 'invalid' };
  return { ok: true, userId: passkey.userId, passkeyId: passkey._id, amr: passkey.deviceType === 'multiDevice' ? 'swk' : 'hwk' };
}

// ---------------------------------------------------------------------------
// What an account has

export async function passkeysOf(deps: Pick<PasskeyDeps, 'passkeys'>, userId: string): Promise<PasskeySummary[]> {
  if (!isId(userId)) return [];
  const passkeys = await deps.passkeys.find({ userId }).sort({ createdAt: 1 }).lean();
  return passkeys.map((p) => ({ id: p._id, name: p.name, createdAt: p.createdAt, lastUsedAt: p.lastUsedAt ?? null, synced: p.deviceType === 'multiDevice' }));
}

/** Renames one of the account's passkeys; false when it has no such passkey. */
export async function renamePasskey(deps: Pick<PasskeyDeps, 'passkeys'>, userId: string, passkeyId: string, name: unknown): Promise<boolean> {
  if (!isId(userId) || !isId(passkeyId)) return false;
  const renamed = await deps.passkeys.updateOne({ _id: passkeyId, userId }, { $set: { name: passkeyName(name, 'Passkey') } });
  return renamed.matchedCount === 1;
}
