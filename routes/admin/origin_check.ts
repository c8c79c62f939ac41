// hono/csrf's Origin / Sec-Fetch-Site check, answering 403 itself: the app's error handler would
// turn the exception it throws into a 500.
import type { Context, MiddlewareHandler, Next } from "hono";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { MessagePage } from "../../views/message_page.tsx";

const originCheck = csrf();

export async function checkOrigin(c: Context, next: Next): Promise<Response | void> {
  try {
    await originCheck(c, () => Promise.resolve());
  } catch (err) {
    if (!(err instanceof HTTPException)) throw err;
    return c.html(
      MessagePage({
        title: "Request refused",
        message: "This request did not come from a page of this site (Origin check), so nothing " +
          "was changed.",
        link: { href: "/admin", label: "Open the admin pages" },
      }),
      403,
    );
  }
  await next();
}

export const sameOriginOnly: MiddlewareHandler = (c, next) => checkOrigin(c, next);
