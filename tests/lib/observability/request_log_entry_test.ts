import assert from "node:assert/strict";
import { buildEntry, isError, summaryOf } from "../../../lib/observability/request_log_entry.ts";
import type { RequestRecord } from "../../../lib/request_record.ts";
import { RequestLogStore } from "../../../lib/store/request_log_store.ts";

const identity = (t: string) => t;

function record(over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: "req_test",
    time: Date.now(),
    path: "/v1/messages",
    stream: true,
    requestedModel: "claude-sonnet-4-5",
    upstreamModel: "gpt-4o",
    upstream: "main",
    attempts: [
      { upstream: "main", keyId: "k1", key: "sk-…0001", outcome: "skipped", reason: "cooldown" },
      { upstream: "main", keyId: "k2", key: "sk-…0002", outcome: "failed", status: 429, ms: 12 },
      { upstream: "main", keyId: "k3", key: "sk-…0003", outcome: "ok", status: 200, ms: 40 },
    ],
    fallbacks: [],
    status: 200,
    stopReason: "tool_use",
    ttfbMs: 30,
    totalMs: 90,
    usage: { input_tokens: 5, output_tokens: 6, cache_read_input_tokens: 7 },
    ...over,
  };
}

Deno.test("an entry carries the routing trace and the figures", () => {
  const e = buildEntry(record(), { maxBodyBytes: 1000, redact: identity });
  assert.equal(e.tries, 2);
  assert.equal(e.retries, 1);
  assert.equal(e.key, "sk-…0003");
  assert.equal(e.error, false);
  assert.deepEqual(e.tokens, { input: 5, output: 6, cacheRead: 7, cacheCreation: 0 });
  assert.equal(e.attempts.length, 3);
  const s = summaryOf(e);
  assert.equal("attempts" in s, false);
  assert.equal(s.stopReason, "tool_use");
});

Deno.test("errors: 4xx/5xx and broken streams; a client leaving is not one", () => {
  assert.equal(isError({ status: 529 }), true);
  assert.equal(
    isError({ status: 200, errorType: "api_error", errorMessage: "stream broke" }),
    true,
  );
  assert.equal(
    isError({ status: 499, errorType: "api_error", errorMessage: "client closed" }),
    false,
  );
  assert.equal(
    isError({ status: 200, errorType: "api_error", errorMessage: "client closed the stream" }),
    false,
  );
  assert.equal(isError({ status: 200 }), false);
});

Deno.test("the biggest entries still fit in one KV value", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new RequestLogStore(kv, { max: 100, ttlMs: 3_600_000 });
    const huge = [
      record({
        id: "req_ascii",
        requestBody: "a".repeat(5_000_000),
        responseBody: "b".repeat(200_000),
      }),
      record({
        id: "req_cjk",
        requestBody: "漢".repeat(100_000),
        responseBody: "🙂".repeat(100_000),
      }),
      record({
        id: "req_attempts",
        requestBody: "x".repeat(40_000),
        attempts: Array.from({ length: 500 }, (_, i) => ({
          upstream: "main",
          keyId: `k${i}`,
          key: "sk-…" + i,
          outcome: "failed" as const,
          reason: "r".repeat(300),
        })),
      }),
    ];
    const entries = huge.map((r) => buildEntry(r, { maxBodyBytes: 1_000_000, redact: identity }));
    await store.append(entries);
    for (const e of entries) {
      const back = await store.get(e.id);
      assert.ok(back, `${e.id} stored`);
      assert.ok(back.requestBodyTruncated);
    }
    const cjk = (await store.get("req_cjk"))!;
    assert.ok(cjk.requestBody!.length > 1000, "a fair share of the body is kept");
    const many = (await store.get("req_attempts"))!;
    assert.equal(many.attempts.length + many.attemptsOmitted!, 500);
  } finally {
    kv.close();
  }
});

Deno.test("bodies are cut to LOG_BODY_MAX_BYTES", () => {
  const e = buildEntry(record({ requestBody: "é".repeat(1000), responseBody: "short" }), {
    maxBodyBytes: 101,
    redact: identity,
  });
  assert.equal(e.requestBody, "é".repeat(50));
  assert.equal(e.requestBodyTruncated, true);
  assert.equal(e.responseBody, "short");
  assert.equal(e.responseBodyTruncated, undefined);
});
