// Reading a resource a client sent against our schemas (schemas.ts): attribute
// names are case-insensitive in SCIM, so each is given its defined spelling;
// values must have their defined type; unknown attributes and schemas are
// refused (invalidSyntax), and so is anything that looks like a database
// operator ($-prefixed names other than $ref). Read-only attributes (id, meta,
// groups) are dropped, as RFC 7643 §2.2 says a service provider ignores them.
import { badRequest } from './errors.ts';
import { COMMON_ATTRIBUTES, type Attribute, type ResourceKind } from './schemas.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** An attribute definition by name, case-insensitively. */
export function findAttribute(attributes: readonly Attribute[], name: string): Attribute | undefined {
  const lower = name.toLowerCase();
  return attributes.find((attribute) => attribute.name.toLowerCase() === lower);
}

/** The core attributes of a kind, common ones included. */
export const coreAttributes = (kind: ResourceKind): Attribute[] => [...COMMON_ATTRIBUTES, ...kind.schema.attributes];

/** The extension schema named by `urn`, case-insensitively. */
export const findExtension = (kind: ResourceKind, urn: string) => kind.extensions.find((extension) => extension.id.toLowerCase() === urn.toLowerCase());

const MAX_STRING = 2048;
const MAX_VALUES = 100_000;

/** Booleans as booleans; "True"/"False" strings too (Entra ID sends them in PATCH). */
export function readBoolean(value: unknown, where: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  throw badRequest('invalidValue', `${where} must be true or false.`);
}

function checkName(name: string, where: string): void {
  if (name.startsWith('$') && name !== '$ref') throw badRequest('invalidSyntax', `"${where}${name}" is not an attribute (operator objects are not accepted).`);
}

/** One value of `attribute` (for multi-valued attributes: one element), canonical. */
export function readValue(attribute: Attribute, value: unknown, where: string): Json | undefined {
  if (value === null) return null;
  switch (attribute.type) {
    case 'boolean':
      return readBoolean(value, where);
    case 'complex': {
      if (!isObject(value)) throw badRequest('invalidValue', `${where} must be an object.`);
      const out: JsonObject = {};
      for (const [key, inner] of Object.entries(value)) {
        checkName(key, `${where}.`);
        const sub = findAttribute(attribute.subAttributes ?? [], key);
        if (!sub) throw badRequest('invalidSyntax', `"${where}.${key}" is not an attribute of ${where}.`);
        if (sub.mutability === 'readOnly') continue;
        const read = readValue(sub, inner, `${where}.${sub.name}`);
        if (read !== undefined) out[sub.name] = read;
      }
      return out;
    }
    default:
      if (typeof value !== 'string') throw badRequest('invalidValue', `${where} must be a string.`);
      if (value.length > MAX_STRING) throw badRequest('invalidValue', `${where} is longer than ${MAX_STRING} characters.`);
      return value;
  }
}

/** A whole attribute's value: an array of elements when multi-valued. Undefined for read-only ones (ignored). */
export function readAttribute(attribute: Attribute, value: unknown, where: string): Json | undefined {
  if (attribute.mutability === 'readOnly') return undefined;
  if (!attribute.multiValued || value === null) return readValue(attribute, value, where);
  if (!Array.isArray(value)) throw badRequest('invalidValue', `${where} must be an array.`);
  if (value.length > MAX_VALUES) throw badRequest('invalidValue', `${where} has more than ${MAX_VALUES} values.`);
  return value.map((element, index) => readValue(attribute, element, `${where}[${index}]`) as Json);
}

/**
 * A resource as sent to POST or PUT, canonical: `schemas` must name the kind's core
 * schema and only schemas it knows; each extension's attributes sit under its URN.
 */
export function readResource(kind: ResourceKind, input: unknown): JsonObject {
  if (!isObject(input)) throw badRequest('invalidSyntax', 'The body must be a JSON object.');
  const schemas = input.schemas ?? input.Schemas;
  if (!Array.isArray(schemas) || !schemas.every((schema) => typeof schema === 'string')) {
    throw badRequest('invalidSyntax', `"schemas" must be an array of schema URNs including "${kind.schema.id}".`);
  }
  const lowered = schemas.map((schema) => (schema as string).toLowerCase());
  if (!lowered.includes(kind.schema.id.toLowerCase())) throw badRequest('invalidSyntax', `"schemas" must include "${kind.schema.id}".`);
  for (const schema of schemas as string[]) {
    if (schema.toLowerCase() !== kind.schema.id.toLowerCase() && !findExtension(kind, schema)) {
      throw badRequest('invalidSyntax', `Unknown schema "${schema.slice(0, 200)}" for a ${kind.name}.`);
    }
  }

  const out: JsonObject = {};
  const core = coreAttributes(kind);
  for (const [key, value] of Object.entries(input)) {
    if (key.toLowerCase() === 'schemas') continue;
    checkName(key, '');
    const extension = findExtension(kind, key);
    if (extension) {
      if (!lowered.includes(extension.id.toLowerCase())) throw badRequest('invalidSyntax', `"${extension.id}" attributes are sent without the schema in "schemas".`);
      if (!isObject(value)) throw badRequest('invalidValue', `"${extension.id}" must be an object.`);
      const inner: JsonObject = {};
      for (const [name, innerValue] of Object.entries(value)) {
        checkName(name, `${extension.id}:`);
        const attribute = findAttribute(extension.attributes, name);
        if (!attribute) throw badRequest('invalidSyntax', `"${name}" is not an attribute of ${extension.id}.`);
        const read = readAttribute(attribute, innerValue, attribute.name);
        if (read !== undefined) inner[attribute.name] = read;
      }
      out[extension.id] = inner;
      continue;
    }
    const attribute = findAttribute(core, key);
    if (!attribute) throw badRequest('invalidSyntax', `"${key.slice(0, 100)}" is not an attribute of a ${kind.name}.`);
    const read = readAttribute(attribute, value, attribute.name);
    if (read !== undefined) out[attribute.name] = read;
  }
  return out;
}
