// Classifies an upstream failure: whose fault it is and when the key may be tried again.
import { errorTypeForStatus } from "../errors.ts";
import type { UpstreamFailure } from "./types.ts";

/**
 * Milliseconds until the key may be tried again, from `retry-after-ms` or `retry-after` (seconds or
 * HTTP date), else the error's own words ("Please try again in 7m12s", OpenAI's and Groq's, which
 * name the limit that was hit), else `x-ratelimit-reset-*`.
 */
export function retryAfterFromHeaders(
  headers: Headers,
  now = Date.now(),
  message = "",
): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = headers.get("retry-after");
  if (ra) {
    const secs = Number(ra);
    if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
    const date = Date.parse(ra);
    if (Number.isFinite(date)) return Math.max(0, date - now);
  }
  const said = /\btry again in ((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)/i.exec(message.slice(0, 4096))?.[1];
  if (said) return parseDuration(said.toLowerCase());
  // A daily limit that names no time ("requests per day (RPD): Limit 200, Used 200"): the reset
  // headers are the per-minute limit's, and a key tried again in seconds fails all day.
  if (DAILY_LIMIT.test(message.slice(0, 4096))) {
    return Math.max(rateLimitReset(headers) ?? 0, DAILY_LIMIT_WAIT);
  }
  return rateLimitReset(headers);
}

const DAILY_LIMIT = /(?:requests|tokens) per day|\((?:RPD|TPD)\)/i;
const DAILY_LIMIT_WAIT = 3_600_000;

/**
 * When the limit that ran out is whole again. OpenAI names a reset for requests and one for tokens
 * (the time until each is full, not until the next request may go): of those whose remaining
 * count is 0, the later; with no count given, the later of the two.
 */
function rateLimitReset(headers: Headers): number | undefined {
  let longest: number | undefined;
  let exhausted: number | undefined;
  for (const limit of ["requests", "tokens"]) {
    const value = headers.get(`x-ratelimit-reset-${limit}`);
    const parsed = value ? parseDuration(value) : undefined;
    if (parsed === undefined) continue;
    longest = Math.max(longest ?? 0, parsed);
    if (headers.get(`x-ratelimit-remaining-${limit}`)?.trim() === "0") {
      exhausted = Math.max(exhausted ?? 0, parsed);
    }
  }
  return exhausted ?? longest;
}

/** `"1s"`, `"6m0s"`, `"20ms"`, `"1h2m3.5s"` or plain seconds → milliseconds. */
export function parseDuration(text: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = false;
  for (const [, n, unit] of text.matchAll(re)) {
    matched = true;
    total += Number(n) *
      (unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "m" ? 60_000 : 3_600_000);
  }
  return matched ? total : undefined;
}

/**
 * An account out of credit: Anthropic says so in a 400, others in a 402, Zhipu in a 429
 * ("[1113][Insufficient balance or no resource package…]", or in Chinese "余额不足…"). Another key may well
 * have credit, and this one will not recover in a minute. (Quota 429s are the providers' to
 * read: Gemini words its per-minute limits much like an exhausted plan.)
 */
const OUT_OF_CREDIT = /credit balance is too low|insufficient (?:balance|credits?|funds)|余额不足/i;

/**
 * An upstream that admits only the clients it knows, by user-agent (Kimi For Coding: "only
 * available for Coding Agents such as Kimi CLI, Claude Code…"): the client's refusal, not the
 * key's, which works for the next client that is one.
 */
const CLIENT_REFUSED = /only available for (?:coding agents|[^.]{0,80}\bclaude code\b)/i;

/**
 * The usual rules: 429 is the key's rate limit, 401/403 its credentials (and an account out of
 * credit), 5xx and 408 a passing upstream fault, any other 4xx the request's own fault (never
 * held against a key).
 */
export function failureFromStatus(
  status: number,
  message: string,
  headers: Headers,
  options: { invalidKey?: boolean; retryAfterMs?: number } = {},
): UpstreamFailure {
  if (status === 403 && CLIENT_REFUSED.test(message)) {
    // Said as the request's fault: passing on a 403 would tell the client its own key failed.
    return {
      status: 400,
      type: "invalid_request_error",
      message: `The upstream refused this client (by its user-agent): ${message}`,
    };
  }
  const failure: UpstreamFailure = { status, type: errorTypeForStatus(status), message };
  if (
    options.invalidKey || status === 401 || status === 402 || status === 403 ||
    ((status === 400 || status === 429) && OUT_OF_CREDIT.test(message))
  ) {
    failure.keyFault = "auth";
  } else if (status === 429) {
    failure.keyFault = "rate_limit";
    failure.retryAfterMs = options.retryAfterMs ??
      retryAfterFromHeaders(headers, Date.now(), message);
  } else if (status >= 500 || status === 408) {
    failure.keyFault = "transient";
    failure.retryAfterMs = retryAfterFromHeaders(headers);
  }
  return failure;
}

/**
 * An upstream that answered with something no client can read (garbage, a body cut short, an empty
 * answer): a 502, and transient, so that another key may answer while nothing reached the client.
 */
export function upstreamFault(message: string): UpstreamFailure {
  return { status: 502, type: "api_error", message, keyFault: "transient" };
}

/**
 * A translated stream whose body ended before its answer did. Transient: before any content (a
 * 200 closed at once, or with no event in it) another key may answer.
 */
export function streamCutShort(): UpstreamFailure {
  return upstreamFault("upstream stream ended unexpectedly");
}
