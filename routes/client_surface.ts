// What every /v1/* request passes first, in one middleware (each Hono layer costs on every
// request): CORS, the access key, the rate limit, and the declared body size.
import { Hono } from "hono";
import { clientKeyFrom, secretMatcher } from "../lib/auth.ts";
import { NO_RETRY, ProxyError } from "../lib/errors.ts";
import { recordRefusal } from "../lib/proxy.ts";
import type { AppEnv } from "../lib/app.ts";
import { RateLimiter } from "../lib/rate_limiter.ts";
import type { Services } from "../lib/services.ts";
import { corsHeaders, preflight } from "./cors.ts";

/** A path that reads as one word in a log line. */
const PLAIN_PATH = /^[\w/.~%-]*$/;

export function clientSurface(services: Services): Hono<AppEnv> {
  const { config } = services;
  const app = new Hono<AppEnv>();
  const accessKeyMatches = config.proxyAccessKey ? secretMatcher(config.proxyAccessKey) : undefined;
  const limiter = config.enableRateLimit
    ? new RateLimiter(config.rateLimitWindow, config.rateLimitMaxRequests, services.now)
    : undefined;
  const cors = config.enableCors ? config.corsOrigin : undefined;

  app.use("*", async (c, next) => {
    const headers = c.req.raw.headers;
    const origin = cors ? headers.get("origin") : null;
    if (cors && c.req.method === "OPTIONS") return preflight(cors, origin, headers);
    try {
      if (!accessKeyMatches) {
        throw new ProxyError(
          401,
          "This proxy has no access key configured (PROXY_ACCESS_KEY); it refuses every request until one is set",
          undefined,
          NO_RETRY,
        );
      }
      const given = clientKeyFrom(headers, accessKeyMatches);
      if (!given) {
        throw new ProxyError(
          401,
          "Missing API key: send it as x-api-key or Authorization: Bearer",
          undefined,
          NO_RETRY,
        );
      }
      if (!given.ok) {
        throw new ProxyError(
          401,
          "Invalid API key: the proxy takes its own access key (PROXY_ACCESS_KEY), not an upstream's",
          undefined,
          NO_RETRY,
        );
      }
      c.set("clientKey", given.key);
      const wait = limiter?.take(given.key) ?? 0;
      let refused: ProxyError | undefined;
      if (wait > 0) {
        refused = new ProxyError(
          429,
          "Rate limit exceeded for this access key; retry later",
          undefined,
          {
            "retry-after": String(Math.ceil(wait / 1000)),
          },
        );
      } else if (Number(headers.get("content-length") ?? 0) > config.maxBodySize) {
        refused = new ProxyError(413, `Request body exceeds the ${config.maxBodySize} byte limit`);
      }
      if (refused) {
        // A known client turned away from Messages shows in the figures (not the other paths').
        if (c.req.method === "POST" && c.req.path === "/v1/messages") {
          recordRefusal(services, { requestId: c.get("requestId"), clientKey: given.key }, refused);
        }
        throw refused;
      }
      await next();
    } catch (err) {
      // Only a log line: a refused key's request goes in no request log or figures in KV, which
      // anyone on the internet could otherwise fill.
      if (err instanceof ProxyError && err.status === 401) {
        // The path is the client's: one that could read as more fields (a space, `=`, a quote)
        // or break the line is written quoted.
        const path = PLAIN_PATH.test(c.req.path) ? c.req.path : JSON.stringify(c.req.path);
        services.log.log("warn", `${path} 401`, {
          requestId: c.get("requestId"),
          error: err.message,
        });
      }
      throw err;
    } finally {
      if (origin) corsHeaders(cors!, origin, c);
    }
  });

  return app;
}
