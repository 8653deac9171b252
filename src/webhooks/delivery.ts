// One attempt: POST the signed body to the endpoint's URL and say what came back.
//
// - Only the registered URL: redirects are not followed (a 3xx is a failure).
// - Bounded: the whole attempt, answer included, within `timeoutMs`.
// - Only the first RESPONSE_KEEP_BYTES of the answer are read and kept, for the console.
// - 2xx is delivered; anything else, or no answer, is retried.
import type { LastResponse } from '../db/models/webhook.ts';
import { signedHeaders } from './signing.ts';

/** How much of a receiver's answer is kept (the console shows it). */
export const RESPONSE_KEEP_BYTES = 2048;
/** How long one attempt may take, answer included. */
export const DELIVERY_TIMEOUT_MS = 10_000;

export interface Attempt {
  url: string;
  secret: string;
  eventId: string;
  body: string;
  timeoutMs: number;
}

async function readSome(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_KEEP_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, RESPONSE_KEEP_BYTES).toString('utf8');
}

/** Sends one attempt; never throws. */
export async function attemptDelivery(attempt: Attempt): Promise<LastResponse & { ok: boolean }> {
  const started = Date.now();
  const at = new Date(started);
  const signal = AbortSignal.timeout(attempt.timeoutMs);
  try {
    const response = await fetch(attempt.url, {
      method: 'POST',
      redirect: 'manual',
      signal,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Latchkey-Webhooks/1',
        ...signedHeaders(attempt.secret, attempt.eventId, attempt.body, at),
      },
      body: attempt.body,
    });
    const body = await readSome(response);
    const ok = response.status >= 200 && response.status < 300;
    const error = ok ? null : response.status >= 300 && response.status < 400 ? 'redirects are not followed' : null;
    return { ok, at, status: response.status, body, error, durationMs: Date.now() - started };
  } catch (error) {
    const timedOut = signal.aborted;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = timedOut ? `no answer within ${attempt.timeoutMs} ms` : `could not connect: ${cause?.code ?? cause?.message ?? (error as Error).message}`;
    return { ok: false, at, status: null, body: '', error: reason.slice(0, 300), durationMs: Date.now() - started };
  }
}
