// PATCH (RFC 7644 §3.5.2) applied to a resource's SCIM representation, free of
// storage: the caller reads the resource, applies the operations here, and stores
// the result as it would a PUT. Paths are those directory services send:
// `active`, `name.givenName`, `emails[type eq "work"].value`,
// `members[value eq "<id>"]`, `urn:…:enterprise:2.0:User:manager`; `op` in any case;
// a value without a path as an object of attributes (or of dotted paths).
import { parse, type Compare, type Filter, type Suffix } from 'scim2-parse-filter';
import { badRequest } from './errors.ts';
import { MAX_OPERATIONS, URN, type Attribute, type ResourceKind } from './schemas.ts';
import {
  coreAttributes, findAttribute, findExtension, isObject, readAttribute, readValue, type Json, type JsonObject,
} from './resource.ts';

export type PatchOp = 'add' | 'replace' | 'remove';

export interface PatchOperation {
  op: PatchOp;
  path: string | null;
  value: unknown;
}

/** The request body, checked: the PatchOp schema and 1..MAX_OPERATIONS operations. */
export function readPatchRequest(input: unknown): PatchOperation[] {
  if (!isObject(input)) throw badRequest('invalidSyntax', 'The body must be a JSON object.');
  const schemas = input.schemas;
  if (!Array.isArray(schemas) || schemas.length !== 1 || schemas[0] !== URN.patch) {
    throw badRequest('invalidSyntax', `"schemas" must be ["${URN.patch}"].`);
  }
  for (const key of Object.keys(input)) {
    if (!['schemas', 'operations'].includes(key.toLowerCase())) throw badRequest('invalidSyntax', `"${key.slice(0, 100)}" is not part of a PATCH request.`);
  }
  const operations = Object.entries(input).find(([key]) => key.toLowerCase() === 'operations')?.[1];
  if (!Array.isArray(operations) || operations.length === 0) throw badRequest('invalidSyntax', '"Operations" must be a non-empty array.');
  if (operations.length > MAX_OPERATIONS) throw badRequest('tooMany', `At most ${MAX_OPERATIONS} operations per request.`);
  return operations.map((operation, index) => {
    if (!isObject(operation)) throw badRequest('invalidSyntax', `Operations[${index}] must be an object.`);
    let op: unknown;
    let path: unknown = null;
    let value: unknown;
    for (const [key, inner] of Object.entries(operation)) {
      const lower = key.toLowerCase();
      if (lower === 'op') op = inner;
      else if (lower === 'path') path = inner;
      else if (lower === 'value') value = inner;
      else throw badRequest('invalidSyntax', `Operations[${index}]."${key.slice(0, 100)}" is not part of an operation.`);
    }
    const name = typeof op === 'string' ? op.toLowerCase() : '';
    if (name !== 'add' && name !== 'replace' && name !== 'remove') throw badRequest('invalidSyntax', `Operations[${index}].op must be add, replace or remove.`);
    if (path !== null && (typeof path !== 'string' || !path.trim())) throw badRequest('invalidPath', `Operations[${index}].path must be a string.`);
    if (name !== 'remove' && value === undefined) throw badRequest('invalidSyntax', `Operations[${index}] needs a value.`);
    if (name === 'remove' && path === null) throw badRequest('noTarget', `Operations[${index}]: remove needs a path.`);
    return { op: name, path: path === null ? null : (path as string).trim(), value };
  });
}

/** A parsed path: which attribute (in which schema), which elements, which sub-attribute. */
export interface Target {
  /** An extension's URN, or null for the core schema. */
  extension: string | null;
  attribute: Attribute;
  filter: Filter | null;
  sub: Attribute | null;
}

const MAX_PATH = 500;

