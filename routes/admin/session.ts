// Who is signed in: the session cookie, the guard in front of every admin page, and the per-session
// CSRF token every state-changing request must carry.
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "../../lib/app.ts";
import { secretsEqual } from "../../lib/auth.ts";
import { type Session, SESSION_TTL_MS, type SessionStore } from "../../lib/store/session_store.ts";
import { MessagePage } from "../../views/message_page.tsx";

export type AdminEnv = {
  Variables: AppEnv["Variables"] & { session: Session; csrfToken: string };
};

const SESSION_COOKIE = "admin_session";
export const CSRF_FIELD = "_csrf";
export const CSRF_HEADER = "x-csrf-token";

/**
 * This server's address as clients see it: behind a reverse proxy, as its X-Forwarded-Proto and
 * X-Forwarded-Host say (the first of a list, the hop nearest the client).
 */
export function publicOrigin(c: Context): string {
  const url = new URL(c.req.url);
  const proto = c.req.header("x-forwarded-proto")?.split(",")[0].trim().toLowerCase() ||
    url.protocol.replace(":", "");
  const host = c.req.header("x-forwarded-host")?.split(",")[0].trim() || url.host;
  return `${proto}://${host}`;
}

/** Over https (directly or behind a TLS-terminating proxy) cookies get the Secure flag. */
export function isSecure(c: Context): boolean {
  return publicOrigin(c).startsWith("https://");
}

export function setSessionCookie(c: Context, session: Session): void {
  setCookie(c, SESSION_COOKIE, session.id, {
    httpOnly: true,
    sameSite: "Strict",
    secure: isSecure(c),
    path: "/admin",
    maxAge: Math.floor(SESSION_TTL_MS / 1000),
  });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/admin", secure: isSecure(c) });
}

/**
 * The address a failed try is counted against: the TCP peer, never a header anyone can set. An
 * IPv6 peer counts by its /64, since whoever has one address of a network usually has them all.
 */
export function clientAddress(c: Context): string {
  const env = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  const hostname = env?.remoteAddr?.hostname;
  return hostname ? throttledNetwork(hostname) : "unknown";
}

/** An IPv4 address as it is (an IPv4-mapped IPv6 one too), an IPv6 address as its /64. */
function throttledNetwork(address: string): string {
  if (!address.includes(":")) return address;
  const text = address.toLowerCase().replace(/%.*$/, "");
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (mapped) return mapped[1];
  const halves = text.split("::");
  if (halves.length > 2) return text;
  const groups = (half: string) => half ? half.split(":") : [];
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  // A trailing dotted quad stands for the last two groups.
  const last = (halves.length === 2 ? tail : head).at(-1) ?? "";
  const width = head.length + tail.length + (last.includes(".") ? 1 : 0);
  const all = halves.length === 2
    ? [...head, ...Array(Math.max(0, 8 - width)).fill("0"), ...tail]
    : head;
  const prefix = all.slice(0, 4);
  if (prefix.length < 4 || !prefix.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return text;
  return `${prefix.map((g) => parseInt(g, 16).toString(16)).join(":")}::/64`;
}

/** Methods that change nothing, so they need no CSRF token. */
export function isReadOnly(c: Context): boolean {
  const method = c.req.method;
  return method === "GET" || method === "HEAD" || method === "OPTIONS";
}

export function isHtmx(c: Context): boolean {
  return c.req.header("hx-request") === "true";
}

/** The signed-in session, or null. */
export function readSession(c: Context, sessions: SessionStore): Promise<Session | null> {
  return sessions.get(getCookie(c, SESSION_COOKIE));
}

/**
 * Where to return after signing in: a page asked for, itself; a fragment (a poll, a row) or a
 * form sent, the page the admin was on (named by HX-Current-URL or the Referer, trusted only from
 * this host), so a session that ended mid-edit comes back to the form, not to the dashboard.
 */
function returnPath(c: Context): string {
  const url = new URL(c.req.url);
  const fragment = isHtmx(c) && c.req.header("hx-boosted") !== "true";
  if (c.req.method === "GET" && !fragment) return url.pathname + url.search;
  try {
    const current = new URL(c.req.header(isHtmx(c) ? "hx-current-url" : "referer") ?? "");
    if (
      current.host === new URL(publicOrigin(c)).host && current.pathname.startsWith("/admin") &&
      !current.pathname.startsWith("/admin/login")
    ) {
      return current.pathname + current.search;
    }
  } catch {
    // No usable header: the dashboard.
  }
  return "/admin";
}

/** Pages need a session; without one a browser is sent to the sign-in page. */
export function requireSession(sessions: SessionStore): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    const session = await readSession(c, sessions);
    if (!session) {
      // A form sent after the session ended saved nothing: the sign-in page says so.
      const lost = isReadOnly(c) ? "" : "&unsaved=1";
      const login = `/admin/login?next=${encodeURIComponent(returnPath(c))}${lost}`;
      if (isHtmx(c)) {
        c.header("HX-Redirect", login);
        return c.body(null, 401);
      }
      return c.redirect(login, 303);
    }
    c.set("session", session);
    c.set("csrfToken", session.csrf);
    c.header("Vary", "HX-Request, Cookie");
    c.header("Cache-Control", "no-store");
    await next();
  };
}

/** The token from the form field or the htmx header, checked against the session's. */
export function requireCsrfToken(): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    if (isReadOnly(c)) return await next();
    const given = c.req.header(CSRF_HEADER) ?? await formField(c, CSRF_FIELD);
    if (!given || !secretsEqual(given, c.get("session").csrf)) {
      if (isHtmx(c)) {
        // A row or panel asked: the refusal is a page, so it takes the page's place, not theirs.
        c.header("HX-Retarget", "body");
        c.header("HX-Reswap", "innerHTML");
        c.header("HX-Push-Url", "false");
      }
      return c.html(
        MessagePage({
          title: "Form refused",
          message: "This form is out of date or did not come from this site (its CSRF token " +
            "is missing or wrong). Nothing was changed. Reload the page and try again.",
          link: { href: "/admin", label: "Back to the dashboard" },
        }),
        403,
      );
    }
    await next();
  };
}

/** One field of a url-encoded or multipart body; the body stays readable afterwards. */
async function formField(c: Context, name: string): Promise<string | undefined> {
  const type = c.req.header("content-type") ?? "";
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) return undefined;
  try {
    const value = (await c.req.formData()).get(name);
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}
