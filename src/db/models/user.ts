import { Schema, type Connection, type InferSchemaType, type HydratedDocument, type Model } from 'mongoose';
import { randomUUID } from 'node:crypto';

const userSchema = new Schema(
  {
    // Stable, opaque subject identifier for OIDC; never the email.
    _id: { type: String, default: () => randomUUID() },
    email: { type: String, required: true },
    // Lower-cased, trimmed: the lookup key. Unique without sparse or partial indexes.
    emailNormalized: { type: String, required: true },
    emailVerified: { type: Boolean, default: false },
    name: { type: String, default: '' },
    // Profile, returned as the standard OIDC claims of the profile, phone and address scopes.
    locale: { type: String, default: null },
    phoneNumber: { type: String, default: null },
    phoneNumberVerified: { type: Boolean, default: false },
    address: {
      type: new Schema({
        street_address: String, locality: String, region: String, postal_code: String, country: String,
      }, { _id: false }),
      default: null,
    },
    // Operator-managed: groups (the `groups` claim) and private notes.
    groups: { type: [String], default: [] },
    notes: { type: String, default: '' },
    // Lower-cased words of the name and the email, for prefix search in the admin console (multikey index).
    searchTerms: { type: [String], default: [] },
    // argon2id PHC string; null for an account that has not chosen a password yet.
    passwordHash: { type: String, default: null },
    // Pre-registered from an old system whose password store still holds the password: the first
    // sign-in asks that store (accounts/legacy-migration.ts) and keeps the password it verified.
    passwordHeldByLegacy: { type: Boolean, default: false },
    // Hashes of the previous passwords, newest first, for the no-reuse rule.
    passwordHistory: { type: [String], default: [] },
    passwordChangedAt: { type: Date, default: null },
    // Set when an admin handed out a temporary password: change it before any token is issued.
    mustChangePassword: { type: Boolean, default: false },
    temporaryPasswordExpiresAt: { type: Date, default: null },
    // Set by an operator: the next sign-in sets up a second factor before it goes on (cleared by enrolment).
    mustEnrolSecondFactor: { type: Boolean, default: false },
    roles: { type: [String], default: [] },
    // invited: pre-registered, no password yet; unverified: signed up, email not confirmed.
    status: { type: String, enum: ['active', 'invited', 'unverified', 'disabled'], default: 'active' },
    // What the status was before an operator disabled the account, restored when enabled again.
    statusBeforeDisable: { type: String, default: null },
    // Set when the person (or an operator) asked for the account to be deleted after a grace
    // period (policy accountDeletion.graceDays): disabled until then, erased by the background
    // work when it passes, unless restored at a sign-in first (accounts/deletion.ts).
    deletionScheduledFor: { type: Date, default: null },
    // SCIM provisioning (src/scim): the directory's own id for the person, and the directory
    // attributes we keep and report back but use nowhere else.
    externalId: { type: String, default: null },
    scim: {
      type: new Schema({
        givenName: String, familyName: String,
        employeeNumber: String, costCenter: String, organization: String, division: String, department: String, managerId: String,
      }, { _id: false }),
      default: null,
    },
    // The organisation's terms the person accepted last (accounts/terms.ts): which version, when,
    // and the app whose sign-in asked (null: at sign-up, or no app).
    termsAccepted: {
      type: new Schema({ version: String, at: Date, clientId: String }, { _id: false }),
      default: null,
    },
    // New-browser notices (accounts/new-browser.ts): when the account's first browser was
    // recorded (before that, a sign-in has nothing to compare with), and when its owner was
    // last told of a new one (the throttle).
    knownBrowsersSince: { type: Date, default: null },
    newBrowserNoticeAt: { type: Date, default: null },
  },
  { timestamps: true, versionKey: false, strict: 'throw' },
);
userSchema.index({ emailNormalized: 1 }, { unique: true });
userSchema.index({ status: 1 });
userSchema.index({ searchTerms: 1 });
userSchema.index({ mustChangePassword: 1 });
userSchema.index({ roles: 1 });
userSchema.index({ externalId: 1 });
userSchema.index({ deletionScheduledFor: 1 });

export type User = InferSchemaType<typeof userSchema> & { _id: string };
export type UserDocument = HydratedDocument<User>;

export type UserModel = Model<User>;

export function userModel(connection: Connection): UserModel {
  return (connection.models.User as UserModel | undefined) ?? connection.model<User>('User', userSchema as never, 'users');
}
