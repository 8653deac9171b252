// SCIM Users (RFC 7643 §4.1) over our accounts. Every change goes through the
// account domain (accounts/admin.ts, users.ts, deletion.ts), so provisioning
// follows the rules of every other surface: an account created without a password
// is invited by email as pre-registration is (unless the client says not to), a
// password given is temporary (changed at the first sign-in), active: false
// disables and signs out everywhere, delete is account deletion. The client is
// the actor of every audit record (context.actor = client:<id>).
import type { User } from '../db/models/user.ts';
import type { RequestContext } from '../accounts/audit.ts';
import {
  ADMIN_ROLE, adminCreateAccount, adminSendReset, adminSetTemporaryPassword, isAdmin, setDisabled,
} from '../accounts/admin.ts';
import { createUser, searchTermsFor } from '../accounts/users.ts';
import { emailSchema, normalizeEmail } from '../accounts/email.ts';
import { deleteAccount } from '../accounts/deletion.ts';
import { AccountError } from '../accounts/errors.ts';
import { badRequest, notFound, preconditionFailed, ScimError, uniqueness } from './errors.ts';
import { filterToQuery, parseFilter, type FilterFields } from './filter.ts';
import { applyPatch, readPatchRequest } from './patch.ts';
import { isObject, readResource, type Json, type JsonObject } from './resource.ts';
import { URN, USER_RESOURCE } from './schemas.ts';
import type { ScimDeps } from './context.ts';
import { LIST_TIME_LIMIT_MS, listResponse, pageOf, tooSlow, type ListParams } from './lists.ts';
import { etagMatches, etagOf, type Versioned } from './versions.ts';
import { isDuplicateKey } from '../db/duplicate-key.ts';

const NOT_DISABLED = ['active', 'invited', 'unverified'];

/** What users can be filtered by, each served by an index of users (db/models/user.ts). */
export const USER_FILTER_FIELDS: FilterFields = {
  id: { field: '_id', kind: 'caseExactString', ops: ['eq'] },
  userName: { field: 'emailNormalized', kind: 'caseIgnoredString', ops: ['eq', 'sw', 'co', 'pr'] },
  emails: { field: 'emailNormalized', kind: 'caseIgnoredString', ops: ['eq', 'sw', 'co', 'pr'] },
  'emails.value': { field: 'emailNormalized', kind: 'caseIgnoredString', ops: ['eq', 'sw', 'co', 'pr'] },
  externalId: { field: 'externalId', kind: 'caseExactString', ops: ['eq', 'sw', 'co', 'pr'] },
  active: { field: 'status', kind: 'boolean', ops: ['eq', 'pr'], booleanQuery: (active) => ({ status: active ? { $in: NOT_DISABLED } : 'disabled' }) },
};

type StoredUser = User & { createdAt?: Date; updatedAt?: Date };

const compact = (object: Record<string, Json | undefined>): JsonObject =>
  Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined && value !== null && value !== '')) as JsonObject;

/** An account as a SCIM User. `groups`: the SCIM groups it is in. */
export function userResource(user: StoredUser, groups: ReadonlyArray<{ id: string; displayName: string }>, baseUrl: string): Versioned {
  const scim = user.scim ?? {};
  const address = user.address ?? null;
  const enterprise = compact({
    employeeNumber: scim.employeeNumber ?? undefined, costCenter: scim.costCenter ?? undefined, organization: scim.organization ?? undefined,
    division: scim.division ?? undefined, department: scim.department ?? undefined,
    manager: scim.managerId ? { value: scim.managerId, $ref: `${baseUrl}/Users/${scim.managerId}` } : undefined,
  });
  const body = compact({
    schemas: [URN.user, ...(Object.keys(enterprise).length ? [URN.enterprise] : [])],
    id: user._id,
    externalId: user.externalId ?? undefined,
    userName: user.email,
    name: Object.keys(compact({ formatted: user.name, givenName: scim.givenName ?? undefined, familyName: scim.familyName ?? undefined })).length
      ? compact({ formatted: user.name, givenName: scim.givenName ?? undefined, familyName: scim.familyName ?? undefined })
      : undefined,
    displayName: user.name,
    locale: user.locale ?? undefined,
    active: user.status !== 'disabled',
    emails: [{ value: user.email, type: 'work', primary: true }],
    phoneNumbers: user.phoneNumber ? [{ value: user.phoneNumber, type: 'work', primary: true }] : undefined,
    addresses: address && Object.values(address).some(Boolean)
      ? [compact({
        streetAddress: address.street_address ?? undefined, locality: address.locality ?? undefined, region: address.region ?? undefined,
        postalCode: address.postal_code ?? undefined, country: address.country ?? undefined, type: 'work', primary: true,
      })]
      : undefined,
    groups: groups.length ? groups.map((group) => ({ value: group.id, display: group.displayName, $ref: `${baseUrl}/Groups/${group.id}`, type: 'direct' })) : undefined,
    [URN.enterprise]: Object.keys(enterprise).length ? enterprise : undefined,
  });
  const etag = etagOf(body);
  body.meta = compact({
    resourceType: 'User',
    created: user.createdAt?.toISOString(),
    lastModified: user.updatedAt?.toISOString(),
    location: `${baseUrl}/Users/${user._id}`,
    version: etag,
  });
  return { resource: body, etag };
}

