// One-time links, one mechanism for invites, resets, email verification and the
// first-login change: a random 256-bit token handed to the person, only its hash
// stored, bound to a user and a purpose, consumed at most once by a single
// atomic update, superseded by a newer link for the same purpose.
import { createHash, randomBytes } from 'node:crypto';
import type { LinkModel, LinkPurpose, StoredLink } from '../db/models/link.ts';

export type { LinkPurpose, StoredLink };

const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;
const KEEP_AFTER_EXPIRY_MS = 7 * 24 * 60 * 60_000;

export type LinkState = 'valid' | 'used' | 'expired' | 'superseded' | 'unknown';

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

export class OneTimeLinks {
  readonly #model: LinkModel;
  readonly #lifetimeMs: (purpose: LinkPurpose) => number;

  constructor(model: LinkModel, lifetimeMs: (purpose: LinkPurpose) => number) {
    this.#model = model;
    this.#lifetimeMs = lifetimeMs;
  }

  /**
   * A new link; any earlier unused link of the same user and purpose stops working, unless
   * `keepEarlier` (undo links of successive email changes: each old address keeps its own).
   * `id`: the stored id (the token's hash), for records that point at the link without holding it.
   */
  async issue(userId: string, purpose: LinkPurpose, meta: { interactionUid?: string | null; clientId?: string | null; amr?: string[] | null; keepEarlier?: boolean } = {}): Promise<{ token: string; expiresAt: Date; id: string }> {
    const token = randomBytes(32).toString('base64url');
    const now = new Date();
    const expiresAt = new Date(now.getTime() + this.#lifetimeMs(purpose));
    if (!meta.keepEarlier) await this.#model.deleteMany({ userId, purpose, usedAt: null });
    await this.#model.create({
      _id: hashOf(token), userId, purpose, createdAt: now, expiresAt, usedAt: null,
      interactionUid: meta.interactionUid ?? null, clientId: meta.clientId ?? null, amr: meta.amr ?? null,
      purgeAt: new Date(expiresAt.getTime() + KEEP_AFTER_EXPIRY_MS),
    });
    return { token, expiresAt, id: hashOf(token) };
  }

  /** What a link is, without using it (GET shows a form; mail scanners open links). */
  async inspect(token: unknown, purpose: LinkPurpose): Promise<{ state: LinkState; link: StoredLink | null }> {
    if (typeof token !== 'string' || !TOKEN_FORMAT.test(token)) return { state: 'unknown', link: null };
    const link = await this.#model.findOne({ _id: hashOf(token), purpose }).lean<StoredLink>();
    if (!link) return { state: 'unknown', link: null };
    if (link.usedAt) return { state: 'used', link };
    if (link.expiresAt <= new Date()) return { state: 'expired', link };
    return { state: 'valid', link };
  }

  /** Uses the link: exactly one of any number of concurrent calls gets it. */
  async consume(token: unknown, purpose: LinkPurpose): Promise<StoredLink | null> {
    if (typeof token !== 'string' || !TOKEN_FORMAT.test(token)) return null;
    const now = new Date();
    return this.#model.findOneAndUpdate(
      { _id: hashOf(token), purpose, usedAt: null, expiresAt: { $gt: now } },
      { $set: { usedAt: now } },
      { returnDocument: 'after' },
    ).lean<StoredLink>();
  }

  /** Whether the user has an unused, unexpired link for this purpose (bulk sends skip them). */
  async hasValid(userId: string, purpose: LinkPurpose): Promise<boolean> {
    return Boolean(await this.#model.exists({ userId, purpose, usedAt: null, expiresAt: { $gt: new Date() } }));
  }

  /** Forgets one link (its email was never delivered, so a re-send is not "already sent"). */
  async discard(token: string): Promise<void> {
    await this.#model.deleteOne({ _id: hashOf(token), usedAt: null });
  }

  async revokeAll(userId: string, purpose?: LinkPurpose): Promise<void> {
    await this.#model.deleteMany({ userId, usedAt: null, ...(purpose ? { purpose } : {}) });
  }
}
