// Sign in with ADMIN_PASSWORD (constant-time, throttled per address) and sign out.
import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { secretsEqual } from "../../lib/auth.ts";
import type { Services } from "../../lib/services.ts";
import type { SessionStore } from "../../lib/store/session_store.ts";
import { LoginPage } from "../../views/login_page.tsx";
import { MessagePage } from "../../views/message_page.tsx";
import { field, readForm } from "./respond.ts";
import {
  type AdminEnv,
  clearSessionCookie,
  clientAddress,
  CSRF_FIELD,
  isSecure,
  readSession,
  setSessionCookie,
} from "./session.ts";

// Before a session exists, a double-submitted cookie stands in for its CSRF token.
const LOGIN_CSRF_COOKIE = "admin_login_csrf";

/** The sign-in form is a few hundred bytes; anyone may post it, so it is not read past this. */
const LOGIN_BODY_MAX = 64 * 1024;

const loginBodyLimit = bodyLimit({
  maxSize: LOGIN_BODY_MAX,
  onError: (c) =>
    c.html(
      MessagePage({
        title: "Sign-in refused",
        message: "The sign-in form sent was far larger than the form is, so it was not read.",
        link: { href: "/admin/login", label: "Back to the sign-in page" },
      }),
      413,
    ),
});

function safeNext(next: string | undefined): string {
  // Dot segments too ("/admin/../v1/models"): the browser resolves them out of /admin.
  if (
    next && /^\/admin(?:[/?][^\s\\]*)?$/.test(next) && !next.startsWith("//") &&
    !/\/\.{1,2}(?:[/?#]|$)|%2e/i.test(next.split(/[?#]/)[0])
  ) {
    return next;
  }
  return "/admin";
}

function loginToken(c: Context): string {
  let token = getCookie(c, LOGIN_CSRF_COOKIE);
  if (!token || !/^[0-9a-f]{32}$/.test(token)) {
    token = Array.from(crypto.getRandomValues(new Uint8Array(16)))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    setCookie(c, LOGIN_CSRF_COOKIE, token, {
      httpOnly: true,
      sameSite: "Strict",
      secure: isSecure(c),
      path: "/admin/login",
      maxAge: 3600,
    });
  }
  return token;
}

/** /login (GET, POST). */
export function loginRoutes(services: Services, sessions: SessionStore): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const password = services.config.adminPassword ?? "";

  app.get("/login", async (c) => {
    if (await readSession(c, sessions)) return c.redirect(safeNext(c.req.query("next")), 303);
    c.header("Cache-Control", "no-store");
    return c.html(
      LoginPage({
        loginCsrf: loginToken(c),
        next: c.req.query("next"),
        unsaved: c.req.query("unsaved") === "1",
      }),
    );
  });

  app.post("/login", loginBodyLimit, async (c) => {
    c.header("Cache-Control", "no-store");
    const form = await readForm(c);
    const next = field(form, "next") || undefined;
    const address = clientAddress(c);
    const expected = getCookie(c, LOGIN_CSRF_COOKIE);
    const given = field(form, CSRF_FIELD);
    if (!expected || !given || !secretsEqual(given, expected)) {
      return c.html(
        LoginPage({
          loginCsrf: loginToken(c),
          next,
          error: "The sign-in form had expired. Please try again.",
        }),
        403,
      );
    }
    const right = secretsEqual(field(form, "password"), password);
    const blockedFor = await sessions.tryPassword(address, right);
    if (blockedFor > 0) {
      const seconds = Math.ceil(blockedFor / 1000);
      c.header("Retry-After", String(seconds));
      return c.html(
        LoginPage({
          loginCsrf: loginToken(c),
          next,
          error: `Too many failed attempts. Try again in ${seconds} s.`,
          retryAfterSeconds: seconds,
        }),
        429,
      );
    }
    if (!right) {
      services.log.log("warn", "admin sign-in failed", { address });
      return c.html(
        LoginPage({ loginCsrf: loginToken(c), next, error: "Wrong password." }),
        401,
      );
    }
    const session = await sessions.create();
    setSessionCookie(c, session);
    deleteCookie(c, LOGIN_CSRF_COOKIE, { path: "/admin/login", secure: isSecure(c) });
    services.log.log("info", "admin signed in", { address });
    return c.redirect(safeNext(next), 303);
  });

  return app;
}

/** /logout (POST): behind the session guard and its CSRF check. */
export function logoutRoutes(sessions: SessionStore): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.post("/logout", async (c) => {
    await sessions.delete(c.get("session").id);
    clearSessionCookie(c);
    return c.redirect("/admin/login", 303);
  });
  return app;
}
