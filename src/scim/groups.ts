// SCIM Groups (RFC 7643 §4.2), kept in their own collection (db/models/group.ts),
// with each member's `groups` array (the `groups` claim) holding the group's
// displayName. A change to a group and to its members' arrays is made by one
// operation at a time per group: it takes the group's lease (a conditional update
// of lockedUntil, shared by every instance), so two concurrent PATCHes of one
// group's members or name cannot interleave their account updates and leave a
// member without the name or a former member with it. Waiting requests retry for
// a while; a lease left by an instance that died lapses on its own.
import { randomUUID } from 'node:crypto';
import type { StoredGroup } from '../db/models/group.ts';
import type { User } from '../db/models/user.ts';
import type { RequestContext } from '../accounts/audit.ts';
import { badRequest, notFound, preconditionFailed, ScimError, uniqueness } from './errors.ts';
import { filterToQuery, parseFilter, type FilterFields } from './filter.ts';
import { applyPatch, readPatchRequest } from './patch.ts';
import { isObject, readResource, type JsonObject } from './resource.ts';
import { GROUP_RESOURCE, URN } from './schemas.ts';
import type { ScimDeps } from './context.ts';
import { LIST_TIME_LIMIT_MS, listResponse, pageOf, tooSlow, type ListParams } from './lists.ts';
import { counterEtag, etagMatches, type Versioned } from './versions.ts';
import { isDuplicateKey } from '../db/duplicate-key.ts';

export const GROUP_FILTER_FIELDS: FilterFields = {
  id: { field: '_id', kind: 'caseExactString', ops: ['eq'] },
  displayName: { field: 'displayNameNormalized', kind: 'caseIgnoredString', ops: ['eq', 'sw', 'co', 'pr'] },
  externalId: { field: 'externalId', kind: 'caseExactString', ops: ['eq', 'sw', 'co', 'pr'] },
  members: { field: 'members', kind: 'caseExactString', ops: ['eq'] },
  'members.value': { field: 'members', kind: 'caseExactString', ops: ['eq'] },
};

/** The same rule as group names given in the console (accounts/admin.ts), so the claim carries names of one kind. */
const GROUP_NAME = /^[\w .:@/-]{1,64}$/;
const LEASE_MS = 30_000;
const WAIT_FOR_LEASE_MS = 10_000;
/** Members of one group, at most. */
export const MAX_MEMBERS = 50_000;
/** Groups an account may be in: the console's limit for the groups claim. */
const MAX_GROUPS_PER_ACCOUNT = 50;

/**
 * Up to this many accounts are read or changed one by one, by _id: every database
 * answers that from its index (the embedded one pushes down no `$in`, so an `$in`
 * reads the whole users table there). More go in one `$in`, which MongoDB serves
 * from the _id index.
 */
const ONE_BY_ONE = 32;

async function usersById<T>(deps: ScimDeps, ids: readonly string[], projection: Record<string, 1>): Promise<T[]> {
  if (ids.length > ONE_BY_ONE) return deps.admin.users.find({ _id: { $in: [...ids] } }, projection).lean<T[]>();
  const found = await Promise.all(ids.map((id) => deps.admin.users.findById(id, projection).lean<T>()));
  return found.filter((user): user is NonNullable<typeof user> => user !== null) as T[];
}

async function updateUsers(deps: ScimDeps, ids: readonly string[], update: Record<string, unknown>): Promise<void> {
  if (!ids.length) return;
  if (ids.length > ONE_BY_ONE) await deps.admin.users.updateMany({ _id: { $in: [...ids] } }, update);
  else await Promise.all(ids.map((id) => deps.admin.users.updateOne({ _id: id }, update)));
}

export interface GroupOptions {
  /** false: leave members out (excludedAttributes=members), without looking up each member. */
  members?: boolean;
}

