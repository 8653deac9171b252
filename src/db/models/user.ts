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
    // argon2id PHC string; null for an account that has not chosen a password yet.
    passwordHash: { type: String, default: null },
    roles: { type: [String], default: [] },
    status: { type: String, enum: ['active', 'disabled'], default: 'active' },
  },
  { timestamps: true, versionKey: false, strict: 'throw' },
);
userSchema.index({ emailNormalized: 1 }, { unique: true });

export type User = InferSchemaType<typeof userSchema> & { _id: string };
export type UserDocument = HydratedDocument<User>;

export type UserModel = Model<User>;

export function userModel(connection: Connection): UserModel {
  return (connection.models.User as UserModel | undefined) ?? connection.model<User>('User', userSchema as never, 'users');
}