export function parsePath(kind: ResourceKind, path: string): Target {
  if (path.length > MAX_PATH) throw badRequest('invalidPath', `The path is longer than ${MAX_PATH} characters.`);
  // attrPath [ "[" valFilter "]" ] [ "." subAttr ], optionally prefixed with a schema URN.
  const match = /^(?<name>[^[\]]+?)(?:\[(?<filter>.+)\])?(?:\.(?<sub>[A-Za-z$][\w$-]*))?$/s.exec(path);
  if (!match?.groups) throw badRequest('invalidPath', `"${path.slice(0, 100)}" is not a valid path.`);
  let name = match.groups.name!;
  let subName = match.groups.sub ?? null;
  let extension: string | null = null;
  let attributes = coreAttributes(kind);

  if (name.toLowerCase().startsWith('urn:')) {
    const known = [kind.schema, ...kind.extensions].find((schema) => name.toLowerCase().startsWith(`${schema.id.toLowerCase()}:`));
    if (!known) throw badRequest('invalidPath', `"${path.slice(0, 100)}" names an unknown schema.`);
    name = name.slice(known.id.length + 1);
    if (known.id !== kind.schema.id) {
      extension = known.id;
      attributes = known.attributes;
    }
  }
  // Without a filter, "name.givenName" arrives in `name`.
  if (!match.groups.filter && name.includes('.')) {
    if (subName) throw badRequest('invalidPath', `"${path.slice(0, 100)}" is not a valid path.`);
    [name, subName] = [name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1)];
  }
  const attribute = findAttribute(attributes, name);
  if (!attribute) throw badRequest('invalidPath', `"${path.slice(0, 100)}" is not an attribute of a ${kind.name}.`);
  if (attribute.mutability === 'readOnly') throw badRequest('mutability', `${attribute.name} cannot be changed.`);

  let filter: Filter | null = null;
  if (match.groups.filter) {
    if (!attribute.multiValued) throw badRequest('invalidPath', `${attribute.name} is not multi-valued: it takes no filter.`);
    try {
      filter = parse(match.groups.filter);
    } catch {
      throw badRequest('invalidFilter', `The filter in "${path.slice(0, 100)}" is not valid.`);
    }
    checkFilterNames(filter, attribute, path);
  }
  let sub: Attribute | null = null;
  if (subName) {
    sub = findAttribute(attribute.subAttributes ?? [], subName) ?? null;
    if (!sub) throw badRequest('invalidPath', `"${subName}" is not a sub-attribute of ${attribute.name}.`);
    if (sub.mutability === 'readOnly') throw badRequest('mutability', `${attribute.name}.${sub.name} cannot be changed.`);
  }
  return { extension, attribute, filter, sub };
}

/** A path filter compares sub-attributes of its attribute only: `emails[type eq "work"]`. */
function checkFilterNames(filter: Filter, attribute: Attribute, path: string): void {
  if (filter.op === 'and' || filter.op === 'or') return filter.filters.forEach((child) => checkFilterNames(child, attribute, path));
  if (filter.op === 'not') return checkFilterNames(filter.filter, attribute, path);
  const name = (filter as { attrPath: string }).attrPath;
  if (filter.op === '[]' || !findAttribute(attribute.subAttributes ?? [], name)) {
    throw badRequest('invalidPath', `"${path.slice(0, 100)}": ${attribute.name} has no sub-attribute "${name.slice(0, 100)}" to filter on.`);
  }
}

/** Whether an element of a multi-valued attribute matches a value filter (strings compared case-insensitively). */
export function matches(element: Json, filter: Filter): boolean {
  if (filter.op === 'and') return filter.filters.every((child) => matches(element, child));
  if (filter.op === 'or') return filter.filters.some((child) => matches(element, child));
  if (filter.op === 'not') return !matches(element, filter.filter);
  if (filter.op === '[]' || !isObject(element)) return false;
  const leaf = filter as Compare | Suffix;
  const key = Object.keys(element).find((name) => name.toLowerCase() === leaf.attrPath.toLowerCase());
  const actual = key === undefined ? undefined : element[key];
  if (leaf.op === 'pr') return actual !== undefined && actual !== null && actual !== '';
  const wanted = leaf.compValue;
  const [a, b] = typeof actual === 'string' && typeof wanted === 'string' ? [actual.toLowerCase(), wanted.toLowerCase()] : [actual, wanted];
  switch (leaf.op) {
    case 'eq': return a === b;
    case 'ne': return a !== b;
    case 'co': return typeof a === 'string' && typeof b === 'string' && a.includes(b);
    case 'sw': return typeof a === 'string' && typeof b === 'string' && a.startsWith(b);
    case 'ew': return typeof a === 'string' && typeof b === 'string' && a.endsWith(b);
    default: throw badRequest('invalidFilter', `"${leaf.op}" is not supported in a path filter.`);
  }
}

/** `type eq "work"`: what a new element must hold so that the filter selects it, for add/replace without a match. */
function seedOf(filter: Filter): JsonObject | null {
  if (filter.op === 'eq' && typeof filter.compValue === 'string' && !filter.attrPath.includes('.')) return { [filter.attrPath]: filter.compValue };
  if (filter.op === 'and') {
    const parts = filter.filters.map(seedOf);
    return parts.every(Boolean) ? Object.assign({}, ...parts) : null;
  }
  return null;
}

const sameValue = (a: Json, b: Json) => isObject(a) && isObject(b) && a.value !== undefined && a.value === b.value;

