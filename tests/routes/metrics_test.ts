// GET /metrics: Prometheus text, behind METRICS_TOKEN when it is set.
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { anthropicStream, startFakeAnthropic } from "../fakes/anthropic_upstream.ts";
import { startFakeGemini } from "../fakes/gemini_upstream.ts";
import {
  openaiCompletion,
  openaiError,
  openaiUsage,
  startFakeOpenAI,
} from "../fakes/openai_upstream.ts";
import {
  type MetricFamily,
  parsePrometheus,
  sampleSum,
  sampleValue,
} from "../helpers/prometheus.ts";
import { ACCESS_KEY, startTestServer } from "../helpers/server.ts";

const TOKEN = "metrics-token-for-tests-0042";

Deno.test("without METRICS_TOKEN /metrics is open", async () => {
  const server = await startTestServer({
    config: {
      upstream: [{
        name: "a",
        baseUrl: "http://127.0.0.1:9",
        serviceType: "anthropic",
        apiKeys: ["sk-ant-metrics-key-1", "sk-ant-metrics-key-2"],
      }],
    },
  });
  try {
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const text = await res.text();
    assert.match(text, /^# HELP claude_proxy_requests_total /m);
    assert.match(text, /^# TYPE claude_proxy_request_duration_seconds histogram$/m);
    assert.match(text, /^claude_proxy_keys\{upstream="a",state="active"\} 2$/m);
    assert.match(text, /^claude_proxy_in_flight_requests 0$/m);
    assert.match(text, /^claude_proxy_uptime_seconds \d/m);
    // Every sample line is `name{labels} value`.
    for (const line of text.trim().split("\n")) {
      if (line.startsWith("#")) continue;
      assert.match(line, /^[a-z_]+(\{[^}]*\})? -?[\d.e+]+$/, line);
    }
  } finally {
    await server.close();
  }
});

Deno.test("with METRICS_TOKEN only the right bearer token gets in", async () => {
  const server = await startTestServer({ env: { METRICS_TOKEN: TOKEN } });
  try {
    for (
      const headers of [
        {},
        { authorization: "Bearer wrong-token" },
        { authorization: TOKEN },
        { authorization: `Basic ${TOKEN}` },
        { "x-api-key": TOKEN },
      ] as Record<string, string>[]
    ) {
      const res = await fetch(`${server.url}/metrics`, { headers });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="metrics"');
      assert.ok(res.headers.get("request-id"));
      const body = await res.text();
      assert.ok(!body.includes(TOKEN));
    }
    const ok = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /claude_proxy_in_flight_requests/);
  } finally {
    await server.close();
  }
});

// A mixed workload through the official SDK, odd names included, then every scrape read by a
// strict parser: valid exposition, histograms consistent, counters never lower than before, across
// a configuration reload and a key taken out and put back.
const ODD_MODEL = 'we"ird\\mo\ndel ü 🚀 \\"end';
const OPENAI_KEYS = ["sk-metrics-oai-key-0000000001", "sk-metrics-oai-key-0000000002"];
const GEMINI_KEY = "AIzaMetricsGeminiKey000000000000000001";
const ANTHROPIC_KEY = "sk-ant-metrics-key-00000000001";

async function scrape(url: string): Promise<Map<string, MetricFamily>> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = new TextDecoder("utf-8", { fatal: true }).decode(await res.arrayBuffer());
  return parsePrometheus(text);
}

/** Every counter and histogram series of `before` is still there in `after`, not lower. */
function assertNoneWentDown(before: Map<string, MetricFamily>, after: Map<string, MetricFamily>) {
  for (const family of before.values()) {
    if (family.type !== "counter" && family.type !== "histogram") continue;
    for (const s of family.samples) {
      const now = sampleValue(after, s.name, s.labels);
      assert.ok(now >= s.value, `${s.name}${JSON.stringify(s.labels)}: ${s.value} -> ${now}`);
    }
  }
}

