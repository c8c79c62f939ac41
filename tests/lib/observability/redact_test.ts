import assert from "node:assert/strict";
import { redactText, safeBody, truncateUtf8 } from "../../../lib/observability/redact.ts";
import { createLogger } from "../../../lib/log.ts";

const log = createLogger({ logLevel: "info", logFormat: "text" }, () => {});
log.addSecret("known-secret-value-123");

Deno.test("known secrets and credential-shaped text are masked", () => {
  const text = [
    "known-secret-value-123",
    '{"x-api-key":"abc123def456","authorization": "Bearer tok_0123456789"}',
    "x-goog-api-key: AIzaSyA0123456789abcdefghijklmnopq",
    "Authorization: Basic dXNlcjpwYXNzd29yZA==",
    "key sk-proj-0123456789abcdefghij and sk-ant-api03-abcdefghij-0123",
    "?key=AIzaSyB0123456789abcdefghijklmnopq&alt=sse",
    "api_key=plainvalue42",
  ].join("\n");
  const out = redactText(text, log.redact);
  for (
    const secret of [
      "known-secret-value-123",
      "abc123def456",
      "tok_0123456789",
      "AIzaSyA0123456789",
      "dXNlcjpwYXNzd29yZA",
      "sk-proj-0123456789",
      "sk-ant-api03-abcdefghij",
      "AIzaSyB0123456789",
      "plainvalue42",
    ]
  ) {
    assert.ok(!out.includes(secret), `${secret} masked in:\n${out}`);
  }
  // JSON stays JSON.
  const json = redactText('{"x-api-key":"abc123def456","n":1}', log.redact);
  assert.deepEqual(JSON.parse(json), { "x-api-key": "[REDACTED]", n: 1 });
  // Ordinary prose is left alone.
  assert.equal(redactText("ask about keys and tokens", log.redact), "ask about keys and tokens");
});

Deno.test("truncation counts UTF-8 bytes and never splits a character", () => {
  assert.deepEqual(truncateUtf8("hello", 10), { text: "hello", truncated: false });
  assert.deepEqual(truncateUtf8("hello", 3), { text: "hel", truncated: true });
  const r = truncateUtf8("ééé", 5); // 2 bytes each
  assert.deepEqual(r, { text: "éé", truncated: true });
  assert.equal(truncateUtf8("🙂🙂", 5).text, "🙂");
});

Deno.test("a secret cut by the body limit does not survive in part", () => {
  const secret = "known-secret-value-123";
  const max = 100;
  for (let at = 60; at < 3_200; at += 7) {
    const body = "x".repeat(at) + secret + "y".repeat(5_000);
    const out = safeBody(body, max, log.redact);
    assert.ok(out.truncated);
    assert.ok(new TextEncoder().encode(out.text).length <= max);
    assert.ok(!out.text.includes("known-secret"), `prefix of the secret kept at ${at}`);
  }
  // Many secrets shrink the text when masked: the tail is still cut safely.
  const dense = (secret + " ").repeat(400);
  const out = safeBody(dense, 2_000, log.redact);
  assert.ok(!/known-s/.test(out.text.replaceAll("[REDACTED]", "")));
});
