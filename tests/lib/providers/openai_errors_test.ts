import assert from "node:assert/strict";
import { openaiProvider } from "../../../lib/providers/openai.ts";
import { fixture } from "../../helpers/openai_calls.ts";
import { mapUsage } from "../../../lib/providers/openai_answer_fields.ts";
import { openaiInlineFailure } from "../../../lib/providers/openai_errors.ts";

Deno.test("errors: invalid key is the key's auth fault, even when sent as 400", () => {
  const body = fixture("error_invalid_key.json");
  const f401 = openaiProvider.parseError(401, body, new Headers());
  assert.equal(f401.type, "authentication_error");
  assert.equal(f401.keyFault, "auth");
  const f400 = openaiProvider.parseError(
    400,
    '{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}',
    new Headers(),
  );
  assert.equal(f400.status, 401);
  assert.equal(f400.keyFault, "auth");
});

Deno.test("errors: insufficient_quota (an account out of credit) disables the key, as any without credit", () => {
  const body = fixture("error_quota.json");
  const f = openaiProvider.parseError(429, body, new Headers({ "retry-after": "20" }));
  assert.equal(f.keyFault, "auth");
  assert.equal(f.retryAfterMs, undefined);
  assert.match(f.message, /quota/);
});

Deno.test("errors: rate limit uses the upstream's reset headers", () => {
  const f = openaiProvider.parseError(
    429,
    fixture("error_rate_limit.json"),
    new Headers({ "x-ratelimit-reset-tokens": "2.8s" }),
  );
  assert.equal(f.keyFault, "rate_limit");
  assert.equal(f.retryAfterMs, 2800);
  assert.match(f.message, /Rate limit reached/);
});

Deno.test("errors: a context-length 400 keeps the upstream message and is not the key's fault", () => {
  const f = openaiProvider.parseError(400, fixture("error_context_length.json"), new Headers());
  assert.equal(f.type, "invalid_request_error");
  assert.equal(f.keyFault, undefined);
  assert.equal(f.message, JSON.parse(fixture("error_context_length.json")).error.message);
});

Deno.test("errors: HTML and plain-text bodies give readable messages", () => {
  const html = openaiProvider.parseError(
    502,
    "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>",
    new Headers(),
  );
  assert.equal(html.message, "502 Bad Gateway");
  assert.equal(html.keyFault, "transient");
  const plain = openaiProvider.parseError(503, "Service Unavailable", new Headers());
  assert.equal(plain.type, "overloaded_error");
  assert.equal(plain.message, "Service Unavailable");
  const empty = openaiProvider.parseError(500, "", new Headers());
  assert.match(empty.message, /500/);
});

Deno.test("errors: an HTML error page is read as its text, and a malformed one cannot stall the proxy", () => {
  const page = "<html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>";
  assert.equal(
    openaiProvider.parseError(502, page, new Headers()).message,
    "502 Bad Gateway nginx",
  );
  // Unclosed tags: the tag-stripping must stay linear, or one such body freezes every request.
  const started = performance.now();
  const f = openaiProvider.parseError(502, "<".repeat(300_000) + "x", new Headers());
  const ms = performance.now() - started;
  assert.ok(ms < 1000, `took ${Math.round(ms)} ms`);
  assert.equal(f.keyFault, "transient");
});

Deno.test("errors: a text-only server refusing an image is the request's 400, whatever status it said; 422 is a 400", () => {
  const cases: Array<[number, string]> = [
    // llama.cpp without its multimodal projector.
    [
      500,
      '{"error":{"code":500,"message":"image input is not supported - hint: if this is unexpected, you may need to provide the mmproj","type":"server_error"}}',
    ],
    // DeepSeek's deserialiser.
    [
      422,
      "Failed to deserialize the JSON body into the target type: messages[0]: unknown variant `image_url`, expected `text` at line 1 column 90",
    ],
  ];
  for (const [status, body] of cases) {
    const f = openaiProvider.parseError(status, body, new Headers());
    assert.equal(f.status, 400, body);
    assert.equal(f.type, "invalid_request_error");
    assert.equal(f.keyFault, undefined, "no key is to blame");
    assert.match(f.message, /image/);
  }
  const other = openaiProvider.parseError(
    422,
    '{"detail":"messages: field required"}',
    new Headers(),
  );
  assert.equal(other.status, 400);
  assert.equal(other.type, "invalid_request_error");
  // A 500 that is not about images stays the passing fault it is.
  assert.equal(openaiProvider.parseError(500, "boom", new Headers()).keyFault, "transient");
});

