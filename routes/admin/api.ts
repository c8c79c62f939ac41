// /admin/api: the configuration as JSON for scripts and the CLI. Bearer ADMIN_PASSWORD, or the
// admin session cookie (then writes need the session's CSRF token, as the pages do).
import { bodyLimit } from "hono/body-limit";
import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import {
  ConflictError,
  etagOf,
  InvalidConfigError,
  versionFromIfMatch,
} from "../../lib/admin_service.ts";
import type { ErrorType } from "../../lib/anthropic.ts";
import { methodNotAllowed } from "../../lib/errors.ts";
import { bearerOf, secretsEqual } from "../../lib/auth.ts";
import { repeatedKeys, validateInput } from "../../lib/config_document.ts";
import { keyStatuses } from "../../lib/key_status.ts";
import type { Services } from "../../lib/services.ts";
import type { SessionStore } from "../../lib/store/session_store.ts";
import { fromThisSite, notCrossSite, ORIGIN_REFUSED } from "./origin_check.ts";
import { type AdminEnv, clientAddress, CSRF_HEADER, isReadOnly, readSession } from "./session.ts";

/**
 * Far above a configuration the store takes (about 780 KB) or a paste of keys: a larger body is
 * refused before it is held whole.
 */
export const MAX_ADMIN_BODY = 8 * 1024 * 1024;
export const TOO_LARGE = `The request is larger than ${MAX_ADMIN_BODY / 1024 / 1024} MB.`;

/**
 * An admin API error, in the shape of every other error the server answers with (`/v1`'s, and
 * this API's own 500 and 503), with the problems of a refused configuration besides.
 */
export function apiError(
  c: Context,
  status: 400 | 401 | 403 | 404 | 405 | 412 | 413 | 429,
  type: ErrorType,
  message: string,
  problems?: string[],
): Response {
  return c.json({
    type: "error",
    error: { type, message, ...(problems ? { problems } : {}) },
    request_id: c.get("requestId"),
  }, status);
}

function apiAuth(services: Services, sessions: SessionStore): MiddlewareHandler<AdminEnv> {
  const password = services.config.adminPassword ?? "";
  return async (c, next) => {
    c.header("Cache-Control", "no-store");
    const bearer = bearerOf(c.req.raw.headers);
    if (bearer !== undefined) {
      // The sign-in form's throttle, on the same count: a script cannot guess faster than a form.
      const address = clientAddress(c);
      const right = secretsEqual(bearer, password);
      const blockedFor = await sessions.tryPassword(address, right);
      if (blockedFor > 0) {
        const seconds = Math.ceil(blockedFor / 1000);
        c.header("Retry-After", String(seconds));
        return apiError(
          c,
          429,
          "rate_limit_error",
          `Too many failed attempts. Try again in ${seconds} s.`,
        );
      }
      if (!right) {
        services.log.log("warn", "admin API: wrong password", { address });
        return apiError(c, 401, "authentication_error", "Wrong admin password");
      }
      return await next();
    }
    const session = await readSession(c, sessions);
    if (!session) {
      return apiError(
        c,
        401,
        "authentication_error",
        "Send Authorization: Bearer <ADMIN_PASSWORD>, or sign in at /admin/login",
      );
    }
    c.set("session", session);
    if (!isReadOnly(c)) {
      const token = c.req.header(CSRF_HEADER);
      if (!token || !secretsEqual(token, session.csrf)) {
        return apiError(c, 403, "permission_error", `Missing or wrong ${CSRF_HEADER} header`);
      }
      if (!(await fromThisSite(c)) || !notCrossSite(c)) {
        return apiError(c, 403, "permission_error", ORIGIN_REFUSED);
      }
    }
    await next();
  };
}

export function apiRoutes(services: Services, sessions: SessionStore): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.use("*", apiAuth(services, sessions));
  // After the password: no one without it makes the server hold a body.
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_ADMIN_BODY,
      onError: (c) => apiError(c, 413, "request_too_large", TOO_LARGE),
    }),
  );

  app.get("/config", async (c) => {
    // Under a storm of saves from other processes a fresh read may not settle: the document
    // this instance serves, with its own version, is as good an answer.
    const snap = await services.store.refresh().catch((err) => {
      services.log.log("warn", "admin API: the configuration could not be read afresh", {
        error: String(err),
      });
      return services.store.snapshot;
    });
    c.header("ETag", etagOf(snap.version));
    return c.json(snap.doc);
  });

  app.put("/config", async (c) => {
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      return apiError(c, 400, "invalid_request_error", "The body is not valid JSON", [
        "body: not valid JSON",
      ]);
    }
    const expected = versionFromIfMatch(c.req.header("if-match"), services.store.snapshot.version);
    try {
      const doc = validateInput(body, services.config.loadBalanceStrategy);
      const snap = await services.store.replace(doc, expected);
      const repeated = repeatedKeys(body, snap.doc).reduce((n, r) => n + r.count, 0);
      services.log.log("info", "configuration replaced through the admin API", {
        upstreams: snap.doc.upstream.length,
        ...(repeated ? { repeatedKeysDropped: repeated } : {}),
      });
      c.header("ETag", etagOf(snap.version));
      return c.json(snap.doc);
    } catch (err) {
      if (err instanceof InvalidConfigError) {
        return apiError(c, 400, "invalid_request_error", err.message, err.problems);
      }
      if (err instanceof ConflictError) {
        // Only a stale If-Match makes this conflict, and HTTP answers a failed precondition 412.
        c.header("ETag", etagOf(services.store.snapshot.version));
        return apiError(c, 412, "invalid_request_error", err.message);
      }
      throw err;
    }
  });

  app.get("/keys/status", (c) => {
    const { doc, version } = services.store.snapshot;
    c.header("ETag", etagOf(version));
    return c.json({
      now: services.now(),
      upstreams: keyStatuses(doc, services.health.list(), services.log.redact),
    });
  });

  app.all("*", (c) => {
    const path = c.req.path.slice(c.req.path.indexOf("/api/") + 4);
    const takes = app.routes.filter((r) => r.path === path && r.method !== "ALL").map((r) =>
      r.method
    );
    if (!takes.length) {
      return apiError(c, 404, "not_found_error", `No ${c.req.method} ${c.req.path}`);
    }
    const e = methodNotAllowed(c.req.method, c.req.path, takes);
    c.header("Allow", e.headers.allow);
    return apiError(c, 405, "invalid_request_error", e.message);
  });
  return app;
}
