import { Schema, type Connection, type Model } from 'mongoose';

// Failure counters, one document per subject: "account:<userId>", "device:<deviceId>"
// (a trusted browser's own budget) or "email:<sha256>" (emails with no account, so
// they are throttled the same way). Every change is a single-document update.
const lockoutSchema = new Schema(
  {
    _id: { type: String, required: true },
    // Failures in the current window; reset when a lock starts or the window lapses.
    failures: { type: Number, default: 0 },
    windowStartedAt: { type: Date, default: null },
    // Every failure ever counted since the last success or unlock, for operators.
    totalFailures: { type: Number, default: 0 },
    lockedUntil: { type: Date, default: null },
    // Locks so far; each doubles the next lock's length up to the cap.
    lockCount: { type: Number, default: 0 },
    userId: { type: String, default: null },
    expiresAt: { type: Date, required: true },
  },
  { versionKey: false, timestamps: { createdAt: false, updatedAt: true } },
);
lockoutSchema.index({ userId: 1 });

export interface LockoutState {
  _id: string;
  failures: number;
  windowStartedAt: Date | null;
  totalFailures: number;
  lockedUntil: Date | null;
  lockCount: number;
  userId: string | null;
  expiresAt: Date;
}

export type LockoutModel = Model<LockoutState>;

export function lockoutModel(connection: Connection): LockoutModel {
  return (connection.models.Lockout as LockoutModel | undefined) ?? connection.model<LockoutState>('Lockout', lockoutSchema as never, 'lockouts');
}