/** Applies the operations in order to `resource` (canonical, as readResource returns); returns the new resource. */
export function applyPatch(kind: ResourceKind, resource: JsonObject, operations: readonly PatchOperation[]): JsonObject {
  const result = structuredClone(resource);
  for (const operation of operations) {
    if (operation.path === null) {
      // A value object: each key an attribute, a dotted path, or an extension's URN holding its attributes.
      if (!isObject(operation.value)) throw badRequest('invalidValue', 'An operation without a path needs an object as its value.');
      for (const [key, value] of Object.entries(operation.value)) {
        if (key.toLowerCase() === 'schemas') continue;
        const extension = findExtension(kind, key);
        if (extension && isObject(value)) {
          for (const [name, inner] of Object.entries(value)) applyOne(result, operation.op, parsePath(kind, `${extension.id}:${name}`), inner);
        } else {
          applyOne(result, operation.op, parsePath(kind, key), value);
        }
      }
    } else {
      applyOne(result, operation.op, parsePath(kind, operation.path), operation.value);
    }
  }
  return result;
}

function applyOne(resource: JsonObject, op: PatchOp, target: Target, value: unknown): void {
  const { attribute, filter, sub } = target;
  const holder: JsonObject = target.extension ? ((resource[target.extension] = isObject(resource[target.extension]) ? resource[target.extension]! : {}) as JsonObject) : resource;
  const name = attribute.name;
  const where = target.extension ? `${target.extension}:${name}` : name;

  if (!attribute.multiValued) {
    if (op === 'remove') {
      if (sub && isObject(holder[name])) delete (holder[name] as JsonObject)[sub.name];
      else if (!sub) delete holder[name];
      return;
    }
    if (sub) {
      const current = isObject(holder[name]) ? (holder[name] as JsonObject) : {};
      const read = readValue(sub, value, `${where}.${sub.name}`);
      if (read !== undefined) current[sub.name] = read;
      holder[name] = current;
      return;
    }
    // Entra ID sends a manager as a bare id: the same as { value: id }.
    const given = attribute.type === 'complex' && typeof value === 'string' ? { value } : value;
    const read = readAttribute(attribute, given, where);
    if (read === undefined) return;
    // A complex value's sub-attributes replace those given and leave the others (RFC 7644 §3.5.2.3).
    holder[name] = attribute.type === 'complex' && isObject(read) && isObject(holder[name]) ? { ...(holder[name] as JsonObject), ...read } : read;
    return;
  }

  const elements = Array.isArray(holder[name]) ? (holder[name] as Json[]) : [];
  if (!filter) {
    if (sub) {
      // `emails.value`: every element's sub-attribute.
      for (const element of elements) {
        if (!isObject(element)) continue;
        if (op === 'remove') delete element[sub.name];
        else element[sub.name] = readValue(sub, value, `${where}.${sub.name}`) ?? null;
      }
      if (!elements.length && op !== 'remove') holder[name] = [{ [sub.name]: readValue(sub, value, `${where}.${sub.name}`) ?? null }];
      return;
    }
    if (op === 'remove') {
      // Entra ID removes members with a value listing them: remove those; without a value, all.
      if (Array.isArray(value)) {
        const gone = readAttribute(attribute, value, where) as Json[];
        holder[name] = elements.filter((element) => !gone.some((other) => sameValue(element, other)));
      } else {
        delete holder[name];
      }
      return;
    }
    const added = readAttribute(attribute, Array.isArray(value) ? value : [value], where) as Json[] | null;
    if (op === 'replace') holder[name] = added ?? [];
    else holder[name] = [...elements, ...(added ?? []).filter((element) => !elements.some((other) => sameValue(element, other)))];
    return;
  }

  const selected = elements.filter((element) => matches(element, filter));
  if (op === 'remove') {
    if (sub) for (const element of selected) delete (element as JsonObject)[sub.name];
    else holder[name] = elements.filter((element) => !selected.includes(element));
    return;
  }
  if (!selected.length) {
    // add or replace of emails[type eq "work"].value when there is no work email yet: create it.
    const seed = seedOf(filter);
    if (!seed) throw badRequest('noTarget', `No value of ${name} matches the path's filter.`);
    const element = readValue(attribute, sub ? { ...seed, [sub.name]: value } : { ...seed, ...(isObject(value) ? value : {}) }, where)!;
    holder[name] = [...elements, element];
    return;
  }
  for (const element of selected) {
    if (!isObject(element)) continue;
    if (sub) element[sub.name] = readValue(sub, value, `${where}.${sub.name}`) ?? null;
    else {
      const read = readValue(attribute, value, where);
      if (isObject(read)) Object.assign(element, read);
    }
  }
}
