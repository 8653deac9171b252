// Request throttles (rate-limiter-flexible on MongoDB) per IP, per email, and per
// IP and email together. They bound guessing speed before the lockout counters
// matter, and count every email alike, whether or not it has an account.
import { RateLimiterMongo, RateLimiterRes } from 'rate-limiter-flexible';
import type { Connection } from 'mongoose';
import { emailKey } from './email.ts';

export interface Limit {
  points: number;
  durationSeconds: number;
}

export interface ThrottleLimits {
  perIp?: Limit;
  perEmail?: Limit;
  perIpEmail?: Limit;
}

export const THROTTLE_COLLECTION = 'throttles';

/** The data export's key prefix (export.ts); its counters are `export-account:<account id>`, deleted with the account (deletion.ts). */
export const EXPORT_LIMIT_PREFIX = 'export-account';

export type ThrottleResult = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Limiter {
  limiter: RateLimiterMongo;
  perAddress: boolean;
  key: (ip: string, email: string) => string;
}

export class Throttle {
  readonly #name: string;
  readonly #connection: Connection;
  readonly #limiters: Limiter[] = [];

  /** `name` keeps each flow's counters apart ("signin", "forgot"). */
  constructor(connection: Connection, name: string, limits: ThrottleLimits) {
    this.#name = name;
    this.#connection = connection;
    const add = (suffix: string, limit: Limit | undefined, key: (ip: string, email: string) => string) => {
      if (!limit) return;
      this.#limiters.push({
        key, perAddress: suffix === 'ip',
        limiter: new RateLimiterMongo({
          // The native Db handle: the limiter calls db.collection() itself. Indexes are ours (prepareDatabase).
          storeClient: connection.db!, tableName: THROTTLE_COLLECTION, disableIndexesCreation: true,
          keyPrefix: `${name}-${suffix}`, points: limit.points, duration: limit.durationSeconds,
        }),
      });
    };
    add('ip', limits.perIp, (ip) => ip);
    add('email', limits.perEmail, (_ip, email) => emailKey(email));
    add('email-ip', limits.perIpEmail, (ip, email) => `${emailKey(email)}:${ip}`);
  }

  /** Counts one attempt against every limit; refuses when any is spent. */
  async consume(ip: string, email: string): Promise<ThrottleResult> {
    return this.#consume(this.#limiters, ip, email);
  }

  /** Counts one attempt against the per-address limit only: an attempt that names no email (a passkey). */
  async consumeAddress(ip: string): Promise<ThrottleResult> {
    return this.#consume(this.#limiters.filter((l) => l.perAddress), ip, '');
  }

  async #consume(limiters: Limiter[], ip: string, email: string): Promise<ThrottleResult> {
    const results = await Promise.allSettled(limiters.map(({ limiter, key }) => limiter.consume(key(ip, email))));
    let retryMs = 0;
    for (const result of results) {
      if (result.status === 'fulfilled') continue;
      if (!(result.reason instanceof RateLimiterRes)) throw result.reason;
      retryMs = Math.max(retryMs, result.reason.msBeforeNext);
    }
    return retryMs > 0 ? { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(retryMs / 1000)) } : { allowed: true };
  }

  /** Forgets every per-email counter of one address (an operator's unlock, a completed reset). */
  async clearEmail(email: string): Promise<void> {
    await this.#connection.collection(THROTTLE_COLLECTION).deleteMany({ key: { $regex: `^${this.#name}-email(-ip)?:${emailKey(email)}` } });
  }
}

export async function ensureThrottleIndexes(connection: Connection): Promise<void> {
  await connection.collection(THROTTLE_COLLECTION).createIndex({ key: 1 }, { unique: true });
}
