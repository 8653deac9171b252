// Lists (RFC 7644 §3.4.2): pages by startIndex and count, the ListResponse message,
// and the time limit a list query runs under.
import { badRequest } from './errors.ts';
import type { JsonObject } from './resource.ts';
import { MAX_RESULTS, URN } from './schemas.ts';

/** List queries that take longer than this (a `co` scan) are refused rather than left running. */
export const LIST_TIME_LIMIT_MS = 5000;

export interface ListParams {
  filter?: string;
  startIndex?: number;
  count?: number;
}

/** startIndex is 1-based; below 1 means 1. count below 0 means 0; above MAX_RESULTS is cut to it (RFC 7644 §3.4.2.4). */
export function pageOf(params: ListParams): { skip: number; limit: number; startIndex: number } {
  const startIndex = Math.max(1, Math.floor(params.startIndex ?? 1));
  const limit = Math.min(MAX_RESULTS, Math.max(0, Math.floor(params.count ?? MAX_RESULTS)));
  return { skip: startIndex - 1, limit, startIndex };
}

export function listResponse(resources: JsonObject[], total: number, startIndex: number): JsonObject {
  return { schemas: [URN.list], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources };
}

/** A list query's time limit reached: the filter asks for more than we scan. */
export function tooSlow(error: unknown): never {
  if ((error as { code?: number }).code === 50) throw badRequest('tooMany', 'The filter takes too long to answer; filter with eq or sw instead of co.');
  throw error;
}
