import assert from "node:assert/strict";
import {
  failureFromStatus,
  parseDuration,
  retryAfterFromHeaders,
} from "../../../lib/providers/failure.ts";

Deno.test("durations: OpenAI's reset forms and plain seconds", () => {
  assert.equal(parseDuration("1s"), 1000);
  assert.equal(parseDuration("6m0s"), 360_000);
  assert.equal(parseDuration("20ms"), 20);
  assert.equal(parseDuration("1h2m3.5s"), 3_723_500);
  assert.equal(parseDuration("7"), 7000);
  assert.equal(parseDuration("soon"), undefined);
});

Deno.test("retry time: a named retry-after first, then the error's words, then the limit that ran out", () => {
  const now = Date.parse("2026-11-27T12:00:00Z");
  const at = (init: Record<string, string>, message = "") =>
    retryAfterFromHeaders(new Headers(init), now, message);
  assert.equal(at({ "retry-after-ms": "1500", "retry-after": "9" }), 1500);
  assert.equal(at({ "retry-after": "7" }), 7000);
  assert.equal(at({ "retry-after": "Fri, 27 Nov 2026 12:00:20 GMT" }), 20_000);
  // A tokens-per-minute limit hit with requests to spare: back in a second, not in six minutes.
  const tpm = {
    "x-ratelimit-remaining-requests": "4999",
    "x-ratelimit-reset-requests": "6m0s",
    "x-ratelimit-remaining-tokens": "0",
    "x-ratelimit-reset-tokens": "1s",
  };
  assert.equal(at(tpm), 1000);
  assert.equal(at({ ...tpm, "x-ratelimit-remaining-requests": "0" }), 360_000);
  // No counts given: the later reset, as nothing says which ran out.
  assert.equal(
    at({ "x-ratelimit-reset-requests": "6m0s", "x-ratelimit-reset-tokens": "1s" }),
    360_000,
  );
  // OpenAI's and Groq's words name the limit that was hit, a daily one among them.
  const rpd = "Rate limit reached for gpt-4o in organization org-x on requests per day (RPD): " +
    "Limit 10000, Used 10000, Requested 1. Please try again in 7m12s. Visit https://platform.openai.com";
  assert.equal(at({}, rpd), 432_000);
  assert.equal(at({ "x-ratelimit-reset-requests": "1s" }, rpd), 432_000);
  assert.equal(at({ "retry-after": "3" }, rpd), 3000);
  // A daily limit that names no time waits an hour, not the per-minute limit's reset.
  const rpdBare =
    "Rate limit reached for gpt-4o in organization org-x on requests per day (RPD): " +
    "Limit 200, Used 200, Requested 1. Visit https://platform.openai.com/account/rate-limits";
  assert.equal(at({}, rpdBare), 3_600_000);
  assert.equal(at({ "x-ratelimit-reset-requests": "6ms" }, rpdBare), 3_600_000);
  assert.equal(at({}, "Rate limit reached on tokens per day (TPD): Limit 500000"), 3_600_000);
  assert.equal(at({ "retry-after": "3" }, rpdBare), 3000, "a named time still wins");
  assert.equal(at({}, "Rate limit reached on requests per min (RPM)"), undefined);
  assert.equal(at({}, "Please try again in 7.66s."), 7660);
  assert.equal(at({}, "PLEASE TRY AGAIN IN 5S."), 5000);
  assert.equal(at({}), undefined);
});

Deno.test("failures: whose fault each status is, and a 429's time from its words", () => {
  const limited = failureFromStatus(
    429,
    "Rate limit reached on tokens per min (TPM). Please try again in 1s.",
    new Headers({ "x-ratelimit-reset-requests": "6m0s" }),
  );
  assert.equal(limited.keyFault, "rate_limit");
  assert.equal(limited.retryAfterMs, 1000);
  assert.equal(failureFromStatus(401, "bad key", new Headers()).keyFault, "auth");
  assert.equal(
    failureFromStatus(400, "Your credit balance is too low", new Headers()).keyFault,
    "auth",
  );
  assert.equal(failureFromStatus(503, "busy", new Headers()).keyFault, "transient");
  assert.equal(failureFromStatus(400, "bad request", new Headers()).keyFault, undefined);
  assert.equal(failureFromStatus(404, "no such model", new Headers()).keyFault, undefined);
});
