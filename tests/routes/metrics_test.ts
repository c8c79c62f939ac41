// GET /metrics: Prometheus text, behind METRICS_TOKEN when it is set.
import assert from "node:assert/strict";
import { startTestServer } from "../helpers/server.ts";

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
