import { Schema, type Connection, type Model } from 'mongoose';

export type FactorKind = 'totp' | 'recovery_codes';

// Second factors, at most one of each kind per account (the unique index on userId and
// kind; a new one replaces the old). Nothing here is usable if the database is copied:
// an authenticator's secret is encrypted with DATA_KEYS (src/secrets.ts, bound to the
// account), recovery codes are kept only as SHA-256 hashes.
export interface StoredFactor {
  _id: string;
  userId: string;
  kind: FactorKind;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** totp: the encrypted base32 secret (DataVault, associated data "totp:<userId>"). */
  secret: string | null;
  /** totp: the last time step accepted; a code is accepted only for a later step (no replay). */
  lastStep: number;
  /** recovery_codes: hashes of the codes not used yet; using one pulls it out. */
  unusedCodes: string[];
  /** recovery_codes: how many were generated. */
  codeCount: number;
}

const factorSchema = new Schema<StoredFactor>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    kind: { type: String, required: true, enum: ['totp', 'recovery_codes'] },
    createdAt: { type: Date, required: true },
    lastUsedAt: { type: Date, default: null },
    secret: { type: String, default: null },
    lastStep: { type: Number, default: -1 },
    unusedCodes: { type: [String], default: [] },
    codeCount: { type: Number, default: 0 },
  },
  { versionKey: false, strict: 'throw' },
);
factorSchema.index({ userId: 1, kind: 1 }, { unique: true });

export type FactorModel = Model<StoredFactor>;

export function factorModel(connection: Connection): FactorModel {
  return (connection.models.Factor as FactorModel | undefined) ?? connection.model<StoredFactor>('Factor', factorSchema, 'factors');
}

// An authenticator app being set up: shown to the person, not yet usable. It becomes a
// factor only with a correct code, before expiresAt (the expiry sweep deletes it after).
export interface StoredEnrolment {
  _id: string;
  userId: string;
  kind: 'totp';
  /** The encrypted base32 secret, as in StoredFactor. */
  secret: string;
  createdAt: Date;
  expiresAt: Date;
  /** Wrong codes so far; the enrolment is refused after a few (start again). */
  attempts: number;
}

const enrolmentSchema = new Schema<StoredEnrolment>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    kind: { type: String, required: true, enum: ['totp'] },
    secret: { type: String, required: true },
    createdAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    attempts: { type: Number, default: 0 },
  },
  { versionKey: false, strict: 'throw' },
);
enrolmentSchema.index({ userId: 1 });

export type EnrolmentModel = Model<StoredEnrolment>;

export function enrolmentModel(connection: Connection): EnrolmentModel {
  return (connection.models.FactorEnrolment as EnrolmentModel | undefined)
    ?? connection.model<StoredEnrolment>('FactorEnrolment', enrolmentSchema, 'factor_enrolments');
}
