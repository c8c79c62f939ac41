// hono/csrf's Origin / Sec-Fetch-Site check, answered here: the app's error handler would turn the
// exception it throws into a 500. Pages are refused with a page, the JSON API with JSON.
import type { Context, MiddlewareHandler } from "hono";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { MessagePage } from "../../views/message_page.tsx";

const originCheck = csrf();

export const ORIGIN_REFUSED =
  "This request did not come from a page of this site (Origin check), " +
  "so nothing was changed.";

/** Whether the request passes the check (a read, or a write from a page of this site). */
export async function fromThisSite(c: Context): Promise<boolean> {
  try {
    await originCheck(c, () => Promise.resolve());
    return true;
  } catch (err) {
    if (!(err instanceof HTTPException)) throw err;
    return false;
  }
}

/**
 * For the JSON API's cookie callers, whatever the body's type (hono/csrf checks only those a form
 * can send): a request a browser sent from another site is refused; one no browser sent (no
 * Origin, no Sec-Fetch-Site) stands on its token.
 */
export function notCrossSite(c: Context): boolean {
  const site = c.req.header("sec-fetch-site");
  if (site === "same-origin") return true;
  const origin = c.req.header("origin");
  if (origin !== undefined) return origin === new URL(c.req.url).origin;
  return site === undefined || site === "none";
}

export const sameOriginOnly: MiddlewareHandler = async (c, next) => {
  if (await fromThisSite(c)) return await next();
  return c.html(
    MessagePage({
      title: "Request refused",
      message: ORIGIN_REFUSED,
      link: { href: "/admin", label: "Open the admin pages" },
    }),
    403,
  );
};
