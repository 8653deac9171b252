import { Schema, type Connection, type Model } from 'mongoose';

// Browsers a person chose to trust after a second step ("don't ask again on this
// browser"): the device id of the signed device cookie, for one account, until a date.
export interface StoredTrustedBrowser {
  /** `${userId}:${deviceId}`: one per account and browser. */
  _id: string;
  userId: string;
  deviceId: string;
  createdAt: Date;
  expiresAt: Date;
}

const trustedBrowserSchema = new Schema<StoredTrustedBrowser>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    deviceId: { type: String, required: true },
    createdAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
  },
  { versionKey: false, strict: 'throw' },
);
trustedBrowserSchema.index({ userId: 1 });

export const TRUSTED_BROWSERS = 'trusted_browsers';

export type TrustedBrowserModel = Model<StoredTrustedBrowser>;

export function trustedBrowserModel(connection: Connection): TrustedBrowserModel {
  return (connection.models.TrustedBrowser as TrustedBrowserModel | undefined)
    ?? connection.model<StoredTrustedBrowser>('TrustedBrowser', trustedBrowserSchema, TRUSTED_BROWSERS);
}
