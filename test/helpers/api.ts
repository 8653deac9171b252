// Calling the JSON APIs as an app's server would, and checking their answers:
// problem+json errors without internals, no-store everywhere.
import { expect } from 'chai';

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, any>;
}

export interface CallInit {
  method?: string;
  /** Sent as `Authorization: Bearer <token>` when given. */
  token?: string | null;
  /** Sent as JSON unless already a string. */
  body?: unknown;
  /** Content-Type of a body (application/json). */
  type?: string;
  headers?: Record<string, string>;
}

/** One request to `base + path`; the answer's body parsed as JSON when it is JSON. */
export async function callApi(base: string, path: string, init: CallInit = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['content-type'] = init.type ?? 'application/json';
  }
  const response = await fetch(`${base}${path}`, { method: init.method ?? 'GET', headers, body });
  const text = await response.text();
  let json: Record<string, any> = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch { /* not JSON: the assertions say so */ }
  return { status: response.status, headers: response.headers, text, json };
}

/** An RFC 9457 problem of type `code` (a problem type of `issuer`, or about:blank), never showing internals. */
export function expectProblem(answer: Answer, status: number, code: string, issuer: string): void {
  expect(answer.status, answer.text.slice(0, 500)).to.equal(status);
  expect(answer.headers.get('content-type')).to.match(/^application\/problem\+json/);
  expect(answer.headers.get('cache-control')).to.equal('no-store');
  expect(answer.json.type).to.equal(code === 'about:blank' ? 'about:blank' : `${issuer}/api/problems/${code}`);
  expect(answer.json.status).to.equal(status);
  expect(answer.json.title).to.be.a('string').and.not.equal('');
  expect(answer.json.detail).to.be.a('string').and.not.equal('');
  expect(answer.text).to.not.match(/\bat \S+ \(|node_modules|\.ts:\d+|Error:|\$argon2/);
}

/** The fields and codes of a problem's `errors`. */
export const fieldsOf = (answer: Answer) => (answer.json.errors as Array<{ field: string }>).map((e) => e.field);
export const codesOf = (answer: Answer) => (answer.json.errors as Array<{ code: string }>).map((e) => e.code);