export async function groupResource(deps: ScimDeps, group: StoredGroup, options: GroupOptions = {}): Promise<Versioned> {
  const etag = counterEtag(group.version);
  const resource: JsonObject = { schemas: [URN.group], id: group._id };
  if (group.externalId) resource.externalId = group.externalId;
  resource.displayName = group.displayName;
  if (options.members !== false && group.members.length) {
    // Accounts deleted meanwhile are left out.
    const users = await usersById<Pick<User, '_id' | 'email'>>(deps, group.members, { email: 1 });
    const emails = new Map(users.map((user) => [user._id, user.email]));
    resource.members = group.members.filter((id) => emails.has(id))
      .map((id) => ({ value: id, display: emails.get(id)!, $ref: `${deps.baseUrl}/Users/${id}`, type: 'User' }));
  }
  resource.meta = {
    resourceType: 'Group', created: group.createdAt.toISOString(), lastModified: group.updatedAt.toISOString(),
    location: `${deps.baseUrl}/Groups/${group._id}`, version: etag,
  };
  return { resource, etag };
}

export async function getGroup(deps: ScimDeps, id: string, options: GroupOptions = {}): Promise<Versioned> {
  const group = await deps.groups.findById(id).lean<StoredGroup>();
  if (!group) throw notFound('No such group.');
  return groupResource(deps, group, options);
}

export async function listGroups(deps: ScimDeps, params: ListParams, options: GroupOptions = {}): Promise<JsonObject> {
  const query = params.filter ? filterToQuery(parseFilter(params.filter), GROUP_FILTER_FIELDS, URN.group) : {};
  const { skip, limit, startIndex } = pageOf(params);
  const [total, groups] = await Promise.all([
    deps.groups.countDocuments(query).maxTimeMS(LIST_TIME_LIMIT_MS),
    limit ? deps.groups.find(query).sort({ displayNameNormalized: 1 }).skip(skip).limit(limit).maxTimeMS(LIST_TIME_LIMIT_MS).lean<StoredGroup[]>() : [],
  ]).catch(tooSlow);
  const resources = await Promise.all(groups.map(async (group) => (await groupResource(deps, group, options)).resource));
  return listResponse(resources, total, startIndex);
}

/** What a Group resource sets. */
interface GroupFields {
  displayName: string;
  externalId: string | null;
  members: string[];
}

function groupFields(resource: JsonObject): GroupFields {
  const displayName = typeof resource.displayName === 'string' ? resource.displayName.trim() : '';
  if (!GROUP_NAME.test(displayName)) throw badRequest('invalidValue', 'displayName is required: 1 to 64 letters, digits, spaces and . _ : @ / - only.');
  const externalId = typeof resource.externalId === 'string' && resource.externalId.trim() ? resource.externalId.trim() : null;
  if (externalId && externalId.length > 255) throw badRequest('invalidValue', 'externalId is longer than 255 characters.');
  const members = Array.isArray(resource.members) ? resource.members : [];
  const ids = members.map((member, index) => {
    const value = isObject(member) ? member.value : undefined;
    if (typeof value !== 'string' || !value || value.length > 100) throw badRequest('invalidValue', `members[${index}].value must be a user id.`);
    return value;
  });
  const unique = [...new Set(ids)];
  if (unique.length > MAX_MEMBERS) throw badRequest('invalidValue', `A group has at most ${MAX_MEMBERS} members.`);
  return { displayName, externalId, members: unique };
}

/** Every id must be an account's. */
async function checkMembers(deps: ScimDeps, ids: readonly string[]): Promise<void> {
  if (!ids.length) return;
  const found = await usersById<Pick<User, '_id' | 'groups'>>(deps, ids, { _id: 1, groups: 1 });
  if (found.length !== ids.length) {
    const known = new Set(found.map((user) => user._id));
    const missing = ids.find((id) => !known.has(id))!;
    throw badRequest('invalidValue', `members: there is no user with id "${missing.slice(0, 100)}".`);
  }
  const full = found.find((user) => (user.groups ?? []).length >= MAX_GROUPS_PER_ACCOUNT);
  if (full) throw badRequest('invalidValue', `members: user "${full._id}" is already in ${MAX_GROUPS_PER_ACCOUNT} groups.`);
}

