// While the database connection is down, answer at once with a 503 page rather
// than letting each request wait out the driver's server selection. The driver
// reconnects by itself; the gate opens again without a restart.
import type { Middleware } from 'koa';
import type { Connection } from 'mongoose';
import { HttpError } from '../http-error.ts';

const CONNECTED = 1;
// Liveness and static files never need the database.
const EXEMPT = /^\/(healthz|assets)\//;

/** The one answer for "the database is away", from the gate or from a request it fails mid-way (catalog keys: errors.json). */
export const DATABASE_UNAVAILABLE = new HttpError(503, 'errors.unavailable.title', 'errors.unavailable.message', { 'Retry-After': '30' });

export function databaseGate(connection: Connection): Middleware {
  return async (ctx, next) => {
    if (connection.readyState !== CONNECTED && !EXEMPT.test(ctx.path)) throw DATABASE_UNAVAILABLE;
    await next();
  };
}
