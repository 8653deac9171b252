// The provider of a running instance, kept in step with the signing keys in
// MongoDB without a restart.
//
// oidc-provider takes its keys once, at construction, and offers no public way
// to change them (its maintainer's advice is a new instance). So an instance
// builds a new Provider whenever the set of published keys or their order
// changes, and hands it out through `current`. Nothing a request needs lives in
// a Provider object: sessions, interactions, grants and tokens are in MongoDB
// (the adapter), cookies are signed with COOKIE_KEYS, and every route looks the
// provider up per request (deps.provider), so a request that meets a newer
// provider halfway carries on, exactly as one moving between instances does.
//
// Changes come from two places:
// - the poll (KEYS_POLL_MS): reads the keys' ids and dates (not the private
//   parts), and only when they differ from what it saw last reads the keys,
//   decrypts them with the vault (DATA_KEYS) and rebuilds; keys stored in clear
//   by an earlier version are sealed in place on that read;
// - the clock: a key starts or stops signing, or stops being published, at a
//   stored moment. `current` rebuilds from the keys it holds as soon as that
//   moment has passed, so every instance switches at the same time, whatever
//   the phase of its poll.
import type Provider from 'oidc-provider';
import type { JsonWebKey } from 'node:crypto';
import type { Db } from 'mongodb';
import type { Logger } from '../log.ts';
import {
  deleteExpiredKeys, ensureSigningKeys, fingerprint, keyState, publishedKeys, readKeyRecords, readKeys, storedInClear, type KeyVault, type SigningKey,
} from './keys.ts';

export type BuildProvider = (jwks: { keys: JsonWebKey[] }) => Provider;

export interface LiveProviderOptions {
  pollMs: number;
  log: Logger;
}

export class LiveProvider {
  readonly #db: Db;
  readonly #vault: KeyVault;
  readonly #build: BuildProvider;
  readonly #options: LiveProviderOptions;
  #keys: SigningKey[];
  #seen: string;
  #provider!: Provider;
  /** The kids in the current provider's keystore, in order. */
  #published = '';
  /** When the published keys or their order next change by the clock alone (ms). */
  #changesAt = Number.POSITIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #stopped = false;
  #failing = false;

  private constructor(db: Db, vault: KeyVault, build: BuildProvider, keys: SigningKey[], options: LiveProviderOptions) {
    this.#db = db;
    this.#vault = vault;
    this.#build = build;
    this.#options = options;
    this.#keys = keys;
    this.#seen = fingerprint(keys);
    this.#rebuild(new Date(), { throwOnError: true });
  }

  /**
   * Loads (on first start: generates) the signing keys, builds the provider and
   * starts polling. Throws UnreadableSigningKeyError (keys.ts) when a stored key
   * does not decrypt with `vault`: the instance does not start.
   */
  static async start(db: Db, vault: KeyVault, build: BuildProvider, options: LiveProviderOptions): Promise<LiveProvider> {
    const live = new LiveProvider(db, vault, build, await ensureSigningKeys(db, vault), options);
    live.#schedule();
    return live;
  }

  /** The provider to use for this request: built with the keys as they are now. */
  get current(): Provider {
    if (Date.now() >= this.#changesAt) this.#rebuild(new Date());
    return this.#provider;
  }

  /**
   * Reads the keys' dates; when they changed since the last read (or a key is
   * still stored in clear), reads and decrypts the keys and rebuilds. A key that
   * does not decrypt fails the poll: the keys in hand stay in use.
   */
  async poll(): Promise<void> {
    const now = new Date();
    const records = await readKeyRecords(this.#db);
    if (records.some((key) => keyState(key, now) === 'expired')) await deleteExpiredKeys(this.#db, now);
    if (fingerprint(records) === this.#seen && !records.some(storedInClear)) return;
    const keys = await readKeys(this.#db, this.#vault);
    if (this.#stopped) return;
    this.#keys = keys;
    this.#seen = fingerprint(keys);
    this.#rebuild(new Date());
  }

  /** Stops polling and waits for a poll in flight (the database closes after this). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#polling;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#polling = this.poll().then(
        () => {
          if (this.#failing) this.#options.log.info('signing keys: reading them works again');
          this.#failing = false;
        },
        (error: unknown) => {
          // The keys in hand stay in use; one warning per outage, not one per poll.
          if (!this.#failing && !this.#stopped) this.#options.log.warn({ err: error }, 'signing keys: cannot read them; keeping the current ones');
          this.#failing = true;
        },
      ).finally(() => {
        this.#polling = undefined;
        this.#schedule();
      });
    }, this.#options.pollMs);
    this.#timer.unref();
  }

  #rebuild(now: Date, { throwOnError = false } = {}): void {
    const { keys, changesAt } = publishedKeys(this.#keys, now);
    this.#changesAt = changesAt?.getTime() ?? Number.POSITIVE_INFINITY;
    const published = keys.map((key) => key._id).join(' ');
    if (published === this.#published) return; // same keys in the same order: keep the provider
    try {
      this.#provider = this.#build({ keys: keys.map((key) => key.jwk) });
      this.#published = published;
      this.#options.log.info({ kids: keys.map((key) => `${key.alg} ${key._id} ${keyState(key, now)}`) }, 'signing keys: provider built');
    } catch (error) {
      if (throwOnError) throw error;
      // A key the provider refuses: keep the provider in hand, try again at the next poll.
      this.#options.log.error({ err: error }, 'signing keys: cannot build the provider with the stored keys; keeping the current ones');
      this.#changesAt = now.getTime() + this.#options.pollMs;
    }
  }
}
