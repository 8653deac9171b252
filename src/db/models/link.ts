import { Schema, type Connection, type Model } from 'mongoose';

// email_change: confirms a new address (sent to it); email_change_undo: undoes a change (sent to the old one).
export type LinkPurpose = 'invite' | 'reset' | 'verify_email' | 'first_login' | 'email_change' | 'email_change_undo';

// One-time links. Only the SHA-256 of the token is stored (as _id), so a copy of
// the database does not hold a usable link.
export interface StoredLink {
  _id: string;
  userId: string;
  purpose: LinkPurpose;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
  /** The sign-in this link continues, when it was asked for from one. */
  interactionUid: string | null;
  /** The app that invited the person, when an invite named one. */
  clientId: string | null;
  /** first_login: how the sign-in it continues was done (RFC 8176 amr), which finishing it reports. */
  amr?: string[] | null;
  /** When the sweeper may delete it: kept a while after expiry so "already used" can be told from "unknown". */
  purgeAt: Date;
}

const linkSchema = new Schema<StoredLink>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    purpose: { type: String, required: true, enum: ['invite', 'reset', 'verify_email', 'first_login', 'email_change', 'email_change_undo'] },
    createdAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    usedAt: { type: Date, default: null },
    interactionUid: { type: String, default: null },
    clientId: { type: String, default: null },
    amr: { type: [String], default: undefined },
    purgeAt: { type: Date, required: true },
  },
  { versionKey: false },
);
linkSchema.index({ userId: 1, purpose: 1 });

export type LinkModel = Model<StoredLink>;

export function linkModel(connection: Connection): LinkModel {
  return (connection.models.OneTimeLink as LinkModel | undefined) ?? connection.model<StoredLink>('OneTimeLink', linkSchema, 'one_time_links');
}
