// Request throttles (rate-limiter-flexible on MongoDB): per IP, and per IP and
// email together. They bound guessing speed before the lockout counters matter,
// and apply identically to emails with and without an account.
import { RateLimiterMongo, RateLimiterRes } from 'rate-limiter-flexible';
import type { Connection } from 'mongoose';
import { emailKey } from './email.ts';

export interface ThrottleLimits {
  perIp: { points: number; durationSeconds: number };
  perIpEmail: { points: number; durationSeconds: number };
}

export const THROTTLE_COLLECTION = 'throttles';

export type ThrottleResult = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export class SignInThrottle {
  readonly #perIp: RateLimiterMongo;
  readonly #perIpEmail: RateLimiterMongo;
  readonly #connection: Connection;

  constructor(connection: Connection, limits: ThrottleLimits) {
    this.#connection = connection;
    // The native Db handle: the limiter calls db.collection() itself.
    const common = { storeClient: connection.db!, tableName: THROTTLE_COLLECTION, disableIndexesCreation: true };
    this.#perIp = new RateLimiterMongo({ ...common, keyPrefix: 'signin-ip', points: limits.perIp.points, duration: limits.perIp.durationSeconds });
    this.#perIpEmail = new RateLimiterMongo({
      ...common, keyPrefix: 'signin-email-ip', points: limits.perIpEmail.points, duration: limits.perIpEmail.durationSeconds,
    });
  }

  /** Counts one attempt against both limits; refuses when either is spent. */
  async consume(ip: string, email: string): Promise<ThrottleResult> {
    const results = await Promise.allSettled([
      this.#perIp.consume(ip),
      this.#perIpEmail.consume(`${emailKey(email)}:${ip}`),
    ]);
    let retryMs = 0;
    for (const result of results) {
      if (result.status === 'fulfilled') continue;
      if (!(result.reason instanceof RateLimiterRes)) throw result.reason;
      retryMs = Math.max(retryMs, result.reason.msBeforeNext);
    }
    return retryMs > 0 ? { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(retryMs / 1000)) } : { allowed: true };
  }

  /** Forgets every per-IP-and-email counter of one address (an operator's unlock). */
  async clearEmail(email: string): Promise<void> {
    await this.#connection.collection(THROTTLE_COLLECTION).deleteMany({ key: { $regex: `^signin-email-ip:${emailKey(email)}:` } });
  }
}

export async function ensureThrottleIndexes(connection: Connection): Promise<void> {
  await connection.collection(THROTTLE_COLLECTION).createIndex({ key: 1 }, { unique: true });
}
