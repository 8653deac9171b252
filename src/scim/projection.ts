// attributes and excludedAttributes (RFC 7644 §3.4.2.5), to the top-level
// attribute: `name.givenName` keeps `name`, an extension's attribute keeps the
// extension. id and schemas are always returned (and meta, which directories read
// the version from).
import { badRequest } from './errors.ts';
import type { JsonObject } from './resource.ts';
import { URN } from './schemas.ts';

export interface Projection {
  attributes: Set<string> | null;
  excluded: Set<string>;
  excludes(name: string): boolean;
}

const ALWAYS = new Set(['id', 'schemas', 'meta']);
const CORE = [URN.user, URN.group].map((urn) => `${urn.toLowerCase()}:`);
const EXTENSIONS = [URN.enterprise, URN.provisioning].map((urn) => urn.toLowerCase());

/** `urn:…:core:2.0:User:name.givenName` → `name`; `urn:…:enterprise:2.0:User:department` → the extension's URN. */
function topLevel(path: string): string {
  let lower = path.trim().toLowerCase();
  const extension = EXTENSIONS.find((urn) => lower === urn || lower.startsWith(`${urn}:`));
  if (extension) return extension;
  const core = CORE.find((prefix) => lower.startsWith(prefix));
  if (core) lower = lower.slice(core.length);
  return lower.split('.')[0]!;
}

function names(value: unknown, parameter: string): Set<string> | null {
  if (value === undefined || value === '') return null;
  if (typeof value !== 'string' || value.length > 1000) throw badRequest('invalidValue', `Give ${parameter} once, as a comma-separated list.`);
  return new Set(value.split(',').map(topLevel).filter(Boolean));
}

export function readProjection(query: Record<string, unknown>): Projection {
  const attributes = names(query.attributes, 'attributes');
  const excluded = names(query.excludedAttributes, 'excludedAttributes') ?? new Set<string>();
  return { attributes, excluded, excludes: (name) => excluded.has(name.toLowerCase()) || (attributes !== null && !attributes.has(name.toLowerCase())) };
}

export function projectAttributes(resource: JsonObject, projection: Projection): JsonObject {
  if (!projection.attributes && !projection.excluded.size) return resource;
  return Object.fromEntries(Object.entries(resource).filter(([key]) => ALWAYS.has(key) || !projection.excludes(key))) as JsonObject;
}
