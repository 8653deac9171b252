// A minimal browser for HTTP-level tests: a cookie jar and manual redirects, so
// a test can stop where a relying party's redirect_uri would take over.
export interface Page {
  status: number;
  url: string;
  headers: Headers;
  body: string;
}

export class Agent {
  /** Cookie values by name (tests may read and set them; one set by hand goes to every path). */
  readonly cookies = new Map<string, string>();
  /** The Path attributes a cookie of each name was set with, so it is sent only there, as a browser does. */
  readonly #paths = new Map<string, Set<string>>();
  readonly headers: Record<string, string>;

  constructor(headers: Record<string, string> = {}) {
    this.headers = headers;
  }

  /** The Cookie header for a request to `url` (every cookie when no URL is given). */
  cookieHeader(url?: string): string {
    const path = url ? new URL(url).pathname : '/';
    const matches = (cookiePath: string) => cookiePath === '/' || path === cookiePath || path.startsWith(cookiePath.endsWith('/') ? cookiePath : `${cookiePath}/`);
    return [...this.cookies]
      .filter(([name]) => !url || !this.#paths.has(name) || [...this.#paths.get(name)!].some(matches))
      .map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async request(url: string, init: { method?: string; form?: Record<string, string> | URLSearchParams | string; headers?: Record<string, string>; body?: string } = {}): Promise<Page> {
    const headers: Record<string, string> = { ...this.headers, ...init.headers };
    const cookie = this.cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    let body = init.body;
    if (init.form !== undefined) {
      body = typeof init.form === 'string' ? init.form : new URLSearchParams(init.form as Record<string, string>).toString();
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
    }
    const response = await fetch(url, { method: init.method ?? (body !== undefined ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      // RFC 6265: no Path attribute means the directory of the request's path.
      const path = /;\s*path=([^;]*)/i.exec(line)?.[1]?.trim() || new URL(url).pathname.replace(/\/[^/]*$/, '') || '/';
      const paths = this.#paths.get(name) ?? new Set<string>();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') {
        paths.delete(path);
        if (!paths.size) {
          this.cookies.delete(name);
          this.#paths.delete(name);
        }
      } else {
        this.cookies.set(name, value);
        this.#paths.set(name, paths.add(path));
      }
    }
    return { status: response.status, url, headers: response.headers, body: await response.text() };
  }

  /** GETs (or POSTs) and follows redirects until one leaves for `stopAt` (returned as the final url, not fetched). */
  async follow(url: string, init: Parameters<Agent['request']>[1] = {}, stopAt?: string): Promise<Page> {
    let page = await this.request(url, init);
    for (let hops = 0; page.status >= 300 && page.status < 400 && hops < 20; hops++) {
      const next = new URL(page.headers.get('location')!, page.url).href;
      if (stopAt && next.startsWith(stopAt)) return { ...page, url: next };
      page = await this.request(next);
    }
    return page;
  }
}

/** The hidden inputs and action of the first form on a page whose action matches. */
export function formOn(html: string, actionPattern: RegExp): { action: string; fields: Record<string, string> } {
  const forms = [...html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)];
  const form = forms.find((match) => actionPattern.test(match[1]!));
  if (!form) throw new Error(`no form matching ${actionPattern} in page:\n${html.slice(0, 2000)}`);
  const fields: Record<string, string> = {};
  for (const input of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]+)"/.exec(input[0])?.[1];
    const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
    if (name) fields[name] = value.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
  }
  return { action: form[1]!.replace(/&amp;/g, '&'), fields };
}

/**
 * A browser signed in to the account portal at `base` just now: /account sends it to the
 * provider's sign-in page, where it types the password (an account without a second step).
 */
export async function signedInToPortal(base: string, email: string, password: string): Promise<Agent> {
  const agent = new Agent();
  const login = await agent.follow(`${base}/account`);
  const form = formOn(login.body, /\/login$/);
  const home = await agent.follow(new URL(form.action, login.url).href, { form: { ...form.fields, email, password } });
  if (home.url !== `${base}/account`) throw new Error(`Not signed in to the portal: ${home.url}\n${home.body.slice(0, 500)}`);
  return agent;
}