/** Brings members' `groups` arrays in line with a change from `before` to `after` (null: no group). */
async function syncAccounts(deps: ScimDeps, before: GroupFields | null, after: GroupFields | null): Promise<{ added: string[]; removed: string[] }> {
  const old = new Set(before?.members ?? []);
  const now = new Set(after?.members ?? []);
  const added = [...now].filter((id) => !old.has(id));
  const removed = [...old].filter((id) => !now.has(id));
  const renamed = before && after && before.displayName !== after.displayName;
  if (before && (removed.length || renamed)) {
    const leaving = renamed ? [...old] : removed;
    await updateUsers(deps, leaving, { $pull: { groups: before.displayName } });
  }
  if (after) {
    const joining = renamed ? [...now] : added;
    await updateUsers(deps, joining, { $addToSet: { groups: after.displayName } });
  }
  return { added, removed };
}

async function recordMembership(deps: ScimDeps, groupId: string, change: { added: string[]; removed: string[] }, context: RequestContext): Promise<void> {
  await deps.admin.audit.recordMany([
    ...change.added.map((userId) => ({ event: 'account.updated' as const, userId, context, details: { fields: 'groups', groupId, member: true } })),
    ...change.removed.map((userId) => ({ event: 'account.updated' as const, userId, context, details: { fields: 'groups', groupId, member: false } })),
  ]);
}

export async function createGroup(deps: ScimDeps, input: unknown, context: RequestContext, options: GroupOptions = {}): Promise<Versioned> {
  const fields = groupFields(readResource(GROUP_RESOURCE, input));
  await checkMembers(deps, fields.members);
  const leaseId = randomUUID();
  const id = randomUUID();
  try {
    // Created holding its lease: nobody changes it before its members carry its name.
    await deps.groups.create({
      _id: id, displayName: fields.displayName, displayNameNormalized: fields.displayName.toLowerCase(), externalId: fields.externalId,
      members: fields.members, version: 1, lockedUntil: new Date(Date.now() + LEASE_MS), leaseId, pending: null,
    });
  } catch (error) {
    if (isDuplicateKey(error)) throw uniqueness('A group with this displayName already exists.');
    throw error;
  }
  try {
    const change = await syncAccounts(deps, null, fields);
    await deps.admin.audit.record('group.created', null, context, { groupId: id, displayName: fields.displayName, members: fields.members.length });
    await recordMembership(deps, id, change, context);
  } finally {
    await release(deps, id, leaseId);
  }
  return getGroup(deps, id, options);
}

/** Takes the group's lease, waiting for another operation to finish; null when the group does not exist. */
async function acquire(deps: ScimDeps, id: string): Promise<{ group: StoredGroup; leaseId: string } | null> {
  const leaseId = randomUUID();
  const deadline = Date.now() + WAIT_FOR_LEASE_MS;
  for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
    const now = new Date();
    const lockedUntil = new Date(now.getTime() + LEASE_MS);
    const before = await deps.groups.findOneAndUpdate(
      { _id: id, $or: [{ lockedUntil: null }, { lockedUntil: { $lte: now } }] },
      { $set: { lockedUntil, leaseId } },
      { returnDocument: 'before', timestamps: false },
    ).lean<StoredGroup>();
    if (before) {
      if (before.lockedUntil) await finishInterrupted(deps, before);
      return { group: { ...before, lockedUntil, leaseId, pending: null }, leaseId };
    }
    if (!(await deps.groups.exists({ _id: id }))) return null;
    if (Date.now() > deadline) throw new ScimError(409, null, 'The group is being changed by another request; try again.');
    await new Promise((resolve) => setTimeout(resolve, wait + Math.random() * wait));
  }
}

async function release(deps: ScimDeps, id: string, leaseId: string): Promise<void> {
  await deps.groups.updateOne({ _id: id, leaseId }, { $set: { lockedUntil: null, leaseId: null, pending: null } }, { timestamps: false });
}

/**
 * A lapsed lease: its operation stopped part way (its instance died). The group was
 * written first, with what the change took away (`pending`), so the accounts can be
 * brought in step: former members and a former name out, the members in.
 */
