import assert from "node:assert/strict";
import { geminiProvider } from "../../../lib/providers/gemini.ts";
import { geminiFailure } from "../../../lib/providers/gemini_errors.ts";
import { fixture } from "../../helpers/gemini_calls.ts";

Deno.test("errors: a bad key is the key's fault, not the client's", () => {
  const f = geminiProvider.parseError(400, fixture("error_api_key_invalid.json"), new Headers());
  assert.equal(f.keyFault, "auth");
  assert.equal(f.type, "authentication_error");
  assert.match(f.message, /API key not valid/);
  const forbidden = geminiProvider.parseError(
    403,
    '{"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED"}}',
    new Headers(),
  );
  assert.equal(forbidden.keyFault, "auth");
});

Deno.test("errors: per-minute quota waits RetryInfo, per-day quota waits until the reset", () => {
  const minute = geminiProvider.parseError(
    429,
    fixture("error_rate_limit_minute.json"),
    new Headers(),
  );
  assert.equal(minute.keyFault, "rate_limit");
  assert.equal(minute.type, "rate_limit_error");
  assert.equal(minute.retryAfterMs, 12_000);
  const day = geminiProvider.parseError(429, fixture("error_rate_limit_day.json"), new Headers());
  assert.equal(day.keyFault, "rate_limit");
  assert.ok(day.retryAfterMs! >= 3_600_000 && day.retryAfterMs! <= 86_400_000);
  // 01:00 in California (PST): the daily quota resets in 23 hours; at 23:30, wait the 1 h floor.
  const dayError = JSON.parse(fixture("error_rate_limit_day.json")).error;
  const at = (iso: string) => geminiFailure(429, dayError, new Headers(), "", Date.parse(iso));
  assert.equal(at("2026-01-15T09:00:00Z").retryAfterMs, 23 * 3_600_000);
  assert.equal(at("2026-01-16T07:30:00Z").retryAfterMs, 3_600_000);
  assert.equal(at("2026-07-15T08:00:00Z").retryAfterMs, 23 * 3_600_000, "PDT is UTC-7");
  const bare = geminiProvider.parseError(
    429,
    '[{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}]',
    new Headers({ "retry-after": "7" }),
  );
  assert.equal(bare.retryAfterMs, 7000);
  assert.equal(bare.message, "Resource has been exhausted");
});

Deno.test("errors: overload is transient, a bad request is the client's own", () => {
  const busy = geminiProvider.parseError(
    503,
    '{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}',
    new Headers(),
  );
  assert.equal(busy.keyFault, "transient");
  assert.equal(busy.type, "overloaded_error");
  const bad = geminiProvider.parseError(
    400,
    '{"error":{"code":400,"message":"* GenerateContentRequest.contents: contents is not specified\\n","status":"INVALID_ARGUMENT"}}',
    new Headers(),
  );
  assert.equal(bad.keyFault, undefined);
  assert.equal(bad.type, "invalid_request_error");
  assert.match(bad.message, /contents is not specified/);
  const html = geminiProvider.parseError(502, "<html>Bad Gateway</html>", new Headers());
  assert.equal(html.message, "<html>Bad Gateway</html>");
});

Deno.test("errors: a region refusal (400 FAILED_PRECONDITION) reaches the client as a 400; a billing one sets the key aside", () => {
  // The same for every key of a server in an unsupported region: disabling them all would leave
  // the upstream dead after the cause is fixed, and the client told to re-enable keys.
  const region = geminiProvider.parseError(
    400,
    '{"error":{"code":400,"message":"User location is not supported for the API use.","status":"FAILED_PRECONDITION"}}',
    new Headers(),
  );
  assert.equal(region.keyFault, undefined);
  assert.equal(region.status, 400);
  assert.equal(region.type, "invalid_request_error");
  assert.equal(region.message, "User location is not supported for the API use.");
  // Billing is the key's project's: a key of a project with billing answers, so this one is
  // set aside (until a check finds billing on) and the next one tried.
  const billing = geminiProvider.parseError(
    400,
    '{"error":{"code":400,"message":"Gemini API free tier is not available in your country. Please enable billing on your project in Google AI Studio.","status":"FAILED_PRECONDITION"}}',
    new Headers(),
  );
  assert.equal(billing.keyFault, "auth");
  assert.match(billing.message, /enable billing/);
});
