// Emailing many accounts: set-password links to every account without a password,
// or reset links to all (or one). Throttled, resumable: an account that still has
// a valid link of that kind is skipped, so a re-run emails no one twice.
import type { Services } from '../deps.ts';
import type { User } from '../db/models/user.ts';
import type { RequestContext } from './audit.ts';
import { resendInvitation, sendPasswordReset } from './password-links.ts';

export interface BulkProgress {
  total: number;
  done: number;
  sent: number;
  skipped: number;
}

export interface BulkOptions {
  /** Messages per second at most. */
  ratePerSecond: number;
  context?: RequestContext;
  onProgress?: (progress: BulkProgress) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(services: Services, filter: Record<string, unknown>, purpose: 'invite' | 'reset', options: BulkOptions): Promise<BulkProgress> {
  const progress: BulkProgress = { total: await services.users.countDocuments(filter), done: 0, sent: 0, skipped: 0 };
  options.onProgress?.(progress);
  const gap = 1000 / Math.max(options.ratePerSecond, 0.01);
  let nextAt = Date.now();
  const cursor = services.users.find(filter).sort({ _id: 1 }).lean<User[]>().cursor();
  for await (const user of cursor as AsyncIterable<User>) {
    if (await services.links.hasValid(user._id, purpose)) {
      progress.skipped++;
    } else {
      const wait = nextAt - Date.now();
      if (wait > 0) await sleep(wait);
      nextAt = Math.max(nextAt, Date.now()) + gap;
      if (purpose === 'invite') await resendInvitation(services.flows, user, {}, options.context);
      else await sendPasswordReset(services.flows, user, options.context);
      progress.sent++;
    }
    progress.done++;
    options.onProgress?.(progress);
  }
  await services.mailer.idle();
  return progress;
}

/** `password:set`: a set-password link to every account that has never chosen a password. */
export function sendSetPasswordLinks(services: Services, options: BulkOptions): Promise<BulkProgress> {
  return run(services, { status: 'invited' }, 'invite', options);
}

/** `password:reset`: reset links to every active account, or to one address. */
export function sendResetLinks(services: Services, target: { all: true } | { email: string }, options: BulkOptions): Promise<BulkProgress> {
  const filter = 'all' in target ? { status: 'active' } : { emailNormalized: target.email.trim().toLowerCase(), status: 'active' };
  return run(services, filter, 'reset', options);
}