/** What a User resource sets on an account. */
export interface UserFields {
  email: string;
  name: string;
  givenName: string | null;
  familyName: string | null;
  locale: string | null;
  phoneNumber: string | null;
  address: { street_address?: string; locality?: string; region?: string; postal_code?: string; country?: string } | null;
  externalId: string | null;
  enterprise: { employeeNumber?: string; costCenter?: string; organization?: string; division?: string; department?: string; managerId?: string };
  /** Undefined: unchanged. */
  active: boolean | undefined;
  password: string | undefined;
  sendInvitation: boolean;
}

const LOCALE = /^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8}){0,4}$/;

/** The one value of a multi-valued attribute we keep: the primary one, else the first. */
function chosen(values: Json | undefined): JsonObject | null {
  if (!Array.isArray(values)) return null;
  const objects = values.filter(isObject);
  return objects.find((value) => value.primary === true) ?? objects[0] ?? null;
}

function boundedText(value: Json | undefined, where: string, max: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = String(value).trim();
  if (text.length > max) throw badRequest('invalidValue', `${where} is longer than ${max} characters.`);
  return text || undefined;
}

/**
 * A canonical User resource (resource.ts) as account fields, checked. `previous`: the
 * representation a PATCH started from, where displayName and name.formatted both
 * showed the account's name; the one the PATCH changed is the new name.
 */
export function userFields(resource: JsonObject, previous?: JsonObject): UserFields {
  const userName = typeof resource.userName === 'string' ? resource.userName.trim() : '';
  if (!userName) throw badRequest('invalidValue', 'userName is required.');
  // userName is the sign-in email; emails are reported from it (what is sent there is not kept).
  if (!emailSchema.safeParse(userName).success) throw badRequest('invalidValue', 'userName must be an email address.');
  const email = userName;

  const name = isObject(resource.name) ? resource.name : {};
  const givenName = boundedText(name.givenName, 'name.givenName', 100) ?? null;
  const familyName = boundedText(name.familyName, 'name.familyName', 100) ?? null;
  const displayName = boundedText(resource.displayName, 'displayName', 200);
  const formatted = boundedText(name.formatted, 'name.formatted', 200);
  const formattedChanged = previous !== undefined && formatted !== (isObject(previous.name) ? previous.name.formatted : undefined)
    && displayName === (previous.displayName ?? undefined);
  const fullName = (formattedChanged ? formatted : displayName ?? formatted) ?? ([givenName, familyName].filter(Boolean).join(' ') || '');

  const locale = boundedText(resource.locale, 'locale', 35) ?? null;
  if (locale && !LOCALE.test(locale)) throw badRequest('invalidValue', 'locale must be a language tag such as en-GB.');

  const phone = chosen(resource.phoneNumbers);
  const phoneNumber = boundedText(phone?.value, 'phoneNumbers.value', 40) ?? null;
  const postal = chosen(resource.addresses);
  const address = postal ? compact({
    street_address: boundedText(postal.streetAddress, 'addresses.streetAddress', 200),
    locality: boundedText(postal.locality, 'addresses.locality', 100),
    region: boundedText(postal.region, 'addresses.region', 100),
    postal_code: boundedText(postal.postalCode, 'addresses.postalCode', 20),
    country: boundedText(postal.country, 'addresses.country', 60),
  }) as UserFields['address'] : null;

  const extension = isObject(resource[URN.enterprise]) ? resource[URN.enterprise] as JsonObject : {};
  const manager = isObject(extension.manager) ? extension.manager.value : extension.manager;
  const enterprise = compact({
    employeeNumber: boundedText(extension.employeeNumber, 'employeeNumber', 100),
    costCenter: boundedText(extension.costCenter, 'costCenter', 100),
    organization: boundedText(extension.organization, 'organization', 200),
    division: boundedText(extension.division, 'division', 200),
    department: boundedText(extension.department, 'department', 200),
    managerId: boundedText(manager, 'manager.value', 255),
  }) as UserFields['enterprise'];
  const provisioning = isObject(resource[URN.provisioning]) ? resource[URN.provisioning] as JsonObject : {};

  return {
    email, name: fullName, givenName, familyName, locale, phoneNumber,
    address: address && Object.keys(address).length ? address : null,
    externalId: boundedText(resource.externalId, 'externalId', 255) ?? null,
    enterprise,
    active: typeof resource.active === 'boolean' ? resource.active : undefined,
    password: typeof resource.password === 'string' ? resource.password : undefined,
    sendInvitation: provisioning.sendInvitation !== false,
  };
}

