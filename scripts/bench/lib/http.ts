// The load driver's HTTP: node:http with keep-alive (lighter than fetch, so the
// driver takes less of the two cores from the server it measures), a cookie jar
// per simulated browser, manual redirects, and a bounded load loop.
//
// Every request goes to the loopback interface: a URL naming "localhost" is sent
// to 127.0.0.1 (the servers under test bind only there), and anything else that
// is not a loopback address is refused outright.
import http, { type IncomingHttpHeaders } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The URL that was requested (redirect targets resolve against it). */
  url: string;
}

export interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  form?: Record<string, string>;
}

let agent = new http.Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 1000 });

/** Drops every pooled connection (between benchmarks, so no socket outlives its server). */
export function resetConnections(): void {
  agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 1000 });
}

function loopbackHost(url: URL): string {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return '127.0.0.1';
  if (/^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1') return host;
  throw new Error(`refusing to send load to a non-loopback address: ${url.host}`);
}

export function request(target: string | URL, init: RequestInit = {}): Promise<Response> {
  const url = typeof target === 'string' ? new URL(target) : target;
  if (url.protocol !== 'http:') throw new Error(`only http: is driven here (${url.protocol})`);
  const headers: Record<string, string> = { host: url.host, ...init.headers };
  let body = init.body;
  if (init.form) {
    body = new URLSearchParams(init.form).toString();
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
  }
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  const method = init.method ?? (body !== undefined ? 'POST' : 'GET');

  const attempt = (retry: boolean): Promise<Response> => new Promise((resolve, reject) => {
    const req = http.request({
      agent,
      host: loopbackHost(url),
      port: url.port || 80,
      path: url.pathname + url.search,
      method,
      headers,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), url: url.href }));
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`timeout: ${method} ${url.pathname}`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      // A kept-alive socket the server closed just as we reused it: the request never
      // reached the server, so sending it once more is safe (Node's documented pattern).
      if (retry && req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) {
        attempt(false).then(resolve, reject);
      } else {
        reject(error);
      }
    });
    req.end(body);
  });
  return attempt(true);
}

/** A browser: a cookie jar (every cookie sent everywhere on the one host, like the tests' Agent) and redirects by hand. */
export class Browser {
  readonly cookies = new Map<string, string>();

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await request(url, { ...init, headers });
    const setCookie = response.headers['set-cookie'] ?? [];
    for (const line of setCookie) {
      const pair = line.split(';', 1)[0]!;
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  /** Follows redirects until one leads to `stopAt` (returned, with that target as url, not fetched). */
  async follow(url: string, init: RequestInit = {}, stopAt?: string): Promise<Response> {
    let response = await this.request(url, init);
    for (let hops = 0; response.status >= 300 && response.status < 400 && hops < 10; hops++) {
      const next = locationOf(response);
      if (stopAt && next.startsWith(stopAt)) return { ...response, url: next };
      response = await this.request(next);
    }
    return response;
  }
}

export function locationOf(response: Response): string {
  const location = response.headers.location;
  if (!location) throw new Error(`expected a redirect, got ${response.status} from ${response.url}`);
  return new URL(location, response.url).href;
}

/** The hidden inputs and action of the first form whose action matches. */
export function formOn(html: string, actionPattern: RegExp): { action: string; fields: Record<string, string> } {
  const forms = [...html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)];
  const form = forms.find((match) => actionPattern.test(match[1]!.replace(/&amp;/g, '&')));
  if (!form) throw new Error(`no form matching ${actionPattern} in page: ${html.slice(0, 600)}`);
  const fields: Record<string, string> = {};
  for (const input of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]+)"/.exec(input[0])?.[1];
    const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
    if (name) fields[name] = value.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
  }
  return { action: form[1]!.replace(/&amp;/g, '&'), fields };
}

export function json<T = Record<string, unknown>>(response: Response, expectStatus = 200): T {
  if (response.status !== expectStatus) throw new Error(`expected ${expectStatus} from ${new URL(response.url).pathname}, got ${response.status}: ${response.body.slice(0, 300)}`);
  return JSON.parse(response.body) as T;
}

export function expectStatus(response: Response, ...statuses: number[]): Response {
  if (!statuses.includes(response.status)) {
    throw new Error(`expected ${statuses.join(' or ')} from ${new URL(response.url).pathname}, got ${response.status}: ${response.body.slice(0, 300)}`);
  }
  return response;
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface LoadResult {
  /** Tasks that completed without an error. */
  done: number;
  failed: number;
  firstError?: Error;
  seconds: number;
  perSecond: number;
}

/**
 * Runs `task` at `concurrency`, at most `count` times and for at most `seconds`
 * (no task starts after that; those running finish). Bounded both ways, always.
 */
export async function load(options: { concurrency: number; count: number; seconds: number; task: (index: number) => Promise<void>; signal?: AbortSignal }): Promise<LoadResult> {
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  let next = 0;
  let done = 0;
  let failed = 0;
  let firstError: Error | undefined;
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.count) }, async () => {
    while (next < options.count && performance.now() < deadline && !options.signal?.aborted) {
      const index = next++;
      try {
        await options.task(index);
        done++;
      } catch (error) {
        failed++;
        firstError ??= error as Error;
      }
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  return { done, failed, firstError, seconds, perSecond: done / seconds };
}

/** Throws when any task of a load failed: a figure made of errors measures nothing. */
export function assertClean(what: string, result: LoadResult): LoadResult {
  if (result.failed) throw new Error(`${what}: ${result.failed} of ${result.done + result.failed} failed; first: ${result.firstError?.message}`);
  if (!result.done) throw new Error(`${what}: nothing completed`);
  return result;
}
