// Reading our forms: every field a string of bounded length; anything else (an
// operator object such as email[$ne]=, an array from a repeated field) is refused
// with a message beside the field, never passed on.
import { z } from 'zod';
import type { Context } from 'koa';
import { localeOf } from './locale.ts';

/** A text field: a missing one asks for it; anything but a string is refused. */
export const text = (missing: string) =>
  z.string({ error: (issue) => (issue.input === undefined ? missing : 'This field could not be read.') });

/** An optional opaque identifier carried through a form (an interaction uid, a token). */
export const optionalId = z.string().regex(/^[\w-]{1,128}$/).optional().catch(undefined);

export type FieldErrors = Record<string, string>;

export function parseForm<T extends z.ZodType>(schema: T, ctx: Context): { ok: true; data: z.infer<T> } | { ok: false; errors: FieldErrors } {
  const parsed = schema.safeParse(ctx.request.body ?? {});
  if (parsed.success) return { ok: true, data: parsed.data };
  const errors: FieldErrors = {};
  for (const issue of parsed.error.issues) {
    const field = String(issue.path[0] ?? 'form');
    errors[field] ??= issue.path.length ? issue.message : 'The form could not be read.';
  }
  return { ok: false, errors };
}

/** A field's raw value for redisplay, only when it is a plain string. */
export function echo(ctx: Context, field: string, max = 254): string {
  const value = (ctx.request.body as Record<string, unknown> | undefined)?.[field];
  return typeof value === 'string' ? value.slice(0, max) : '';
}

/** Who and where, for the audit trail. */
export function requestContext(ctx: Context, actor?: string): { ip: string; userAgent: string | null; actor?: string; locale: string } {
  return { ip: ctx.ip, userAgent: ctx.get('user-agent') || null, ...(actor ? { actor } : {}), locale: localeOf(ctx) };
}
