// Re-encrypting stored secrets after a DATA_KEYS rotation (src/secrets.ts: the first
// key encrypts, every key decrypts). A secret is re-encrypted lazily when it is used;
// this walks every stored one instead, so the old key can be removed without
// waiting for everyone to sign in.
//
// Each value is written back with a conditional update (only if it still holds what
// was read), so a run never overwrites a change made meanwhile: a sign-in that
// re-encrypted it, an enrolment replaced, a second run on another machine. Values
// already under the first key are left alone, so running it again changes nothing.
// Nothing here ever logs, returns or prints a secret.
import { totpAssociatedData } from './factors.ts';
import type { Db } from 'mongodb';
import type { DataVault } from '../secrets.ts';
import { WEBHOOK_ENDPOINTS } from '../db/models/webhook.ts';
import { SIGNING_KEYS, signingKeyAssociatedData } from '../oidc/keys.ts';

/** A field that holds a DataVault value, with the associated data it was encrypted with. */
export interface EncryptedField {
  /** How the report names it. */
  label: string;
  collection: string;
  field: string;
  /** The associated data bound into the value, from its document (must match where it is encrypted). */
  associatedData(doc: Record<string, unknown>): string;
}

/**
 * Every encrypted value we store. An authenticator app's secret is bound to its
 * account as "totp:<userId>" (factors.ts, db/models/factor.ts), in the factor and in
 * an enrolment not confirmed yet alike; a webhook endpoint's signing secret to its
 * endpoint as "webhook:<id>" (webhooks/endpoints.ts); a token signing key's private
 * JWK to its kid as "signing-key:<kid>" (oidc/keys.ts). A new kind of encrypted value
 * belongs here.
 */
export const ENCRYPTED_FIELDS: readonly EncryptedField[] = [
  { label: 'authenticator apps', collection: 'factors', field: 'secret', associatedData: (doc) => totpAssociatedData(String(doc.userId)) },
  { label: 'authenticator apps being set up', collection: 'factor_enrolments', field: 'secret', associatedData: (doc) => totpAssociatedData(String(doc.userId)) },
  { label: 'webhook signing secrets', collection: WEBHOOK_ENDPOINTS, field: 'secret', associatedData: (doc) => `webhook:${String(doc._id)}` },
  { label: 'token signing keys', collection: SIGNING_KEYS, field: 'sealedJwk', associatedData: (doc) => signingKeyAssociatedData(String(doc._id)) },
];

export interface FieldReport {
  label: string;
  /** Written again under the first key. */
  reencrypted: number;
  /** Already under the first key. */
  current: number;
  /** Not decryptable with any configured key (a key missing from DATA_KEYS, or a damaged value): left as they are. */
  failed: number;
  /** Changed by someone else between our read and our write (a sign-in, another run): left to them. */
  changedMeanwhile: number;
  /** Document ids of the failures (never their values), the first few. */
  failedIds: string[];
}

export interface ReencryptionReport {
  fields: FieldReport[];
  reencrypted: number;
  current: number;
  failed: number;
  changedMeanwhile: number;
}

export interface DataKeyDeps {
  db: Db;
  vault: Pick<DataVault, 'encrypt' | 'decrypt' | 'needsReencryption'>;
}

const PAGE = 200;
const MAX_FAILED_IDS = 20;

/** Re-encrypts every stored secret that is not under the first data key. */
export async function reencryptStoredSecrets(deps: DataKeyDeps, fields: readonly EncryptedField[] = ENCRYPTED_FIELDS): Promise<ReencryptionReport> {
  const reports: FieldReport[] = [];
  for (const field of fields) reports.push(await reencryptField(deps, field));
  const sum = (key: 'reencrypted' | 'current' | 'failed' | 'changedMeanwhile') => reports.reduce((total, r) => total + r[key], 0);
  return { fields: reports, reencrypted: sum('reencrypted'), current: sum('current'), failed: sum('failed'), changedMeanwhile: sum('changedMeanwhile') };
}

async function reencryptField(deps: DataKeyDeps, field: EncryptedField): Promise<FieldReport> {
  const report: FieldReport = { label: field.label, reencrypted: 0, current: 0, failed: 0, changedMeanwhile: 0, failedIds: [] };
  const collection = deps.db.collection<Record<string, unknown> & { _id: string }>(field.collection);
  // Pages in _id order: every document is seen once, whatever the writes meanwhile.
  let after: string | null = null;
  for (;;) {
    const filter: Record<string, unknown> = { [field.field]: { $ne: null } };
    if (after !== null) filter._id = { $gt: after };
    const page = await collection.find(filter as never).sort({ _id: 1 }).limit(PAGE).toArray();
    if (!page.length) break;
    after = page[page.length - 1]!._id;
    for (const doc of page) {
      const value = doc[field.field];
      if (typeof value !== 'string') continue;
      if (!deps.vault.needsReencryption(value)) {
        report.current++;
        continue;
      }
      const associatedData = field.associatedData(doc);
      let plaintext: string;
      try {
        plaintext = deps.vault.decrypt(value, associatedData);
      } catch {
        report.failed++;
        if (report.failedIds.length < MAX_FAILED_IDS) report.failedIds.push(String(doc._id));
        continue;
      }
      const encrypted = deps.vault.encrypt(plaintext, associatedData);
      // Only if unchanged since the read: a concurrent writer's value stands.
      const { modifiedCount } = await collection.updateOne({ _id: doc._id, [field.field]: value } as never, { $set: { [field.field]: encrypted } } as never);
      if (modifiedCount === 1) report.reencrypted++;
      else report.changedMeanwhile++;
    }
    if (page.length < PAGE) break;
  }
  return report;
}
