import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { anthropicMessage, startFakeAnthropic } from "../../fakes/anthropic_upstream.ts";
import { parsePrometheus, sampleValue } from "../../helpers/prometheus.ts";
import { ACCESS_KEY, startTestServer } from "../../helpers/server.ts";
import { buildUsageReport } from "../../../lib/observability/usage_report.ts";
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

Deno.test("an upstream's absurd token counts do not stop the usage figures or skew /metrics", async () => {
  const fake = await startFakeAnthropic();
  const server = await startTestServer({
    config: {
      upstream: [{
        name: "ant",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: ["sk-ant-entry-test-key-0001"],
      }],
    },
  });
  const good = anthropicMessage("fine");
  const odd = (usage: string) => ({
    status: 200,
    text: JSON.stringify({ ...good, usage: "USAGE" }).replace('"USAGE"', usage),
  });
  try {
    // Past what a KV sum holds, infinite (1e999), a string, negative: none is a count.
    fake.enqueue(
      odd('{"input_tokens":1e20,"output_tokens":3}'),
      odd('{"input_tokens":1e999,"output_tokens":"12"}'),
      odd('{"input_tokens":-5,"output_tokens":"0x10"}'),
    );
    const client = new Anthropic({ apiKey: ACCESS_KEY, baseURL: server.url, maxRetries: 0 });
    const ask = () =>
      client.messages.create({
        model: "claude-test",
        max_tokens: 16,
        messages: [{ role: "user", content: "hi" }],
      });
    for (let i = 0; i < 4; i++) await ask();
    await server.services.observability.flush();
    await ask();
    await server.services.observability.flush();
    const report = await buildUsageReport(server.services.observability.usage, Date.now());
    assert.equal(report.total.requests, 5);
    // The two plain answers (12 in, 5 out each) and the 3 output tokens beside the 1e20.
    assert.equal(report.total.inputTokens, 24);
    assert.equal(report.total.outputTokens, 13);
    const metrics = parsePrometheus(await (await fetch(`${server.url}/metrics`)).text());
    const tokens = (type: string) =>
      sampleValue(metrics, "claude_proxy_tokens_total", {
        upstream: "ant",
        model: "claude-test",
        type,
      });
    assert.deepEqual([tokens("input"), tokens("output")], [24, 13]);
  } finally {
    await server.close();
    await fake.close();
  }
});
