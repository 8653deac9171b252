import { Schema, type Connection, type Model } from 'mongoose';

export interface AuditRecord {
  _id: string;
  at: Date;
  event: string;
  /** The account the event is about (null for an email with no account). */
  userId: string | null;
  /** Who did it: "self", "admin:<userId>", "client:<clientId>" (admin API automation), "cli", "import", "system". */
  actor: string;
  ip: string | null;
  userAgent: string | null;
  /** Small, non-secret facts: a reason code, a client id, counts. Never a password or token. */
  details: Record<string, string | number | boolean | null>;
  expiresAt: Date;
}

const auditSchema = new Schema<AuditRecord>(
  {
    _id: { type: String, required: true },
    at: { type: Date, required: true },
    event: { type: String, required: true },
    userId: { type: String, default: null },
    actor: { type: String, required: true },
    ip: { type: String, default: null },
    userAgent: { type: String, default: null },
    details: { type: Schema.Types.Mixed, default: {} },
    expiresAt: { type: Date, required: true },
  },
  // minimize: false keeps an empty `details: {}` rather than dropping the field.
  { versionKey: false, minimize: false },
);
auditSchema.index({ userId: 1, at: -1 });
auditSchema.index({ event: 1, at: -1 });
auditSchema.index({ at: -1 });
// Deleting an account rewrites what it did as an operator (accounts/deletion.ts) without reading the whole trail.
auditSchema.index({ actor: 1 });

export type AuditModel = Model<AuditRecord>;

export function auditModel(connection: Connection): AuditModel {
  return (connection.models.AuditRecord as AuditModel | undefined) ?? connection.model<AuditRecord>('AuditRecord', auditSchema, 'audit_events');
}
