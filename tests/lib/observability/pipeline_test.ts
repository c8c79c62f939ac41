// Requests through the real app, then the request log, the usage counters and /metrics read back.
import assert from "node:assert/strict";
import { ACCESS_KEY, startTestServer } from "../../helpers/server.ts";
import { keyId } from "../../../lib/key_pool.ts";
import { lastHourCounts } from "../../../lib/observability/usage_report.ts";
import { bucketStart } from "../../../lib/store/usage_store.ts";
import { messageReply, startAnthropicFake } from "./anthropic_fake.ts";
import { anthropicStream, startFakeAnthropic } from "../../fakes/anthropic_upstream.ts";
import {
  openaiCompletion,
  openaiError,
  openaiUsage,
  startFakeOpenAI,
} from "../../fakes/openai_upstream.ts";

const KEY_ONE = "sk-test-key-one-000000000001";
const KEY_TWO = "sk-test-key-two-000000000002";

function ask(url: string, content = "hello", model = "claude-sonnet-4-5") {
  return fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": ACCESS_KEY },
    body: JSON.stringify({ model, max_tokens: 32, messages: [{ role: "user", content }] }),
  });
}

function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

Deno.test("success, retry after 429 and failure are logged, counted and exported", async () => {
  const fake = await startFakeOpenAI();
  const server = await startTestServer({
    config: {
      upstream: [{
        name: "main",
        baseUrl: fake.url,
        serviceType: "openai",
        apiKeys: [KEY_ONE, KEY_TWO],
        models: { sonnet: "gpt-upstream-sonnet" },
      }],
      loadBalance: "failover",
    },
  });
  try {
    // 1: plain success on the first key.
    fake.enqueue({
      status: 200,
      json: openaiCompletion({ content: "one" }, "stop", openaiUsage(12, 7)),
    });
    const r1 = await ask(server.url);
    assert.equal(r1.status, 200);
    const id1 = r1.headers.get("request-id")!;
    await r1.body?.cancel();

    // 2: the first key is rate limited; the second answers.
    fake.enqueue(
      { status: 429, json: openaiError("slow down", "requests", "rate_limit_exceeded") },
      { status: 200, json: openaiCompletion({ content: "two" }, "stop", openaiUsage(120, 5, 100)) },
    );
    const r2 = await ask(server.url);
    assert.equal(r2.status, 200);
    const id2 = r2.headers.get("request-id")!;
    await r2.body?.cancel();

    // 3: the request's own fault: 400, not retried, key one still cooling down (skipped).
    fake.enqueue({ status: 400, json: openaiError("bad request from the client") });
    const r3 = await ask(server.url);
    assert.equal(r3.status, 400);
    const id3 = r3.headers.get("request-id")!;
    const body3 = await r3.json();
    assert.equal(body3.request_id, id3);

    await server.services.observability.flush();
    const log = server.services.observability.requestLog;

    // Every log line of a request names its id.
    for (const id of [id1, id2, id3]) {
      assert.ok(server.logs.some((l) => l.includes(id)), `a log line names ${id}`);
    }

    const e1 = (await log.get(id1))!;
    assert.equal(e1.status, 200);
    assert.equal(e1.upstream, "main");
    assert.equal(e1.model, "claude-sonnet-4-5");
    assert.equal(e1.upstreamModel, "gpt-upstream-sonnet");
    assert.equal(e1.retries, 0);
    assert.equal(e1.error, false);
    assert.equal(e1.stopReason, "end_turn");
    assert.deepEqual(e1.tokens, { input: 12, output: 7, cacheRead: 0, cacheCreation: 0 });
    assert.equal(typeof e1.ttfbMs, "number");
    assert.ok(e1.totalMs >= e1.ttfbMs!);
    assert.ok(e1.clientKey && !e1.clientKey.includes(ACCESS_KEY));
    assert.equal(e1.attempts.length, 1);
    assert.equal(e1.attempts[0].keyId, keyId(KEY_ONE));
    assert.equal(e1.requestBody, undefined, "bodies are off by default");

    const e2 = (await log.get(id2))!;
    assert.equal(e2.status, 200);
    assert.equal(e2.retries, 1);
    assert.equal(e2.tries, 2);
    assert.deepEqual(e2.attempts.map((a) => [a.keyId, a.outcome, a.status]), [
      [keyId(KEY_ONE), "failed", 429],
      [keyId(KEY_TWO), "ok", 200],
    ]);
    assert.match(e2.attempts[0].reason!, /slow down/);
    assert.deepEqual(e2.tokens, { input: 20, output: 5, cacheRead: 100, cacheCreation: 0 });

    const e3 = (await log.get(id3))!;
    assert.equal(e3.status, 400);
    assert.equal(e3.error, true);
    assert.equal(e3.errorType, "invalid_request_error");
    // The request's own fault is no failure of the key's.
    assert.deepEqual(e3.attempts.map((a) => [a.keyId, a.outcome]), [
      [keyId(KEY_ONE), "skipped"],
      [keyId(KEY_TWO), "refused"],
    ]);
    assert.match(e3.attempts[0].reason!, /cooldown/);

    // Newest first, with filters.
    const all = await log.list();
    assert.deepEqual(all.items.map((s) => s.id), [id3, id2, id1]);
    assert.deepEqual((await log.list({ errorsOnly: true })).items.map((s) => s.id), [id3]);
    assert.deepEqual((await log.list({ status: "2xx" })).items.map((s) => s.id), [id2, id1]);
    assert.deepEqual((await log.list({ status: "400" })).items.map((s) => s.id), [id3]);
    assert.equal((await log.list({ upstream: "other" })).items.length, 0);
    assert.equal((await log.list({ model: "UPSTREAM-SONNET" })).items.length, 3);

    // Usage counters in KV.
    const now = Date.now();
    const rows = await server.services.observability.usage.query(
      "hour",
      bucketStart("hour", now) - 3_600_000,
      now + 3_600_000,
    );
    const sum = (dimension: string, metric: string) =>
      rows.filter((r) => r.dimension === dimension).reduce(
        (a, r) => a + (r.metrics[metric] ?? 0),
        0,
      );
    assert.equal(sum("all", "requests"), 3);
    assert.equal(sum("all", "errors"), 1);
    assert.equal(sum("all", "input_tokens"), 32);
    assert.equal(sum("all", "output_tokens"), 12);
    assert.equal(sum("all", "cache_read_tokens"), 100);
    assert.equal(sum("all", "cache_creation_tokens"), 0);
    assert.equal(sum("upstream:main", "requests"), 3);
    assert.equal(sum("model:gpt-upstream-sonnet", "requests"), 3);
    const k1 = `key:main/${keyId(KEY_ONE)}`;
    const k2 = `key:main/${keyId(KEY_TWO)}`;
    assert.equal(sum(k1, "requests"), 2);
    assert.equal(sum(k1, "errors"), 1);
    assert.equal(sum(k2, "requests"), 2);
    assert.equal(sum(k2, "errors"), 0);
    assert.equal(sum(k2, "input_tokens"), 20);
    const latencyCount = Object.keys(rows.find((r) => r.dimension === "all")!.metrics)
      .filter((m) => m.startsWith("latency_b"))
      .reduce((a, m) => a + sum("all", m), 0);
    assert.equal(latencyCount, 3, "every request lands in one latency bucket");
    assert.deepEqual(await lastHourCounts(server.services.observability.usage, Date.now()), {
      requests: 3,
      errors: 1,
    });

    // /metrics.
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/plain/);
    const text = await res.text();
    const m = "claude_proxy_";
    assert.equal(metricValue(text, `${m}requests_total`, { status: "200", upstream: "main" }), 2);
    assert.equal(metricValue(text, `${m}requests_total`, { status: "400" }), 1);
    assert.equal(metricValue(text, `${m}errors_total`, { type: "invalid_request_error" }), 1);
    assert.equal(metricValue(text, `${m}tokens_total`, { type: "input" }), 32);
    assert.equal(metricValue(text, `${m}tokens_total`, { type: "output" }), 12);
    assert.equal(metricValue(text, `${m}tokens_total`, { type: "cache_read" }), 100);
    assert.equal(metricValue(text, `${m}retries_total`), 1);
    assert.equal(metricValue(text, `${m}upstream_attempts_total`, { outcome: "failed" }), 1);
    assert.equal(metricValue(text, `${m}upstream_attempts_total`, { outcome: "refused" }), 1);
    assert.equal(metricValue(text, `${m}upstream_attempts_total`, { outcome: "skipped" }), 1);
    assert.equal(metricValue(text, `${m}request_duration_seconds_count`), 3);
    assert.equal(metricValue(text, `${m}request_duration_seconds_bucket`, { le: "+Inf" }), 3);
    assert.equal(metricValue(text, `${m}keys`, { upstream: "main", state: "cooldown" }), 1);
    assert.equal(metricValue(text, `${m}keys`, { upstream: "main", state: "active" }), 1);
    assert.equal(metricValue(text, `${m}keys`, { upstream: "main", state: "disabled" }), 0);
    assert.equal(metricValue(text, `${m}in_flight_requests`), 0);
  } finally {
    await server.services.observability.flush();
    await server.close();
    await fake.close();
  }
});