async function finishInterrupted(deps: ScimDeps, group: StoredGroup): Promise<void> {
  const { pending } = group;
  if (pending) await updateUsers(deps, pending.removed, { $pullAll: { groups: [pending.previousName, group.displayName] } });
  if (pending && pending.previousName !== group.displayName) await updateUsers(deps, group.members, { $pull: { groups: pending.previousName } });
  await updateUsers(deps, group.members, { $addToSet: { groups: group.displayName } });
}

/** Under the lease: read, compute the new group, store it, then the members' accounts. */
async function change(deps: ScimDeps, id: string, ifMatch: string | null, context: RequestContext, options: GroupOptions, next: (current: JsonObject) => JsonObject): Promise<Versioned> {
  const held = await acquire(deps, id);
  if (!held) throw notFound('No such group.');
  const { group, leaseId } = held;
  try {
    // Patched as stored: member ids only, without looking each member up.
    const current = await groupResource(deps, group, { members: false });
    if (ifMatch && !etagMatches(ifMatch, current.etag)) throw preconditionFailed();
    const before: GroupFields = { displayName: group.displayName, externalId: group.externalId, members: group.members };
    const after = groupFields(next({ ...current.resource, members: group.members.map((value) => ({ value })) }));
    const old = new Set(before.members);
    const kept = new Set(after.members);
    await checkMembers(deps, after.members.filter((member) => !old.has(member)));
    // Directories repeat themselves (adding a member twice, the same name again): nothing to store, audit or version.
    const unchanged = after.displayName === before.displayName && after.externalId === before.externalId
      && after.members.length === before.members.length && after.members.every((member) => old.has(member));
    if (unchanged) return await getGroup(deps, id, options);
    try {
      await deps.groups.updateOne({ _id: id, leaseId }, {
        $set: {
          displayName: after.displayName, displayNameNormalized: after.displayName.toLowerCase(), externalId: after.externalId, members: after.members,
          pending: { previousName: before.displayName, removed: before.members.filter((member) => !kept.has(member)) },
        },
        $inc: { version: 1 },
      });
    } catch (error) {
      if (isDuplicateKey(error)) throw uniqueness('A group with this displayName already exists.');
      throw error;
    }
    const membership = await syncAccounts(deps, before, after);
    await deps.admin.audit.record('group.updated', null, context, {
      groupId: id, displayName: after.displayName, renamedFrom: before.displayName === after.displayName ? null : before.displayName,
      added: membership.added.length, removed: membership.removed.length,
    });
    await recordMembership(deps, id, membership, context);
  } finally {
    await release(deps, id, leaseId);
  }
  return getGroup(deps, id, options);
}

function writable(resource: JsonObject): JsonObject {
  const { id: _id, meta: _meta, schemas: _schemas, ...rest } = resource;
  return rest;
}

export async function replaceGroup(deps: ScimDeps, id: string, input: unknown, ifMatch: string | null, context: RequestContext, options: GroupOptions = {}): Promise<Versioned> {
  const replacement = readResource(GROUP_RESOURCE, input);
  return change(deps, id, ifMatch, context, options, () => replacement);
}

export async function patchGroup(deps: ScimDeps, id: string, input: unknown, ifMatch: string | null, context: RequestContext, options: GroupOptions = {}): Promise<Versioned> {
  const operations = readPatchRequest(input);
  return change(deps, id, ifMatch, context, options, (current) => applyPatch(GROUP_RESOURCE, writable(current), operations));
}

export async function deleteGroup(deps: ScimDeps, id: string, ifMatch: string | null, context: RequestContext): Promise<void> {
  const held = await acquire(deps, id);
  if (!held) throw notFound('No such group.');
  const { group, leaseId } = held;
  try {
    if (ifMatch && !etagMatches(ifMatch, counterEtag(group.version))) throw preconditionFailed();
    await syncAccounts(deps, { displayName: group.displayName, externalId: group.externalId, members: group.members }, null);
    await deps.groups.deleteOne({ _id: id, leaseId });
    await deps.admin.audit.record('group.deleted', null, context, { groupId: id, displayName: group.displayName, members: group.members.length });
  } catch (error) {
    await release(deps, id, leaseId);
    throw error;
  }
}