Deno.test("errors: what a local server cannot serve as it was started is the request's 400, not a key's 5xx", () => {
  for (
    const message of [
      "tools param requires --jinja flag",
      "Cannot use tools with stream",
      "model requires more system memory (24.5 GiB) than is available (15.1 GiB)",
      "input is too large to process. increase the physical batch size",
    ]
  ) {
    const body = JSON.stringify({ error: { code: 500, message, type: "server_error" } });
    const f = openaiProvider.parseError(500, body, new Headers());
    assert.equal(f.status, 400, message);
    assert.equal(f.type, "invalid_request_error");
    assert.equal(f.keyFault, undefined, "no key is set aside");
    assert.equal(f.message, message);
  }
  // Other 500s are still the server's passing fault.
  const busy = openaiProvider.parseError(500, '{"error":{"message":"busy"}}', new Headers());
  assert.equal(busy.keyFault, "transient");
});

Deno.test("errors: OpenRouter's errors say whose fault they are, in the provider's own words", () => {
  const parse = (status: number, error: unknown) =>
    openaiProvider.parseError(status, JSON.stringify({ error }), new Headers());
  // Its input flagged by moderation: the request's fault, which every key would meet.
  const flagged = parse(403, {
    code: 403,
    message:
      'anthropic/claude-sonnet-4.5 requires moderation on Anthropic. Your input was flagged for "violence".',
    metadata: { reasons: ["violence"], flagged_input: "…", provider_name: "Anthropic" },
  });
  assert.deepEqual([flagged.status, flagged.type, flagged.keyFault], [
    400,
    "invalid_request_error",
    undefined,
  ]);
  // Out of credit: the key is disabled, as Anthropic's own low balance is, not cooled for an hour.
  const credit = parse(402, { code: 402, message: "Insufficient credits. Add more using …" });
  assert.deepEqual([credit.status, credit.keyFault], [402, "auth"]);
  // No endpoint of the model takes tools: no model missing, as a 404 would tell Claude Code.
  const noTools = parse(404, {
    code: 404,
    message: "No endpoints found that support tool use. To learn more about provider routing…",
  });
  assert.deepEqual([noTools.status, noTools.type, noTools.keyFault], [
    400,
    "invalid_request_error",
    undefined,
  ]);
  // "Provider returned error" carries the provider's words, which say what went wrong: here an
  // overflow, which then reads to Claude Code as one it can compact.
  const raw = parse(400, {
    code: 400,
    message: "Provider returned error",
    metadata: {
      raw: JSON.stringify({
        type: "error",
        error: {
          type: "invalid_request_error",
          message: "prompt is too long: 215433 tokens > 200000 maximum",
        },
      }),
      provider_name: "Anthropic",
    },
  });
  assert.equal(raw.status, 400);
  assert.match(raw.message, /^Provider returned error: prompt is too long: 215433 tokens/);
  // A key's own 403 that happens to speak of flags or policies is still the key's.
  for (
    const words of [
      "Your account has been flagged for suspicious activity and suspended.",
      "This key has been disabled for violating our content policy.",
    ]
  ) {
    assert.equal(parse(403, { code: 403, message: words }).keyFault, "auth", words);
  }
  // Sent inside a stream (the answer begun), the provider's words come along too.
  const inStream = openaiInlineFailure({
    code: 400,
    message: "Provider returned error",
    metadata: { raw: JSON.stringify({ error: { message: "maximum context length is 131072" } }) },
  });
  assert.match(inStream.message, /Provider returned error: maximum context length is 131072/);
  const plain = parse(502, {
    code: 502,
    message: "Provider returned error",
    metadata: { raw: "upstream connect error" },
  });
  assert.equal(plain.message, "Provider returned error: upstream connect error");
});

Deno.test("usage: OpenRouter's cache writes are cache_creation_input_tokens, apart from input", () => {
  const usage = mapUsage({
    prompt_tokens: 109,
    completion_tokens: 5,
    prompt_tokens_details: { cached_tokens: 10, cache_write_tokens: 87 },
  });
  assert.equal(usage.input_tokens, 12);
  assert.equal(usage.cache_read_input_tokens, 10);
  assert.equal(usage.cache_creation_input_tokens, 87);
});