Deno.test("/metrics after a mixed workload parses strictly and its counters only go up", async () => {
  const openai = await startFakeOpenAI();
  const gemini = await startFakeGemini();
  const anthropic = await startFakeAnthropic();
  const upstreams = [
    {
      name: 'o"pen\\ai ü',
      baseUrl: openai.url,
      serviceType: "openai",
      apiKeys: OPENAI_KEYS,
      fallback: 'gé"mini\\ 🚀',
    },
    {
      name: 'gé"mini\\ 🚀',
      baseUrl: gemini.url,
      serviceType: "gemini",
      apiKeys: [GEMINI_KEY],
      models: { default: "gemini-2.5-flash" },
    },
    {
      name: "an\\thropic",
      baseUrl: anthropic.url,
      serviceType: "anthropic",
      apiKeys: [ANTHROPIC_KEY],
    },
  ];
  const server = await startTestServer({
    config: { upstream: upstreams, currentUpstream: 0, loadBalance: "failover" },
  });
  const client = new Anthropic({ apiKey: ACCESS_KEY, baseURL: server.url, maxRetries: 0 });
  const ask = (model = "claude-sonnet-4-5") =>
    client.messages.create({ model, max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
  const stream = (model = "claude-sonnet-4-5") =>
    client.messages.stream({ model, max_tokens: 64, messages: [{ role: "user", content: "hi" }] })
      .finalMessage();
  try {
    // OpenAI: a success under an odd model name, a stream, a retry after 429, a 400, a fallback.
    openai.enqueue({
      status: 200,
      json: openaiCompletion({ content: "one" }, "stop", openaiUsage(11, 3)),
    });
    await ask(ODD_MODEL);
    await stream(ODD_MODEL);
    openai.enqueue(
      { status: 429, json: openaiError("slow down", "requests", "rate_limit_exceeded") },
      { status: 200, json: openaiCompletion({ content: "two" }, "stop", openaiUsage(20, 4)) },
    );
    await ask();
    openai.enqueue({ status: 400, json: openaiError('bad "request" \\ with\nnewline') });
    await assert.rejects(ask(), (err: unknown) => err instanceof Anthropic.BadRequestError);
    openai.enqueue({ status: 500, json: openaiError("boom", "server_error") });
    await ask();
    const first = await scrape(server.url);

    // A reload to the Anthropic upstream: passthrough answers, then every key rate limited.
    await server.services.store.replace({ upstream: upstreams, currentUpstream: 2 });
    const second = await scrape(server.url);
    assertNoneWentDown(first, second);
    await ask(ODD_MODEL);
    await stream(ODD_MODEL);
    // A client that leaves in the middle of a stream.
    anthropic.enqueue({
      sse: anthropicStream("a b c d e f g h i j k l m n o p q r s t"),
      delayMs: 20,
    });
    const leaving = client.messages.stream({
      model: ODD_MODEL,
      max_tokens: 64,
      messages: [{ role: "user", content: "hi" }],
    });
    for await (const ev of leaving) if (ev.type === "content_block_delta") break;
    leaving.abort();
    await new Promise((r) => setTimeout(r, 300));
    anthropic.enqueue({
      status: 429,
      json: { type: "error", error: { type: "rate_limit_error", message: "slow" } },
      headers: { "retry-after": "30" },
    });
    await assert.rejects(ask(), (err: unknown) => err instanceof Anthropic.RateLimitError);
    const third = await scrape(server.url);
    assertNoneWentDown(second, third);

    // A key taken out and put back.
    await server.services.store.replace({
      upstream: upstreams.map((u, i) => i === 0 ? { ...u, apiKeys: [OPENAI_KEYS[1]] } : u),
      currentUpstream: 0,
    });
    await server.services.store.replace({ upstream: upstreams, currentUpstream: 0 });
    await ask();
    const last = await scrape(server.url);
    assertNoneWentDown(third, last);

    const requests = "claude_proxy_requests_total";
    assert.equal(sampleSum(last, requests), 10);
    assert.equal(sampleSum(last, requests, { status: "499" }), 1);
    assert.equal(sampleSum(last, requests, { status: "429" }), 1);
    assert.equal(sampleSum(last, requests, { status: "400" }), 1);
    assert.equal(sampleSum(last, requests, { upstream: 'o"pen\\ai ü', model: ODD_MODEL }), 2);
    assert.equal(sampleSum(last, requests, { upstream: "an\\thropic", model: ODD_MODEL }), 3);
    assert.equal(
      sampleValue(last, "claude_proxy_tokens_total", {
        upstream: 'o"pen\\ai ü',
        model: ODD_MODEL,
        type: "input",
      }) >= 11,
      true,
    );
    assert.ok(sampleSum(last, "claude_proxy_fallbacks_total", { upstream: 'gé"mini\\ 🚀' }) >= 1);
    assert.equal(sampleSum(last, "claude_proxy_request_duration_seconds_count"), 10);
    assert.equal(
      sampleValue(last, "claude_proxy_keys", { upstream: 'gé"mini\\ 🚀', state: "active" }),
      1,
    );
  } finally {
    await server.close();
    await Promise.all([openai.close(), gemini.close(), anthropic.close()]);
  }
});
