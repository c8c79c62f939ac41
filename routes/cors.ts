// CORS for /v1/*: preflights answered without auth, and the allow-origin header added to answers
// of cross-origin requests only (most clients send no Origin and pay nothing for it).
import type { Context } from "hono";
import type { AppEnv } from "../lib/app.ts";

const DEFAULT_ALLOWED_HEADERS =
  "content-type, x-api-key, authorization, anthropic-version, anthropic-beta, anthropic-dangerous-direct-browser-access";

// What the SDKs read from an answer: a browser hides the rest from them, and an SDK that cannot
// see x-should-retry: false retries an error that will not pass.
const EXPOSED_HEADERS = [
  "request-id, x-should-retry, retry-after, retry-after-ms, upstream-request-id",
  // An Anthropic upstream's limits, passed on (names, not a wildcard: that fails with credentials).
  ...["requests", "tokens", "input-tokens", "output-tokens"].flatMap((what) =>
    ["limit", "remaining", "reset"].map((part) => `anthropic-ratelimit-${what}-${part}`)
  ),
].join(", ");

const parsed = new Map<string, "*" | Set<string>>();

function allowedFor(setting: string, origin: string): string | undefined {
  let origins = parsed.get(setting);
  if (!origins) {
    origins = setting === "*"
      ? "*"
      : new Set(setting.split(",").map((o) => o.trim()).filter(Boolean));
    parsed.set(setting, origins);
  }
  return origins === "*" ? "*" : origins.has(origin) ? origin : undefined;
}

/** The answer to an OPTIONS preflight. */
export function preflight(setting: string, origin: string | null, request: Headers): Response {
  const headers = new Headers({ vary: "origin" });
  const allow = origin ? allowedFor(setting, origin) : undefined;
  if (allow) {
    headers.set("access-control-allow-origin", allow);
    headers.set("access-control-allow-methods", "GET, POST, OPTIONS");
    // The SDKs send their own x-stainless-* headers: allow what the browser asks for.
    headers.set(
      "access-control-allow-headers",
      request.get("access-control-request-headers") ?? DEFAULT_ALLOWED_HEADERS,
    );
    headers.set("access-control-max-age", "86400");
  }
  return new Response(null, { status: 204, headers });
}

/** Adds the CORS headers of an allowed origin to the answer. */
export function corsHeaders(setting: string, origin: string, c: Context<AppEnv>): void {
  const allow = allowedFor(setting, origin);
  const headers = c.res.headers;
  // With a list, the answer depends on the Origin, allowed or not: a cache must not mix them up.
  if (setting !== "*") headers.append("vary", "origin");
  if (!allow) return;
  headers.set("access-control-allow-origin", allow);
  headers.set("access-control-expose-headers", EXPOSED_HEADERS);
}