/** The SCIM groups of each account, from the group names its `groups` array holds. */
async function groupsOf(deps: ScimDeps, users: readonly StoredUser[]): Promise<Map<string, Array<{ id: string; displayName: string }>>> {
  const names = [...new Set(users.flatMap((user) => (user.groups ?? []).map((name) => name.toLowerCase())))];
  const projection = { _id: 1, displayName: 1, displayNameNormalized: 1 };
  // A few names one by one (an indexed equality everywhere; the embedded database pushes down no $in).
  const found = names.length > 32
    ? await deps.groups.find({ displayNameNormalized: { $in: names } }, projection).lean()
    : (await Promise.all(names.map((name) => deps.groups.findOne({ displayNameNormalized: name }, projection).lean()))).filter((group) => group !== null);
  const byName = new Map(found.map((group) => [group.displayNameNormalized, { id: group._id, displayName: group.displayName }]));
  return new Map(users.map((user) => [user._id, (user.groups ?? []).map((name) => byName.get(name.toLowerCase())).filter((group) => group !== undefined)]));
}

async function load(deps: ScimDeps, id: string): Promise<{ user: StoredUser; current: Versioned }> {
  const user = await deps.admin.users.findById(id).lean<StoredUser>();
  if (!user) throw notFound('No such user.');
  const groups = await groupsOf(deps, [user]);
  return { user, current: userResource(user, groups.get(user._id) ?? [], deps.baseUrl) };
}

export async function getUser(deps: ScimDeps, id: string): Promise<Versioned> {
  return (await load(deps, id)).current;
}

export async function listUsers(deps: ScimDeps, params: ListParams): Promise<JsonObject> {
  const query = params.filter ? filterToQuery(parseFilter(params.filter), USER_FILTER_FIELDS, URN.user) : {};
  const { skip, limit, startIndex } = pageOf(params);
  const [total, users] = await Promise.all([
    deps.admin.users.countDocuments(query).maxTimeMS(LIST_TIME_LIMIT_MS),
    limit ? deps.admin.users.find(query).sort({ emailNormalized: 1 }).skip(skip).limit(limit).maxTimeMS(LIST_TIME_LIMIT_MS).lean<StoredUser[]>() : [],
  ]).catch(tooSlow);
  const groups = await groupsOf(deps, users);
  return listResponse(users.map((user) => userResource(user, groups.get(user._id) ?? [], deps.baseUrl).resource), total, startIndex);
}

