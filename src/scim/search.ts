// POST …/.search (RFC 7644 §3.4.3): the query of a list in a body, for clients
// whose filters would not fit in a URL or should not be logged in one. The same
// parameters as the query string; sorting is not offered, so sortBy is refused.
import { badRequest } from './errors.ts';
import { readProjection, type Projection } from './projection.ts';
import { isObject } from './resource.ts';
import type { ListParams } from './lists.ts';

export const SEARCH_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

export interface ListRequest {
  params: ListParams;
  projection: Projection;
}

const KEYS = ['schemas', 'filter', 'startIndex', 'count', 'attributes', 'excludedAttributes'];

export function readSearchRequest(input: unknown): ListRequest {
  if (!isObject(input)) throw badRequest('invalidSyntax', 'The body must be a JSON object.');
  const schemas = input.schemas;
  if (!Array.isArray(schemas) || schemas.length !== 1 || schemas[0] !== SEARCH_REQUEST) {
    throw badRequest('invalidSyntax', `"schemas" must be ["${SEARCH_REQUEST}"].`);
  }
  const value = (name: string) => Object.entries(input).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
  for (const key of Object.keys(input)) {
    if (/^sort(By|Order)$/i.test(key)) throw badRequest('invalidValue', 'Sorting is not supported.');
    if (!KEYS.some((known) => known.toLowerCase() === key.toLowerCase())) throw badRequest('invalidSyntax', `"${key.slice(0, 100)}" is not part of a search request.`);
  }
  const filter = value('filter');
  if (filter !== undefined && typeof filter !== 'string') throw badRequest('invalidFilter', 'filter must be a string.');
  const number = (name: string): number | undefined => {
    const given = value(name);
    if (given === undefined) return undefined;
    if (typeof given !== 'number' || !Number.isInteger(given) || Math.abs(given) > 1e9) throw badRequest('invalidValue', `${name} must be an integer.`);
    return given;
  };
  const names = (name: string): string | undefined => {
    const given = value(name);
    if (given === undefined) return undefined;
    if (!Array.isArray(given) || !given.every((item) => typeof item === 'string')) throw badRequest('invalidValue', `${name} must be an array of attribute names.`);
    return given.join(',');
  };
  return {
    params: { filter: filter || undefined, startIndex: number('startIndex'), count: number('count') },
    projection: readProjection({ attributes: names('attributes'), excludedAttributes: names('excludedAttributes') }),
  };
}
