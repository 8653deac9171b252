// Versions of resources (RFC 7644 §3.14): the ETag a response carries (also
// meta.version) and If-Match. Users hash their representation; groups count changes.
import { createHash } from 'node:crypto';
import type { JsonObject } from './resource.ts';

/** A resource with its version, for the ETag header. */
export interface Versioned {
  resource: JsonObject;
  etag: string;
}

/** The version of a representation: a hash of everything but meta, so a change from any surface changes it. */
export function etagOf(resource: JsonObject): string {
  const { meta: _meta, ...rest } = resource;
  return `W/"${createHash('sha256').update(JSON.stringify(rest)).digest('base64url').slice(0, 22)}"`;
}

/** The version of a resource that counts its changes (groups). */
export const counterEtag = (version: number) => `W/"${version}"`;

/** If-Match: `*` or a list of ETags, weak or strong (a weak comparison: RFC 9110 §13.1.1 uses strong, but ours are all weak). */
export function etagMatches(ifMatch: string, etag: string): boolean {
  if (ifMatch.trim() === '*') return true;
  const bare = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifMatch.split(',').some((tag) => bare(tag) === bare(etag));
}
