// The old password store, asked over HTTPS (policy legacyMigration, README "Moving
// people in from a legacy password store"):
//
//   POST <url>   Authorization: Bearer <LEGACY_MIGRATION_SECRET>
//                {"email": "...", "password": "..."}
//   200 {"email": "...", "name"?: "...", "email_verified"?: true, "locale"?: "..."}  right
//   401 or 404                                                                       wrong
//   anything else, a redirect, a timeout, another email, a body we cannot read       unavailable
//
// Only the URL the operator configured is ever called; no redirect is followed; the
// answer is read up to 16 kB; the password goes in the body only and nothing of it is
// logged. Every failure is "unavailable", which the sign-in answers as a wrong password.
import type { Logger } from 'pino';
import { normalizeEmail } from '../accounts/email.ts';
import type { LegacyAnswer, LegacySource } from '../accounts/legacy-migration.ts';

const MAX_ANSWER_BYTES = 16 * 1024;

export function httpLegacySource(options: { url: string; secret: string; timeoutMs: number; log: Logger }): LegacySource {
  const unavailable = (why: string): LegacyAnswer => {
    options.log.warn({ legacySource: new URL(options.url).origin, why }, 'legacy password store unavailable');
    return { ok: false, reason: 'unavailable' };
  };
  return {
    async verify(email, password) {
      let response: Response;
      try {
        response = await fetch(options.url, {
          method: 'POST',
          headers: { authorization: `Bearer ${options.secret}`, 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ email, password }),
          redirect: 'manual',
          signal: AbortSignal.timeout(options.timeoutMs),
        });
      } catch (error) {
        return unavailable((error as Error).name === 'TimeoutError' ? 'timeout' : 'unreachable');
      }
      if (response.status === 401 || response.status === 404) {
        await response.body?.cancel();
        return { ok: false, reason: 'rejected' };
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        return unavailable(`status ${response.status}`);
      }
      let answer: unknown;
      try {
        const text = await readBounded(response, MAX_ANSWER_BYTES);
        answer = JSON.parse(text);
      } catch {
        return unavailable('unreadable answer');
      }
      const body = answer as { email?: unknown; name?: unknown; email_verified?: unknown; locale?: unknown } | null;
      // The answer must be about the address asked: anything else is a confused source, not a yes.
      if (!body || typeof body.email !== 'string' || normalizeEmail(body.email) !== normalizeEmail(email)) return unavailable('another email');
      return {
        ok: true,
        profile: {
          name: typeof body.name === 'string' ? body.name : undefined,
          emailVerified: body.email_verified === true,
          locale: typeof body.locale === 'string' ? body.locale : undefined,
        },
      };
    },
  };
}

/** The body as text, refusing one longer than `max` bytes without reading the rest. */
async function readBounded(response: Response, max: number): Promise<string> {
  const reader = response.body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new Error('answer too long');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
