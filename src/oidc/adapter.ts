// oidc-provider storage on MongoDB: one collection per model ("oidc_session",
// "oidc_grant", ...), documents { _id, payload, expiresAt }. Expired documents
// are never returned, and are removed by a TTL index or the sweeper.
import type { Collection, Db } from 'mongodb';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { isDuplicateKey } from '../db/duplicate-key.ts';

interface StoredArtifact {
  _id: string;
  payload: AdapterPayload;
  expiresAt: Date | null;
}

/** Models whose artifacts belong to a grant and are revoked with it. */
export const GRANTABLE_MODELS = [
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
] as const;

/** Every model the provider persists, with the extra lookups each one needs. */
export const MODEL_INDEXES: Record<string, string[]> = {
  Session: ['payload.uid', 'payload.accountId'],
  Grant: ['payload.accountId'],
  AccessToken: ['payload.grantId', 'payload.accountId'],
  AuthorizationCode: ['payload.grantId'],
  RefreshToken: ['payload.grantId', 'payload.accountId'],
  DeviceCode: ['payload.grantId', 'payload.userCode'],
  BackchannelAuthenticationRequest: ['payload.grantId'],
  ClientCredentials: [],
  Client: [],
  InitialAccessToken: [],
  RegistrationAccessToken: [],
  Interaction: [],
  ReplayDetection: [],
  PushedAuthorizationRequest: [],
};

/**
 * Models whose saves are new artifacts under fresh random ids (tokens, codes): their
 * write is an insert, which the database does without first looking for a document
 * to replace (on the embedded database that look-up is a third of an upsert's cost).
 * Saving one again, which the provider does not do today, falls back to the replace.
 */
const FRESH_ARTIFACTS = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'ClientCredentials', 'PushedAuthorizationRequest', 'ReplayDetection']);

export function collectionName(model: string): string {
  return `oidc_${model.replace(/[A-Z]/g, (c, i: number) => (i ? '_' : '') + c.toLowerCase())}`;
}

export function artifactCollection(db: Db, model: string): Collection<StoredArtifact> {
  return db.collection<StoredArtifact>(collectionName(model));
}

const live = (doc: StoredArtifact | null): AdapterPayload | undefined =>
  doc && (!doc.expiresAt || doc.expiresAt > new Date()) ? doc.payload : undefined;

export class MongoAdapter implements Adapter {
  readonly #collection: Collection<StoredArtifact>;
  readonly #fresh: boolean;

  constructor(db: Db, model: string) {
    this.#collection = artifactCollection(db, model);
    this.#fresh = FRESH_ARTIFACTS.has(model);
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
    if (this.#fresh) {
      try {
        await this.#collection.insertOne({ _id: id, payload, expiresAt });
        return;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
    }
    // One write whether the artifact is new (tokens, codes) or saved again (sessions,
    // interactions, grants): a replace by _id, inserting when absent.
    await this.#collection.replaceOne({ _id: id }, { payload, expiresAt }, { upsert: true });
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return live(await this.#collection.findOne({ _id: id }));
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return live(await this.#collection.findOne({ 'payload.uid': uid }));
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return live(await this.#collection.findOne({ 'payload.userCode': userCode }));
  }

  async consume(id: string): Promise<void> {
    await this.#collection.updateOne({ _id: id }, { $set: { 'payload.consumed': Math.floor(Date.now() / 1000) } });
  }

  async destroy(id: string): Promise<void> {
    await this.#collection.deleteOne({ _id: id });
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#collection.deleteMany({ 'payload.grantId': grantId });
  }
}

export function adapterFactory(db: Db) {
  return (model: string) => new MongoAdapter(db, model);
}
