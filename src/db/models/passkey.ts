import { Schema, type Connection, type Model } from 'mongoose';

// Passkeys (WebAuthn credentials), any number per account. Nothing here is secret: a
// credential's public key only verifies signatures its authenticator makes, so a copy
// of the database signs nobody in.
export interface StoredPasskey {
  _id: string;
  userId: string;
  /** The credential ID (base64url) the authenticator returns with every assertion: the lookup key. */
  credentialId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  /** The authenticator's signature counter; 0 for those that do not count (synced passkeys). */
  counter: number;
  transports: string[];
  /** The person's name for it ("Work laptop"). */
  name: string;
  /** singleDevice (bound to one authenticator: amr hwk) or multiDevice (synced: amr swk). */
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  /** The authenticator model's AAGUID (all zeros when it does not say). */
  aaguid: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

const passkeySchema = new Schema<StoredPasskey>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    credentialId: { type: String, required: true },
    publicKey: { type: String, required: true },
    counter: { type: Number, default: 0 },
    transports: { type: [String], default: [] },
    name: { type: String, required: true },
    deviceType: { type: String, required: true, enum: ['singleDevice', 'multiDevice'] },
    backedUp: { type: Boolean, default: false },
    aaguid: { type: String, default: '' },
    createdAt: { type: Date, required: true },
    lastUsedAt: { type: Date, default: null },
  },
  { versionKey: false, strict: 'throw' },
);
// One account per credential, whoever registers it first (a second registration meets the index).
passkeySchema.index({ credentialId: 1 }, { unique: true });
passkeySchema.index({ userId: 1 });

export type PasskeyModel = Model<StoredPasskey>;

export function passkeyModel(connection: Connection): PasskeyModel {
  return (connection.models.Passkey as PasskeyModel | undefined) ?? connection.model<StoredPasskey>('Passkey', passkeySchema, 'passkeys');
}

// A WebAuthn ceremony in progress: the challenge we gave the browser, bound to what asked
// for it (a portal session registering, a sign-in by its interaction uid), used once.
// One per binding and purpose (the _id): asking again replaces it.
export interface StoredChallenge {
  /** `${purpose}:${binding}`. */
  _id: string;
  challenge: string;
  /** register: the account adding a passkey; sign_in: the account owing its second step, or null (a passkey alone). */
  userId: string | null;
  expiresAt: Date;
}

const challengeSchema = new Schema<StoredChallenge>(
  {
    _id: { type: String, required: true },
    challenge: { type: String, required: true },
    userId: { type: String, default: null },
    expiresAt: { type: Date, required: true },
  },
  { versionKey: false, strict: 'throw' },
);

export type ChallengeModel = Model<StoredChallenge>;

export function challengeModel(connection: Connection): ChallengeModel {
  return (connection.models.WebAuthnChallenge as ChallengeModel | undefined)
    ?? connection.model<StoredChallenge>('WebAuthnChallenge', challengeSchema, 'webauthn_challenges');
}