Deno.test("an Anthropic passthrough records tokens and stop reason, JSON and streamed", async () => {
  const fake = startAnthropicFake(() =>
    messageReply("hi", { input_tokens: 9, output_tokens: 4, cache_read_input_tokens: 50 })
  );
  const server = await startTestServer({
    config: {
      upstream: [{
        name: "claude",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: ["sk-ant-passthrough-key-0001"],
      }],
    },
  });
  try {
    const ids: string[] = [];
    for (const stream of [false, true]) {
      const res = await fetch(`${server.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": ACCESS_KEY },
        body: JSON.stringify({
          model: "claude-haiku-4-5",
          max_tokens: 16,
          stream,
          messages: [{ role: "user", content: "hello" }],
        }),
      });
      assert.equal(res.status, 200);
      await res.text();
      ids.push(res.headers.get("request-id")!);
    }
    await server.services.observability.flush();
    for (const id of ids) {
      const e = (await server.services.observability.requestLog.get(id))!;
      assert.equal(e.stopReason, "end_turn", `stop reason of ${e.stream ? "stream" : "JSON"}`);
      assert.deepEqual(e.tokens, { input: 9, output: 4, cacheRead: 50, cacheCreation: 0 });
      assert.equal(e.attempts.length, 1);
      assert.equal(e.attempts[0].outcome, "ok");
    }
  } finally {
    await server.services.observability.flush();
    await server.close();
    await fake.close();
  }
});

Deno.test("requests the proxy turns away itself are counted: at its limit, bad bodies", async () => {
  const fake = await startFakeOpenAI();
  const server = await startTestServer({
    env: { MAX_CONCURRENT_REQUESTS: "1" },
    config: {
      upstream: [{ name: "main", baseUrl: fake.url, serviceType: "openai", apiKeys: [KEY_ONE] }],
    },
  });
  try {
    // One request holds the only slot; the next is refused with 529 before its body is read.
    fake.enqueue({ hang: true });
    const held = new AbortController();
    const first = fetch(`${server.url}/v1/messages`, {
      method: "POST",
      signal: held.signal,
      headers: { "content-type": "application/json", "x-api-key": ACCESS_KEY },
      body: JSON.stringify({
        model: "m",
        max_tokens: 8,
        messages: [{ role: "user", content: "x" }],
      }),
    }).catch(() => undefined);
    while (server.services.inFlight.count === 0) await new Promise((r) => setTimeout(r, 5));
    const refused = await ask(server.url);
    assert.equal(refused.status, 529);
    await refused.body?.cancel();
    held.abort();
    await first;
    while (server.services.inFlight.count > 0) await new Promise((r) => setTimeout(r, 5));
    // A body that is not JSON is refused with 400.
    const bad = await fetch(`${server.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": ACCESS_KEY },
      body: "{not json",
    });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();

    const text = await (await fetch(`${server.url}/metrics`)).text();
    const m = "claude_proxy_";
    assert.equal(metricValue(text, `${m}requests_total`, { status: "529" }), 1);
    assert.equal(metricValue(text, `${m}errors_total`, { type: "overloaded_error" }), 1);
    assert.equal(metricValue(text, `${m}requests_total`, { status: "400" }), 1);
    assert.equal(metricValue(text, `${m}errors_total`, { type: "invalid_request_error" }), 1);
    await server.services.observability.flush();
    assert.deepEqual(await lastHourCounts(server.services.observability.usage, Date.now()), {
      requests: 3,
      errors: 2,
    });
    // The request log keeps what reached an upstream (here the one the client left): a flood of
    // refusals must not write it.
    assert.equal(await server.services.observability.requestLog.count(), 1);
    await server.close();
  } finally {
    await fake.close();
  }
});

Deno.test("requests over the access key's rate limit are counted", async () => {
  const fake = await startFakeOpenAI();
  const server = await startTestServer({
    env: { ENABLE_RATE_LIMIT: "true", RATE_LIMIT_MAX_REQUESTS: "1" },
    config: {
      upstream: [{ name: "main", baseUrl: fake.url, serviceType: "openai", apiKeys: [KEY_ONE] }],
    },
  });
  try {
    const ok = await ask(server.url);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const limited = await ask(server.url);
    assert.equal(limited.status, 429);
    await limited.body?.cancel();
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const m = "claude_proxy_";
    assert.equal(metricValue(text, `${m}requests_total`, { status: "429" }), 1);
    assert.equal(metricValue(text, `${m}errors_total`, { type: "rate_limit_error" }), 1);
  } finally {
    await server.close();
    await fake.close();
  }
});

Deno.test("a client that leaves a stream half-way is logged as one that left (499)", async () => {
  const fake = await startFakeAnthropic();
  const server = await startTestServer({
    config: {
      upstream: [{
        name: "claude",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: [KEY_ONE],
      }],
    },
  });
  try {
    // The answer starts, then the upstream goes quiet; the client reads the start and leaves.
    fake.enqueue({ sse: anthropicStream("partial answer").slice(0, 3), thenHang: true });
    const res = await fetch(`${server.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": ACCESS_KEY },
      body: JSON.stringify({
        model: "claude-haiku-4-5",
        max_tokens: 16,
        stream: true,
        messages: [{ role: "user", content: "hello" }],
      }),
    });
    assert.equal(res.status, 200);
    const id = res.headers.get("request-id")!;
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    while (server.services.inFlight.count > 0) await new Promise((r) => setTimeout(r, 5));
    await server.services.observability.flush();
    const log = server.services.observability.requestLog;
    const entry = (await log.get(id))!;
    assert.equal(entry.status, 499, "the same status /metrics gives it");
    assert.equal(entry.error, false);
    assert.deepEqual((await log.list({ status: "499" })).items.map((s) => s.id), [id]);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.equal(metricValue(text, "claude_proxy_requests_total", { status: "499" }), 1);
  } finally {
    await server.close();
    await fake.close();
  }
});

Deno.test("a client that leaves before the answer does not count against the key", async () => {
  const fake = await startFakeOpenAI();
  const server = await startTestServer({
    config: {
      upstream: [{ name: "main", baseUrl: fake.url, serviceType: "openai", apiKeys: [KEY_ONE] }],
    },
  });
  try {
    // Claude Code's Esc: the request is cancelled while the upstream thinks.
    fake.enqueue({ hang: true });
    const gone = new AbortController();
    const pending = fetch(`${server.url}/v1/messages`, {
      method: "POST",
      signal: gone.signal,
      headers: { "content-type": "application/json", "x-api-key": ACCESS_KEY },
      body: JSON.stringify({
        model: "m",
        max_tokens: 8,
        messages: [{ role: "user", content: "x" }],
      }),
    }).catch(() => undefined);
    while (fake.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    gone.abort();
    await pending;
    while (server.services.inFlight.count > 0) await new Promise((r) => setTimeout(r, 5));
    await server.services.observability.flush();

    const rows = await server.services.observability.usage.query("hour", 0, Date.now() + 3_600_000);
    const key = rows.find((r) => r.dimension === `key:main/${keyId(KEY_ONE)}`)!;
    assert.equal(key.metrics.requests, 1);
    assert.equal(key.metrics.errors ?? 0, 0, "the key did nothing wrong");
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.equal(
      metricValue(text, "claude_proxy_upstream_attempts_total", { outcome: "failed" }),
      0,
    );
    const [entry] = (await server.services.observability.requestLog.list()).items;
    const full = (await server.services.observability.requestLog.get(entry.id))!;
    assert.equal(full.status, 499);
    assert.equal(full.attempts[0].outcome, "cancelled");
  } finally {
    await server.close();
    await fake.close();
  }
});