/** Sets the stored fields that differ from `fields`, only if the account is unchanged since `user` was read ('changed' if it was). */
async function storeFields(deps: ScimDeps, user: StoredUser, fields: UserFields, context: RequestContext): Promise<{ emailChanged: boolean } | 'changed'> {
  const set: Record<string, unknown> = {};
  const emailChanged = normalizeEmail(fields.email) !== user.emailNormalized;
  if (emailChanged) Object.assign(set, { email: fields.email, emailNormalized: normalizeEmail(fields.email), emailVerified: false });
  if (fields.name !== user.name) set.name = fields.name;
  if (emailChanged || set.name !== undefined) set.searchTerms = searchTermsFor(fields.email, fields.name);
  if (fields.locale !== (user.locale ?? null)) set.locale = fields.locale;
  if (fields.phoneNumber !== (user.phoneNumber ?? null)) set.phoneNumber = fields.phoneNumber;
  const sameJson = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const address = user.address ? compact(user.address as Record<string, string | undefined>) : null;
  if (!sameJson(fields.address, address && Object.keys(address).length ? address : null)) set.address = fields.address;
  if (fields.externalId !== (user.externalId ?? null)) set.externalId = fields.externalId;
  const scim = compact({ givenName: fields.givenName ?? undefined, familyName: fields.familyName ?? undefined, ...fields.enterprise });
  const stored = user.scim ? compact(user.scim as Record<string, string | undefined>) : {};
  if (!sameJson(scim, stored)) set.scim = Object.keys(scim).length ? scim : null;
  if (!Object.keys(set).length) return { emailChanged };

  const filter: Record<string, unknown> = { _id: user._id };
  if (user.updatedAt) filter.updatedAt = user.updatedAt;
  try {
    const { matchedCount } = await deps.admin.users.updateOne(filter, { $set: set });
    if (!matchedCount) return 'changed';
  } catch (error) {
    if (isDuplicateKey(error)) throw uniqueness('A user with this userName already exists.');
    throw error;
  }
  await deps.admin.audit.record('account.updated', user._id, context, { fields: Object.keys(set).filter((key) => key !== 'searchTerms').join(',') });
  if (emailChanged) {
    // Links emailed to the old address stop working; someone still invited is invited again at the new one.
    await deps.admin.links.revokeAll(user._id);
    if (user.status === 'invited' && fields.sendInvitation) await adminSendReset(deps.admin, user._id, context);
  }
  return { emailChanged };
}

/** What follows a stored change: enabling or disabling (which signs out everywhere), a temporary password. */
async function applyStatus(deps: ScimDeps, user: StoredUser, fields: UserFields, context: RequestContext): Promise<void> {
  if (fields.active !== undefined && fields.active === (user.status === 'disabled')) {
    await setDisabled(deps.admin, user._id, !fields.active, context);
    // Disabling ended any invitation link: an account still waiting for its first password gets a fresh one.
    if (fields.active && fields.sendInvitation) {
      const enabled = await deps.admin.users.findById(user._id, { status: 1 }).lean<Pick<User, 'status'>>();
      if (enabled?.status === 'invited') await adminSendReset(deps.admin, user._id, context);
    }
  }
  if (fields.password !== undefined) {
    const issues = await adminSetTemporaryPassword(deps.admin, user._id, fields.password, context);
    if (issues.length) throw badRequest('invalidValue', `password: ${issues.map((issue) => issue.message).join(' ')}`);
  }
}

/**
 * The scim scope never implies admin: an account with the admin role cannot be taken
 * over through SCIM (its email address, where reset links go, and its password stay
 * with administrators), and the last active administrator is not disabled.
 */
async function guardAdministrators(deps: ScimDeps, user: StoredUser, fields: UserFields): Promise<void> {
  if (!(user.roles ?? []).includes(ADMIN_ROLE)) return;
  if (normalizeEmail(fields.email) !== user.emailNormalized) {
    throw new ScimError(403, null, 'The userName of an administrator is changed by administrators, not through SCIM.');
  }
  if (fields.password !== undefined) throw new ScimError(403, null, 'The password of an administrator is not set through SCIM.');
  if (fields.active === false && isAdmin(user) && await deps.admin.users.countDocuments({ roles: ADMIN_ROLE, status: 'active' }) <= 1) {
    throw new AccountError('last_admin', 'This is the last active administrator: give another account the admin role first.');
  }
}

