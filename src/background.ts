// Work that must not delay a response (so timing tells nothing), tracked so
// tests and a graceful stop can wait for it. Failures are logged, never thrown.
import type { Logger } from './log.ts';

export class BackgroundTasks {
  readonly #pending = new Set<Promise<void>>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  run(name: string, task: () => Promise<unknown>): void {
    const promise: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(task)
      .then(() => undefined, (error: unknown) => this.#log.error({ err: error, task: name }, 'background task failed'))
      .finally(() => this.#pending.delete(promise));
    this.#pending.add(promise);
  }

  async idle(): Promise<void> {
    while (this.#pending.size) await Promise.all([...this.#pending]);
  }
}

/** "1 hour", "7 days": for emails and pages. */
export function describeDuration(ms: number): string {
  const units: Array<[number, string]> = [[86_400_000, 'day'], [3_600_000, 'hour'], [60_000, 'minute']];
  for (const [size, name] of units) {
    if (ms >= size && ms % size === 0) {
      const n = ms / size;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  const minutes = Math.max(1, Math.round(ms / 60_000));
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}
