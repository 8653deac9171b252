// The webhook events: what receivers can subscribe to, and how each is derived
// from the audit trail. Every account change from every surface (console, admin
// API, CLI, SCIM, import, portal, sign-in) is recorded there, so deriving events
// from it in this one table means no surface can forget to emit one.
//
// Not every audit event is a webhook event: sign-ins, failed attempts, emailed
// links and code checks say nothing about the account's state and are left out.
import type { AuditEvent } from '../accounts/audit.ts';

/** Every event type, with what it means (the console, CLI help and the OpenAPI document show these). */
export const WEBHOOK_EVENTS = {
  'account.created': 'An account was created (by an operator, the admin API, the CLI, SCIM, or by signing up). Accounts created by a CSV import are summed up by import.finished instead.',
  'account.updated': 'An account\'s profile, groups, roles or notes changed, or its email address was verified.',
  'account.disabled': 'An account was disabled: it can no longer sign in, and its sessions ended.',
  'account.enabled': 'A disabled account was enabled again.',
  'account.deleted': 'An account was deleted.',
  'account.password_changed': 'The person changed their password (or chose their first one from an invitation).',
  'account.password_reset': 'The password was reset through an emailed link, or an operator set a temporary password.',
  'account.locked': 'The account was locked after failed sign-ins.',
  'account.unlocked': 'An operator cleared the account\'s lockout.',
  'account.factors_changed': 'A second factor was added or removed, or recovery codes were generated.',
  'account.sessions_revoked': 'The account was signed out everywhere, or the person revoked one app\'s access.',
  'account.email_changed': 'The account\'s email address changed: confirmed by the person from the new address, set by an operator, or undone from the old address. Fetch the account for the address.',
  'import.finished': 'A CSV import job finished (done or failed), with its counts; accountId is null.',
} as const;

export type WebhookEventType = keyof typeof WEBHOOK_EVENTS;
export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_EVENTS) as WebhookEventType[];
export const isWebhookEventType = (value: string): value is WebhookEventType => Object.hasOwn(WEBHOOK_EVENTS, value);

/**
 * Audit event → webhook event. An audit event absent here is not a webhook event.
 * ('account.deleted' is named beside AuditEvent so this table compiles whether or
 * not account deletion has been added to the audit trail yet.) import.finished is
 * not an account change and has no audit event: the import job's end records it
 * (import-finished.ts).
 */
export const FROM_AUDIT: Partial<Record<AuditEvent | 'account.deleted', Exclude<WebhookEventType, 'import.finished'>>> = {
  'account.created': 'account.created',
  'signup.created': 'account.created',
  'account.updated': 'account.updated',
  'profile.updated': 'account.updated',
  'email.verified': 'account.updated',
  'account.disabled': 'account.disabled',
  'account.enabled': 'account.enabled',
  'account.deleted': 'account.deleted',
  // A deletion with a grace period disables the account until it is erased (then account.deleted) or restored.
  'account.deletion_scheduled': 'account.disabled',
  'account.restored': 'account.enabled',
  'password.changed': 'account.password_changed',
  'invite.accepted': 'account.password_changed',
  'account.migrated': 'account.password_changed',
  'password.reset': 'account.password_reset',
  'password.temporary_set': 'account.password_reset',
  'account.locked': 'account.locked',
  'account.unlocked': 'account.unlocked',
  'factor.added': 'account.factors_changed',
  'factor.removed': 'account.factors_changed',
  'recovery_codes.generated': 'account.factors_changed',
  'signout.everywhere': 'account.sessions_revoked',
  'grant.revoked': 'account.sessions_revoked',
  'email.changed': 'account.email_changed',
  'email.change_undone': 'account.email_changed',
  'session.ended': 'account.sessions_revoked',
  'sessions.ended_others': 'account.sessions_revoked',
};

/** One audit record as the trail hands it on (accounts/audit.ts). */
export interface RecordedAuditEvent {
  id: string;
  at: Date;
  event: string;
  userId: string | null;
  /** The account's real id where userId is a deleted account's pseudonym (AuditTrail.record's options). */
  accountId?: string | null;
  actor: string;
  details: Record<string, string | number | boolean | null>;
}

/** What is sent: never a secret, a password or anything derived from one (audit details are checked for that already). */
export interface WebhookPayload {
  /** Also the webhook-id header: the same for every attempt, receivers deduplicate by it. */
  id: string;
  type: WebhookEventType;
  /** When the change happened (RFC 3339). */
  time: string;
  accountId: string | null;
  /** Who made the change: self, admin:<account id>, client:<client id>, cli, import, scim or system. */
  actor: string;
  /** Small facts about the change, as the audit trail has them (changed fields, counts, a reason). */
  data: Record<string, string | number | boolean | null>;
}

/** How accounts/deletion.ts pseudonymises a deleted account's id in the audit trail. */
const DELETED_PREFIX = 'deleted:';

/** A webhook event id from a unique id (an audit record's, an import job's). */
export const eventId = (uniqueId: string) => `msg_${uniqueId.replace(/-/g, '')}`;

/** The webhook event an audit record stands for, or null when it is none (or is about no account when it must be). */
export function webhookEventFor(record: RecordedAuditEvent): WebhookPayload | null {
  const type = FROM_AUDIT[record.event as AuditEvent];
  const accountId = record.accountId ?? record.userId;
  // A CSV import's per-batch records name no account: import.finished sums them up. A deleted
  // account's pseudonym (deleted:<random>) names nothing a receiver knows: only its real id will do.
  if (!type || !accountId || accountId.startsWith(DELETED_PREFIX)) return null;
  return {
    id: eventId(record.id),
    type,
    time: record.at.toISOString(),
    accountId,
    actor: record.actor,
    data: { ...record.details },
  };
}
