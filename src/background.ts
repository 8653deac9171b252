// Work that must not delay a response (so timing tells nothing), tracked so
// tests and a graceful stop can wait for it. Failures are logged, never thrown.
//
// A task given `after: responseSent(res)` starts only once that response's last
// byte has been handed to the operating system (or its client went away), and
// then on a later turn of the event loop: nothing it does, not even its first
// synchronous step, can land before the answer. Without `after` it starts on the
// next turn, which is after the answer only if the caller answers synchronously.
//
// `spreadMs` starts it a further random 0..spreadMs later. Work done for one kind of
// request only (an email for an address that has an account) then does not land on
// the request that follows it, where a caller could time it: a follow-up sent at once
// meets it only by chance (about work / spreadMs of the time), and finding it by
// sampling the whole window takes many requests, each spending the caller's throttle.
import { randomInt } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Logger } from './log.ts';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const randomDelay = (spreadMs: number) => new Promise<void>((resolve) => setTimeout(resolve, randomInt(0, spreadMs + 1)));

/** Resolves once `res` is finished (its bytes are with the OS) or closed (the client left). */
export function responseSent(res: ServerResponse): Promise<void> {
  if (res.writableFinished || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    res.once('finish', () => resolve());
    res.once('close', () => resolve());
  });
}

export interface TaskTiming {
  /** Start only after this settles (e.g. responseSent(ctx.res)). */
  after?: Promise<unknown>;
  /** Then wait a random 0..spreadMs more. */
  spreadMs?: number;
}

export class BackgroundTasks {
  readonly #pending = new Set<Promise<void>>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  run(name: string, task: () => Promise<unknown>, timing: TaskTiming = {}): void {
    const answered = timing.after ? timing.after.then(nextTurn, nextTurn) : nextTurn();
    const start = timing.spreadMs ? answered.then(() => randomDelay(timing.spreadMs!)) : answered;
    const promise: Promise<void> = start
      .then(task)
      .then(() => undefined, (error: unknown) => this.#log.error({ err: error, task: name }, 'background task failed'))
      .finally(() => this.#pending.delete(promise));
    this.#pending.add(promise);
  }

  async idle(): Promise<void> {
    while (this.#pending.size) await Promise.all([...this.#pending]);
  }
}

/**
 * "1 hour", "7 days" (de "1 Stunde", ja "7 日", ar "ساعة"): for emails and pages, in
 * `locale`, by ICU's unit formatting (Intl.NumberFormat, long units), so each language
 * gets its own plural forms. The largest whole unit of day, hour, minute; otherwise minutes.
 */
export function describeDuration(ms: number, locale = 'en'): string {
  const units: Array<[number, 'day' | 'hour' | 'minute']> = [[86_400_000, 'day'], [3_600_000, 'hour'], [60_000, 'minute']];
  const say = (n: number, unit: 'day' | 'hour' | 'minute') => new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: 'long' }).format(n);
  for (const [size, name] of units) {
    if (ms >= size && ms % size === 0) return say(ms / size, name);
  }
  return say(Math.max(1, Math.round(ms / 60_000)), 'minute');
}
