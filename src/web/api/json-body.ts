// Request bodies of the JSON APIs: application/json only (else 415), at most
// 16 kB (else 413), parsed strictly (only an object or array at the top, no
// __proto__ keys; anything unparsable is a 400), then validated with the route's
// zod schema. A failure names the fields at fault, never their values. Query
// strings (queryParams) are validated the same way.
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type { z } from 'zod';
import { ApiProblem, type FieldError } from './problem.ts';

export const JSON_LIMIT_BYTES = 16 * 1024;

const parse = bodyParser({
  enableTypes: ['json'],
  // DELETE too: its body is refused like any other rather than ignored.
  parsedMethods: ['POST', 'PUT', 'PATCH', 'DELETE'],
  jsonLimit: JSON_LIMIT_BYTES,
  jsonStrict: true,
  onError: (error) => {
    // raw-body and co-body errors carry a status; their messages (and `body`) stay here.
    const status = (error as { status?: number }).status;
    if (status === 413) throw new ApiProblem('payload-too-large', `The body is larger than ${JSON_LIMIT_BYTES / 1024} kB.`);
    if (status === 415) throw new ApiProblem('unsupported-media-type', 'The body\'s Content-Encoding is not supported.');
    throw new ApiProblem('invalid-request', 'The body is not valid JSON (an object is expected).', {
      errors: [{ field: BODY, code: 'invalid_json', message: 'The body could not be parsed as a JSON object.' }],
    });
  },
});

/** The `field` of an error about the body as a whole. */
export const BODY = '(body)';
const MAX_ERRORS = 20;
const MAX_FIELD_NAME = 64;

/** zod issues as field errors: one per field, with our own messages (never the value sent). */
export function fieldErrors(issues: readonly z.core.$ZodIssue[], input: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  const add = (error: FieldError) => {
    if (seen.has(error.field) || errors.length >= MAX_ERRORS) return;
    seen.add(error.field);
    errors.push(error);
  };
  const isObject = typeof input === 'object' && input !== null && !Array.isArray(input);
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) add({ field: key.slice(0, MAX_FIELD_NAME), code: 'unknown_field', message: 'This field is not accepted.' });
      continue;
    }
    const field = issue.path.length ? issue.path.map(String).join('.').slice(0, MAX_FIELD_NAME) : BODY;
    const top = issue.path[0];
    const missing = issue.code === 'invalid_type' && isObject && issue.path.length === 1 && !Object.hasOwn(input, top as PropertyKey);
    if (missing) add({ field, code: 'required', message: 'This field is required.' });
    else if (issue.code === 'invalid_type') add({ field, code: 'invalid_type', message: field === BODY ? 'The body must be a JSON object.' : `This field must be a ${issue.expected === 'int' ? 'whole number' : issue.expected}.` });
    else if ((issue.code === 'too_small' || issue.code === 'too_big') && (issue.origin === 'number' || issue.origin === 'int')) {
      if (issue.code === 'too_small') add({ field, code: 'too_small', message: `This field must be at least ${issue.minimum}.` });
      else add({ field, code: 'too_big', message: `This field must be at most ${issue.maximum}.` });
    } else if (issue.code === 'too_small') {
      const atLeast = issue.origin === 'array' ? `This field must have at least ${issue.minimum} items.` : `This field must be at least ${issue.minimum} characters long.`;
      add({ field, code: 'too_short', message: Number(issue.minimum) <= 1 ? 'This field must not be empty.' : atLeast });
    } else if (issue.code === 'too_big') {
      add({ field, code: 'too_long', message: issue.origin === 'array' ? `This field must have at most ${issue.maximum} items.` : `This field must be at most ${issue.maximum} characters long.` });
    } else if (issue.code === 'invalid_format') add({ field, code: 'invalid_format', message: issue.format === 'email' ? 'This must be an email address like name@example.com.' : 'This field is not in the expected format.' });
    else add({ field, code: 'invalid_value', message: 'This value is not accepted.' });
  }
  return errors;
}

/**
 * Reads and validates the body. A request without a body validates `{}`, so its
 * answer names the missing fields rather than a media type.
 */
export async function jsonBody<T extends z.ZodType>(ctx: Context, schema: T): Promise<z.output<T>> {
  let input: unknown = {};
  if (ctx.request.length || ctx.get('transfer-encoding')) {
    if (!ctx.is('application/json')) {
      throw new ApiProblem('unsupported-media-type', 'Send the body as JSON with Content-Type: application/json.');
    }
    await parse(ctx, async () => {});
    input = ctx.request.body;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const errors = fieldErrors(parsed.error.issues, input);
    throw new ApiProblem('invalid-request', `The request is not valid: ${errors.map((e) => e.field).join(', ')}.`, { errors });
  }
  return parsed.data;
}

/**
 * Reads and validates the query string. Empty values count as absent (a form
 * submitted with blank fields); a parameter given twice is refused unless it is
 * one of `lists`, whose values may also be separated by commas.
 */
export function queryParams<T extends z.ZodType>(ctx: Context, schema: T, lists: readonly string[] = []): z.output<T> {
  const input: Array<[string, unknown]> = [];
  const errors: FieldError[] = [];
  for (const [key, raw] of Object.entries(ctx.query)) {
    const values = (Array.isArray(raw) ? raw : [raw ?? '']).filter((value) => value !== '');
    if (!values.length) continue;
    if (lists.includes(key)) input.push([key, values.flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean)]);
    else if (values.length > 1) errors.push({ field: key.slice(0, MAX_FIELD_NAME), code: 'invalid_type', message: 'Give this parameter once.' });
    else input.push([key, values[0]]);
  }
  // fromEntries defines own properties: a "__proto__" parameter stays a (refused) key.
  const object = Object.fromEntries(input);
  const parsed = schema.safeParse(object);
  if (!parsed.success) errors.push(...fieldErrors(parsed.error.issues, object));
  if (errors.length) {
    throw new ApiProblem('invalid-request', `The query is not valid: ${errors.map((e) => e.field).join(', ')}.`, { errors: errors.slice(0, MAX_ERRORS) });
  }
  return parsed.data as z.output<T>;
}
