// SCIM filters (RFC 7644 §3.4.2.2): parsed by scim2-parse-filter, then translated
// into a MongoDB query over indexed fields only. Whatever we cannot answer from an
// index (another attribute, ne/ew/gt/lt, not) is refused with invalidFilter rather
// than scanned. `sw` is an anchored regex on a normalized, indexed field (an index
// range on MongoDB); `co` is an unanchored regex, so it may scan: the list query
// runs under a time limit (users.ts, groups.ts).
import { parse, type Filter } from 'scim2-parse-filter';
import { badRequest } from './errors.ts';
import { URN } from './schemas.ts';

/** Longer filters than this are refused before parsing. */
export const MAX_FILTER_LENGTH = 1000;
const MAX_TERMS = 20;
const MAX_DEPTH = 8;

export function parseFilter(text: string): Filter {
  if (text.length > MAX_FILTER_LENGTH) throw badRequest('invalidFilter', `The filter is longer than ${MAX_FILTER_LENGTH} characters.`);
  let filter: Filter;
  try {
    filter = parse(text);
  } catch {
    throw badRequest('invalidFilter', 'The filter is not a valid SCIM filter expression (RFC 7644 §3.4.2.2).');
  }
  let terms = 0;
  const walk = (node: Filter, depth: number): void => {
    if (depth > MAX_DEPTH) throw badRequest('invalidFilter', `The filter nests deeper than ${MAX_DEPTH} levels.`);
    if (node.op === 'and' || node.op === 'or') for (const child of node.filters) walk(child, depth + 1);
    else if (node.op === 'not') walk(node.filter, depth + 1);
    else if (node.op === '[]') walk(node.valFilter, depth + 1);
    else if (++terms > MAX_TERMS) throw badRequest('invalidFilter', `The filter has more than ${MAX_TERMS} comparisons.`);
  };
  walk(filter, 0);
  return filter;
}

/** How one filterable attribute is stored. */
export interface FilterField {
  /** The document field. */
  field: string;
  kind: 'caseIgnoredString' | 'caseExactString' | 'boolean';
  /** The operators an index serves for it. */
  ops: ReadonlyArray<'eq' | 'sw' | 'co' | 'pr'>;
  /** For booleans and other derived attributes: the query for eq true / eq false. */
  booleanQuery?: (value: boolean) => Record<string, unknown>;
}

/** Attribute paths (as the schema spells them, without the core schema's URN; matched case-insensitively) to their fields. */
export type FilterFields = Readonly<Record<string, FilterField>>;

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `urn:ietf:params:scim:schemas:core:2.0:User:userName` → `username`. */
export function attributeKey(path: string, coreUrn: string): string {
  const lower = path.toLowerCase();
  const prefix = `${coreUrn.toLowerCase()}:`;
  return lower.startsWith(prefix) ? lower.slice(prefix.length) : lower;
}

/**
 * Conditions on different fields as one query object rather than an $and: the same
 * meaning, and the embedded database pushes an indexed equality down only from the
 * top level of a query.
 */
function allOf(parts: Array<Record<string, unknown>>): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) {
      if (key in merged) return { $and: parts };
      merged[key] = value;
    }
  }
  return merged;
}

export function filterToQuery(filter: Filter, fields: FilterFields, coreUrn: string = URN.user, parent = ''): Record<string, unknown> {
  switch (filter.op) {
    case 'and':
      return allOf(filter.filters.map((child) => filterToQuery(child, fields, coreUrn, parent)));
    case 'or':
      return { $or: filter.filters.map((child) => filterToQuery(child, fields, coreUrn, parent)) };
    case 'not':
      throw badRequest('invalidFilter', '"not" is not supported: it cannot be answered from an index.');
    case '[]':
      if (parent) throw badRequest('invalidFilter', 'Value filters cannot be nested.');
      return filterToQuery(filter.valFilter, fields, coreUrn, `${attributeKey(filter.attrPath, coreUrn)}.`);
    default: {
      const name = parent + attributeKey(filter.attrPath, coreUrn);
      const target = Object.entries(fields).find(([path]) => path.toLowerCase() === name)?.[1];
      const known = Object.keys(fields).join(', ');
      if (!target) throw badRequest('invalidFilter', `Filtering on "${parent}${filter.attrPath}" is not supported; filter on ${known}.`);
      const op = filter.op as string;
      if (!(target.ops as readonly string[]).includes(op)) {
        throw badRequest('invalidFilter', `"${op}" is not supported on ${filter.attrPath}; use ${target.ops.join(', ')}.`);
      }
      if (op === 'pr') return target.kind === 'boolean' ? {} : { [target.field]: { $gt: '' } };
      const value = (filter as { compValue: unknown }).compValue;
      if (target.kind === 'boolean') {
        if (typeof value !== 'boolean') throw badRequest('invalidFilter', `${filter.attrPath} is compared with true or false.`);
        return target.booleanQuery ? target.booleanQuery(value) : { [target.field]: value };
      }
      if (typeof value !== 'string') throw badRequest('invalidFilter', `${filter.attrPath} is compared with a string.`);
      const text = target.kind === 'caseIgnoredString' ? value.trim().toLowerCase() : value;
      if (op === 'eq') return { [target.field]: text };
      if (!text) throw badRequest('invalidFilter', `"${op}" needs a non-empty value.`);
      if (op === 'sw') return { [target.field]: { $regex: `^${escapeRegex(text)}` } };
      return { [target.field]: { $regex: escapeRegex(text) } };
    }
  }
}
