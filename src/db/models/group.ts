import { Schema, type Connection, type Model } from 'mongoose';

// Groups provisioned over SCIM (src/scim/groups.ts). The `groups` claim still comes
// from each account's `groups` array: every member carries the group's displayName
// there, kept in step by the group operations, which hold the group's lease
// (`lockedUntil`) while they change the group and its members' arrays.
export interface StoredGroup {
  _id: string;
  displayName: string;
  /** Lower-cased, trimmed: unique, and the key that filters use. */
  displayNameNormalized: string;
  externalId: string | null;
  /** Account ids. */
  members: string[];
  /** Bumped by every change: the ETag. */
  version: number;
  /** Set while one operation changes the group and its members' accounts; a lapsed lease is free. */
  lockedUntil: Date | null;
  /** Which operation holds the lease (only it releases it). */
  leaseId: string | null;
  /**
   * Written with a change, cleared when its members' accounts are in step: what a
   * later operation needs to finish the change if its instance died part way.
   */
  pending: { previousName: string; removed: string[] } | null;
  createdAt: Date;
  updatedAt: Date;
}

const groupSchema = new Schema<StoredGroup>(
  {
    _id: { type: String, required: true },
    displayName: { type: String, required: true },
    displayNameNormalized: { type: String, required: true },
    externalId: { type: String, default: null },
    members: { type: [String], default: [] },
    version: { type: Number, default: 1 },
    lockedUntil: { type: Date, default: null },
    leaseId: { type: String, default: null },
    pending: { type: new Schema({ previousName: String, removed: [String] }, { _id: false }), default: null },
  },
  { versionKey: false, strict: 'throw', timestamps: true },
);
groupSchema.index({ displayNameNormalized: 1 }, { unique: true });
groupSchema.index({ externalId: 1 });
groupSchema.index({ members: 1 });

export const GROUP_COLLECTION = 'groups';

export type GroupModel = Model<StoredGroup>;

export function groupModel(connection: Connection): GroupModel {
  return (connection.models.Group as GroupModel | undefined) ?? connection.model<StoredGroup>('Group', groupSchema, GROUP_COLLECTION);
}
