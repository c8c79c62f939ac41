// A signed-in admin for tests of the pages: cookies kept, the Origin and CSRF token a browser sends.
import assert from "node:assert/strict";
import { ADMIN_PASSWORD } from "./server.ts";

/** A browser stand-in: keeps cookies, sends the Origin a browser would. */
export class Browser {
  cookies = new Map<string, string>();
  csrf = "";
  constructor(readonly url: string) {}

  #remember(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";");
      const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
      if (attrs.some((a) => /max-age=0/i.test(a.trim())) || value === "") {
        this.cookies.delete(name);
      } else this.cookies.set(name, value);
    }
  }

  get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const res = await fetch(this.url + path, {
      headers: { cookie: this.cookieHeader, ...headers },
      redirect: "manual",
    });
    this.#remember(res);
    return res;
  }

  async text(path: string, headers: Record<string, string> = {}): Promise<string> {
    return await (await this.get(path, headers)).text();
  }

  async post(
    path: string,
    fields: Record<string, string | string[]> = {},
    options: { csrf?: boolean; origin?: string | null; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const body = new URLSearchParams();
    if (options.csrf !== false && this.csrf) body.append("_csrf", this.csrf);
    for (const [k, v] of Object.entries(fields)) {
      for (const item of Array.isArray(v) ? v : [v]) body.append(k, item);
    }
    const origin = options.origin === undefined ? this.url : options.origin;
    const res = await fetch(this.url + path, {
      method: "POST",
      headers: {
        cookie: this.cookieHeader,
        ...(origin ? { origin } : {}),
        ...options.headers,
      },
      body,
      redirect: "manual",
    });
    this.#remember(res);
    return res;
  }

  async postMultipart(path: string, form: FormData): Promise<Response> {
    form.append("_csrf", this.csrf);
    const res = await fetch(this.url + path, {
      method: "POST",
      headers: { cookie: this.cookieHeader, origin: this.url },
      body: form,
      redirect: "manual",
    });
    this.#remember(res);
    return res;
  }

  /** What a page's first form sends of what it was rendered from (`version`, `shown`). */
  async guardsOf(path: string): Promise<Record<string, string>> {
    return formGuards(await this.text(path));
  }
}

/** The `version` and `shown` fields of a page, the first of each, as a form on it sends them. */
export function formGuards(html: string): Record<string, string> {
  const guards: Record<string, string> = {};
  for (const [, name, value] of html.matchAll(/name="(version|shown)" value="([^"]*)"/g)) {
    guards[name] ??= value;
  }
  return guards;
}

export async function signIn(url: string, password = ADMIN_PASSWORD): Promise<Browser> {
  const b = new Browser(url);
  const login = await b.text("/admin/login");
  const token = login.match(/name="_csrf" value="([^"]+)"/)![1];
  b.csrf = token;
  const res = await b.post("/admin/login", { password });
  await res.body?.cancel();
  assert.equal(res.status, 303, "signed in");
  const dashboard = await b.text("/admin");
  b.csrf = dashboard.match(/name="_csrf" value="([^"]+)"/)![1];
  return b;
}
