// The password policy's check on a worker thread, for bulk work (CSV imports).
//
// A check is zxcvbn's matching: 15–20 ms of CPU per password, synchronous. On the main
// thread it stalls everything else the process does (an import run by a server
// instance would stall that instance's sign-ins for its whole length), and while a
// check runs, an argon2 hash that just finished on libuv's pool waits for the thread
// to start the next one: measured in an import on 2 cores, 1.6 of them busy. Here the
// checks run one after another on their own thread, ahead of the hashes, and the main
// thread only hands out work.
//
// The worker builds its own PasswordPolicy from the same rules: the same code decides,
// in the same way, as for a single password on a page (password-policy.ts).
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { PasswordPolicy, type PasswordContext, type PasswordIssue, type PasswordRules } from './password-policy.ts';

/** Marks this module's own worker (any other worker importing it is left alone). */
const ROLE = 'latchkey-password-policy';

interface Request { id: number; password: string; context: PasswordContext }
type Reply = { id: number; issues: PasswordIssue[] } | { id: number; error: string };

export class PolicyWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (issues: PasswordIssue[]) => void; reject: (error: Error) => void }>();
  #next = 0;
  #failure: Error | null = null;

  constructor(rules: Readonly<PasswordRules>) {
    this.#worker = new Worker(new URL(import.meta.url), { workerData: { role: ROLE, rules: { ...rules } } });
    this.#worker.on('message', (reply: Reply) => {
      const waiting = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if ('issues' in reply) waiting?.resolve(reply.issues);
      else waiting?.reject(new Error(`password policy check failed: ${reply.error}`));
    });
    this.#worker.on('error', (error) => this.#fail(error));
    this.#worker.on('exit', (code) => this.#fail(new Error(`password policy worker stopped (exit code ${code})`)));
  }

  /** The same answer as PasswordPolicy.check, in the order asked. */
  check(password: string, context: PasswordContext = {}): Promise<PasswordIssue[]> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#next++;
    const answer = new Promise<PasswordIssue[]>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#worker.postMessage({ id, password, context: { email: context.email ?? null, name: context.name ?? null, previous: context.previous ?? null } } satisfies Request);
    return answer;
  }

  /** Stops the thread; checks still waiting are refused. */
  async close(): Promise<void> {
    this.#fail(new Error('password policy worker closed'));
    await this.#worker.terminate();
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiting of this.#pending.values()) waiting.reject(this.#failure);
    this.#pending.clear();
  }
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) {
  const policy = new PasswordPolicy((workerData as { rules: PasswordRules }).rules);
  parentPort!.on('message', ({ id, password, context }: Request) => {
    try {
      parentPort!.postMessage({ id, issues: policy.check(password, context) } satisfies Reply);
    } catch (error) {
      parentPort!.postMessage({ id, error: error instanceof Error ? error.message : String(error) } satisfies Reply);
    }
  });
}
