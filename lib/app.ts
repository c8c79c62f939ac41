// createApp(services): the whole HTTP surface, without globals, so tests can build their own.
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { RegExpRouter } from "hono/router/reg-exp-router";
import {
  errorResponse,
  internalError,
  messageOf,
  methodNotAllowed,
  ProxyError,
  tooDeep,
} from "./errors.ts";
import { StoreBusyError } from "./store/busy_retry.ts";
import { hasRequestId, newRequestId } from "./request_id.ts";
import type { Services } from "./services.ts";
import { adminRoutes } from "../routes/admin/index.ts";
import { healthRoutes } from "../routes/health.ts";
import { metricsRoutes } from "../routes/metrics.ts";
import { modelsRoutes } from "../routes/models.ts";
import { messagesRoutes } from "../routes/v1_messages.ts";
import { staticRoutes } from "../routes/static.ts";
import { clientSurface } from "../routes/client_surface.ts";

export type AppEnv = { Variables: { requestId: string; clientKey?: string } };

/**
 * The methods the routes declare for a path, read off the app itself so that no second list of
 * client routes can drift from routes/; built at the first miss, off the path of served requests.
 */
function declaredMethods(app: Hono<AppEnv>): (path: string) => string[] {
  let router: RegExpRouter<string> | undefined;
  return (path) => {
    if (!router) {
      router = new RegExpRouter<string>();
      for (const r of app.routes) {
        if (r.method !== "ALL" && r.path.startsWith("/v1/")) router.add("ALL", r.path, r.method);
      }
    }
    return router.match("GET", path)[0].map(([method]) => method);
  };
}

/** /v1 itself and all under it: the client surface, whose every answer is in Anthropic's shape. */
function onClientSurface(path: string): boolean {
  return path === "/v1" || path.startsWith("/v1/");
}

/** Why a /v1 request has no route: a wrong method, a doubled /v1, or a path not served. */
function notServed(method: string, path: string, takes: string[]): ProxyError {
  if (takes.length) return methodNotAllowed(method, path, takes);
  if (path.startsWith("/v1/v1/")) {
    return new ProxyError(
      404,
      `Not found: ${method} ${path}. The base URL ends in /v1, which clients add themselves: set it (ANTHROPIC_BASE_URL) to the proxy's address without /v1`,
    );
  }
  return new ProxyError(404, `Not found: ${method} ${path}`);
}

export function createApp(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use("*", async (c, next) => {
    const requestId = newRequestId();
    c.set("requestId", requestId);
    await next();
    if (!hasRequestId(c.res)) c.res.headers.set("request-id", requestId);
  });

  app.on(["GET", "HEAD"], "/", (c) => c.text("Claude API proxy is running. See /health.", 200));
  // Claude Code's connection warm-up (HEAD /api/hello at start): answered, not a 404 in the log.
  app.on(["GET", "HEAD"], "/api/hello", (c) => c.text("ok", 200));
  app.route("/", healthRoutes(services));
  app.route("/v1", clientSurface(services));
  app.route("/v1", messagesRoutes(services));
  app.route("/v1", modelsRoutes(services));
  app.route("/", metricsRoutes(services));
  app.route("/admin", adminRoutes(services));
  app.route("/static", staticRoutes());

  const methodsOf = declaredMethods(app);
  app.notFound((c) => {
    const { method, path } = c.req;
    if (onClientSurface(path)) {
      return errorResponse(notServed(method, path, methodsOf(path)), c.get("requestId"));
    }
    if (path === "/admin" || path.startsWith("/admin/") || path.startsWith("/static/")) {
      return c.text("Not found", 404);
    }
    // Elsewhere the asker is most likely a client with a base URL a little off (`…/v1/` gives
    // `//v1/messages`): an error its SDK can read says what it asked for.
    return errorResponse(
      new ProxyError(
        404,
        path.startsWith("//")
          ? `Not found: ${method} ${path}. The base URL ends in a slash: set it (ANTHROPIC_BASE_URL) to the proxy's address without one`
          : `Not found: ${method} ${path}`,
      ),
      c.get("requestId"),
    );
  });

  app.onError((err, c) => {
    const requestId = c.get("requestId") ?? newRequestId();
    if (err instanceof ProxyError) return errorResponse(err, requestId);
    const deep = tooDeep(err);
    if (deep && onClientSurface(c.req.path)) return errorResponse(deep, requestId);
    if (err instanceof StoreBusyError) {
      // Another process held the store past every retry: a moment later it will not.
      const busy = new ProxyError(503, err.message, "overloaded_error", { "retry-after": "1" });
      if (onClientSurface(c.req.path) || c.req.path.startsWith("/admin/api/")) {
        return errorResponse(busy, requestId);
      }
      return c.text(err.message, 503, { "retry-after": "1" });
    }
    if (err instanceof HTTPException && onClientSurface(c.req.path)) {
      return errorResponse(new ProxyError(err.status, err.message || "Bad request"), requestId);
    }
    if (err instanceof HTTPException) return err.getResponse();
    services.log.log("error", "unhandled error", {
      requestId,
      path: c.req.path,
      error: messageOf(err),
    });
    if (onClientSurface(c.req.path) || c.req.path.startsWith("/admin/api/")) {
      return errorResponse(internalError(), requestId);
    }
    return c.text("Internal error", 500);
  });

  return app;
}

/**
 * Deno.serve's `onError`: what the app did not answer itself, mostly a response body ended on
 * purpose after its headers (a client that stopped reading), already recorded. Without it, Deno
 * prints the error with its stack to stderr, outside the log and its format.
 */
export function serveErrorHandler(services: Services): (err: unknown) => Response {
  return (err) => {
    services.log.log("debug", "a response ended before its end", { error: messageOf(err) });
    return errorResponse(internalError(), newRequestId());
  };
}
