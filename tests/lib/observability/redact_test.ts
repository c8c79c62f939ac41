import assert from "node:assert/strict";
import {
  joinSplitSecrets,
  redactText,
  safeBody,
  truncateUtf8,
} from "../../../lib/observability/redact.ts";
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

Deno.test("a secret escaped by the client's JSON encoder is masked in a stored body", () => {
  const body = JSON.stringify({ content: "x" }).replace(
    '"x"',
    '"known\\u002dsecret\\u002dvalue\\u002d123 at https:\\/\\/h and \\\\u002d"',
  );
  const text = safeBody(body, 10_000, log.redact).text;
  assert.ok(!text.includes("secret"), text);
  // Still the same JSON, an escaped backslash and what follows it included.
  assert.deepEqual(JSON.parse(text), { content: "[REDACTED] at https://h and \\u002d" });
});

Deno.test("a secret an answer streamed a few characters at a time is joined before it is masked", () => {
  const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}`;
  const delta = (index: number, text: string) =>
    frame("content_block_delta", {
      type: "content_block_delta",
      index,
      delta: { type: "text_delta", text },
    });
  const pieces = ["the key ", "known-se", "cret-val", "ue-123 ok"];
  const sse = [
    frame("message_start", { type: "message_start" }),
    ...pieces.map((p) => delta(0, p)),
    frame("message_stop", { type: "message_stop" }),
    "",
  ].join("\n\n");
  const stored = safeBody(joinSplitSecrets(sse, log.redact), 100_000, log.redact).text;
  assert.ok(!stored.includes("cret-val"), stored);
  assert.match(stored, /"text":"the key \[REDACTED\] ok"/);
  assert.match(stored, /message_start[\s\S]*content_block_delta[\s\S]*message_stop/);
  // A stream with no secret split across it is kept event for event.
  const plain = sse.replace(/known-se|cret-val|ue-123/g, "abc");
  assert.equal(joinSplitSecrets(plain, log.redact), plain);
});

Deno.test("redact: text masked once is the same masked again (the client's error, then the log)", () => {
  const none = (t: string) => t;
  for (
    const text of [
      "upstream said: Authorization: Bearer sk-live-SECRETKEY1234567",
      '{"x-goog-api-key": "AIzaSyA-0123456789abcdefghij"}',
      "api_key=abcdefgh12345678; next",
    ]
  ) {
    const once = redactText(text, none);
    assert.equal(redactText(once, none), once, once);
    assert.doesNotMatch(once, /\]\]/);
  }
  // A known key is masked first, as the logger does: the header then reads as masked already.
  const known = (t: string) => t.replaceAll("sk-configured-key-0001", "[REDACTED]");
  assert.equal(
    redactText("Authorization: Bearer sk-configured-key-0001", known),
    "Authorization: Bearer [REDACTED]",
  );
});