/** Attempts of a read-modify-write that finds the account changed in between, before giving up. */
const ATTEMPTS = 5;

/** PUT and PATCH: read, compute the new resource, store it if nothing changed meanwhile (else again, or 412 with If-Match). */
async function update(deps: ScimDeps, id: string, ifMatch: string | null, context: RequestContext, patching: boolean, next: (current: JsonObject) => JsonObject): Promise<Versioned> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const { user, current } = await load(deps, id);
    if (ifMatch && !etagMatches(ifMatch, current.etag)) throw preconditionFailed();
    const fields = userFields(next(current.resource), patching ? current.resource : undefined);
    await guardAdministrators(deps, user, fields);
    checkPassword(deps, fields);
    if ((await storeFields(deps, user, fields, context)) === 'changed') {
      if (ifMatch) throw preconditionFailed();
      continue;
    }
    await applyStatus(deps, user, fields, context);
    return getUser(deps, id);
  }
  throw new ScimError(409, null, 'The user is being changed by another request; try again.');
}

/** A password given is checked against the policy before anything is stored, so a refused one changes nothing. */
function checkPassword(deps: ScimDeps, fields: UserFields): void {
  if (fields.password === undefined) return;
  if (!fields.password) throw badRequest('invalidValue', 'password must not be empty.');
  const issues = deps.admin.policy.check(fields.password, { email: fields.email, name: fields.name });
  if (issues.length) throw badRequest('invalidValue', `password: ${issues.map((issue) => issue.message).join(' ')}`);
}

/** Read-only and write-only attributes left out of a representation before it is patched or replaced. */
function writable(resource: JsonObject): JsonObject {
  const { id: _id, meta: _meta, groups: _groups, schemas: _schemas, ...rest } = resource;
  return rest;
}

export async function createScimUser(deps: ScimDeps, input: unknown, context: RequestContext): Promise<Versioned> {
  const fields = userFields(readResource(USER_RESOURCE, input));
  let user: User;
  checkPassword(deps, fields);
  if (fields.password !== undefined) {
    user = await adminCreateAccount(deps.admin, { email: fields.email, name: fields.name, temporaryPassword: fields.password }, context);
  } else if (fields.sendInvitation && fields.active !== false) {
    user = await adminCreateAccount(deps.admin, { email: fields.email, name: fields.name, invite: true }, context);
  } else {
    // Pre-registered without an email (asked for, or created inactive): enabling it later, an
    // operator, or a reset request sends the invitation.
    user = await createUser(deps.admin, { email: fields.email, name: fields.name });
    await deps.admin.users.updateOne({ _id: user._id }, { $set: { status: 'invited' } });
    await deps.admin.audit.record('account.created', user._id, context, { invite: false });
    user = { ...user, status: 'invited' };
  }
  const created = await deps.admin.users.findById(user._id).lean<StoredUser>();
  if (!created) throw notFound('No such user.');
  await storeFields(deps, created, fields, context);
  if (fields.active === false) await setDisabled(deps.admin, user._id, true, context);
  return getUser(deps, user._id);
}

export async function replaceScimUser(deps: ScimDeps, id: string, input: unknown, ifMatch: string | null, context: RequestContext): Promise<Versioned> {
  const replacement = readResource(USER_RESOURCE, input);
  return update(deps, id, ifMatch, context, false, () => replacement);
}

export async function patchScimUser(deps: ScimDeps, id: string, input: unknown, ifMatch: string | null, context: RequestContext): Promise<Versioned> {
  const operations = readPatchRequest(input);
  // Applied to the whole current representation, then stored as a PUT would be.
  return update(deps, id, ifMatch, context, true, (current) => applyPatch(USER_RESOURCE, writable(current), operations));
}

export async function deleteScimUser(deps: ScimDeps, id: string, ifMatch: string | null, context: RequestContext): Promise<void> {
  if (ifMatch) {
    const { current } = await load(deps, id);
    if (!etagMatches(ifMatch, current.etag)) throw preconditionFailed();
  }
  try {
    await deleteAccount(deps.admin, id, context);
  } catch (error) {
    if (error instanceof AccountError && error.code === 'not_found') throw notFound('No such user.');
    throw error;
  }
}
