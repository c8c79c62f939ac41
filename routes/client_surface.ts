// What every /v1/* request passes first: CORS, the access key, the rate limit, the body limit.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { clientKeyFrom, secretMatcher } from "../lib/auth.ts";
import { errorResponse, ProxyError } from "../lib/errors.ts";
import type { AppEnv } from "../lib/app.ts";
import { RateLimiter } from "../lib/rate_limiter.ts";
import type { Services } from "../lib/services.ts";

export function clientSurface(services: Services): Hono<AppEnv> {
  const { config } = services;
  const app = new Hono<AppEnv>();

  if (config.enableCors) {
    app.use(
      "*",
      cors({
        origin: config.corsOrigin === "*" ? "*" : config.corsOrigin.split(",").map((o) => o.trim()),
        allowMethods: ["GET", "POST", "OPTIONS"],
        allowHeaders: [
          "content-type",
          "x-api-key",
          "authorization",
          "anthropic-version",
          "anthropic-beta",
          "anthropic-dangerous-direct-browser-access",
          "x-stainless-retry-count",
          "x-stainless-timeout",
        ],
        exposeHeaders: ["request-id", "retry-after"],
        maxAge: 86400,
      }),
    );
  }

  const accessKeyMatches = config.proxyAccessKey ? secretMatcher(config.proxyAccessKey) : undefined;
  app.use("*", async (c, next) => {
    const given = clientKeyFrom(c.req.raw.headers);
    if (!config.proxyAccessKey) {
      throw new ProxyError(
        401,
        "This proxy has no access key configured (PROXY_ACCESS_KEY); it refuses every request until one is set",
      );
    }
    if (!given) {
      throw new ProxyError(401, "Missing API key: send it as x-api-key or Authorization: Bearer");
    }
    if (!accessKeyMatches!(given)) {
      throw new ProxyError(401, "Invalid API key");
    }
    c.set("clientKey", given);
    await next();
  });

  if (config.enableRateLimit) {
    const limiter = new RateLimiter(
      config.rateLimitWindow,
      config.rateLimitMaxRequests,
      services.now,
    );
    app.use("*", async (c, next) => {
      const wait = limiter.take(c.get("clientKey") ?? "");
      if (wait > 0) {
        throw new ProxyError(
          429,
          "Rate limit exceeded for this access key; retry later",
          undefined,
          {
            "retry-after": String(Math.ceil(wait / 1000)),
          },
        );
      }
      await next();
    });
  }

  app.use(
    "*",
    bodyLimit({
      maxSize: config.maxBodySize,
      onError: (c) =>
        errorResponse(
          new ProxyError(413, `Request body exceeds the ${config.maxBodySize} byte limit`),
          c.get("requestId"),
        ),
    }),
  );

  return app;
}
