// The admin's request log pages, the usage CSV and the usage panel, on recorded requests.
import assert from "node:assert/strict";
import { Hono } from "hono";
import type { AdminEnv } from "../../../routes/admin/session.ts";
import { parseConfig } from "../../../lib/config.ts";
import { createLogger } from "../../../lib/log.ts";
import type { RequestRecord } from "../../../lib/request_record.ts";
import { createServices, type Services } from "../../../lib/services.ts";
import { logsRoutes } from "../../../routes/admin/logs.ts";
import { UsagePanel } from "../../../views/usage_panel.tsx";
import { dashboardUsage } from "../../../routes/admin/dashboard.ts";

const NOW = Date.now();

function record(i: number, over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: `req_page${String(i).padStart(3, "0")}`,
    time: NOW - (100 - i) * 1000,
    path: "/v1/messages",
    stream: i % 2 === 0,
    clientKey: "test-a…6789",
    requestedModel: "claude-sonnet-4-5",
    upstreamModel: "gpt-4o",
    upstream: i % 3 === 0 ? "backup" : "main",
    attempts: [
      {
        upstream: "main",
        keyId: "k1",
        key: "sk-…0001",
        outcome: "failed",
        status: 429,
        reason: "429: slow",
        ms: 12,
      },
      { upstream: "main", keyId: "k2", key: "sk-…0002", outcome: "ok", status: 200, ms: 900 },
    ],
    fallbacks: [],
    status: i % 10 === 0 ? 529 : 200,
    errorType: i % 10 === 0 ? "overloaded_error" : undefined,
    stopReason: "end_turn",
    ttfbMs: 300,
    totalMs: 1200 + i,
    usage: { input_tokens: 10, output_tokens: 20, cache_read_input_tokens: 5 },
    ...over,
  };
}

async function setup(): Promise<{ services: Services; app: Hono<AdminEnv>; close(): void }> {
  const kv = await Deno.openKv(":memory:");
  const config = parseConfig({ ENABLE_REQUEST_LOGS: "true" });
  const services = await createServices(kv, config, {
    logger: createLogger(config, () => {}),
    watch: false,
  });
  await services.store.replace({
    upstream: [
      {
        name: "main",
        baseUrl: "http://127.0.0.1:9",
        serviceType: "anthropic",
        apiKeys: ["sk-ant-page-key-0001"],
      },
      {
        name: "backup",
        baseUrl: "http://127.0.0.1:9",
        serviceType: "anthropic",
        apiKeys: ["sk-ant-page-key-0002"],
      },
    ],
  });
  const app = new Hono<AdminEnv>();
  app.use("*", async (c, next) => {
    // What the admin's session guard leaves for the layout.
    c.set("csrfToken", "csrf-token-x");
    await next();
  });
  app.route("/admin/logs", logsRoutes(services));
  app.get(
    "/panel",
    async (c) => c.html(UsagePanel({ report: (await dashboardUsage(services)).usage })),
  );
  return {
    services,
    app,
    close() {
      services.close();
      kv.close();
    },
  };
}

Deno.test("the list: newest first, live, filtered, paged; the layout around it", async () => {
  const { services, app, close } = await setup();
  try {
    for (let i = 1; i <= 60; i++) services.recorder.record(record(i));
    const page = await (await app.request("/admin/logs")).text();
    assert.match(page, /<nav/);
    assert.match(page, /csrf-token-x/);
    assert.ok(page.indexOf("req_page060") < page.indexOf("req_page059"), "newest first");
    assert.ok(!page.includes("req_page010"), "one page of 50");
    assert.match(page, /hx-trigger="every 5s"/);
    assert.match(page, /href="\/admin\/logs\?cursor=/);
    // An operator comparing the list with /metrics learns why refused requests are missing.
    assert.match(page, /turned away itself[^<]*counted on the dashboard and in \/metrics/);

    const paused = await (await app.request("/admin/logs/rows?live=0")).text();
    assert.ok(!paused.includes("every 5s"), "paused: no polling");
    assert.match(paused, /Resume live refresh/);
    assert.ok(!paused.includes("<html"), "a fragment");

    const errors = await (await app.request("/admin/logs/rows?errors=1&live=1")).text();
    const ids = [...errors.matchAll(/data-id="(req_page\d+)"/g)].map((m) => m[1]);
    assert.deepEqual(ids, [
      "req_page060",
      "req_page050",
      "req_page040",
      "req_page030",
      "req_page020",
      "req_page010",
    ]);
    assert.match(errors, /hx-get="\/admin\/logs\/rows\?errors=1&amp;live=1"/);

    const backup = await (await app.request("/admin/logs/rows?upstream=backup&status=5xx")).text();
    assert.deepEqual([...backup.matchAll(/data-id="(req_page\d+)"/g)].map((m) => m[1]), [
      "req_page060",
      "req_page030",
    ]);

    const older = page.match(/href="(\/admin\/logs\?cursor=[^"]+)"/)![1].replaceAll("&amp;", "&");
    const second = await (await app.request(older)).text();
    assert.match(second, /req_page010/);
    assert.ok(!second.includes("every 5s"), "an older page does not jump back to the newest");
  } finally {
    close();
  }
});

Deno.test("the detail: routing trace, bodies, escaping; unknown ids are 404", async () => {
  const { services, app, close } = await setup();
  try {
    services.recorder.record(record(1, {
      requestedModel: "<script>alert(1)</script>",
      requestBody: '{"messages":[{"content":"</pre><img src=x onerror=alert(1)>"}]}',
    }));
    const res = await app.request("/admin/logs/req_page001");
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.ok(!html.includes("<script>alert"), "model name escaped");
    assert.ok(!html.includes("<img src=x"), "body escaped");
    assert.match(html, /&lt;script&gt;/);
    assert.match(html, /429: slow/);
    assert.match(html, /sk-…0002/);
    assert.match(html, /ENABLE_RESPONSE_LOGS was off, or nothing was sent/);
    assert.equal((await app.request("/admin/logs/req_nothing")).status, 404);
    assert.equal((await app.request("/admin/logs/..%2F..%2Fetc")).status, 404);
  } finally {
    close();
  }
});

Deno.test("usage: CSV download, the panel's charts and the last hour", async () => {
  const { services, app, close } = await setup();
  try {
    for (let i = 1; i <= 20; i++) services.recorder.record(record(i, { time: NOW - i * 1000 }));
    const res = await app.request("/admin/logs/usage.csv?bucket=hour&days=2");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/csv/);
    assert.match(res.headers.get("content-disposition")!, /attachment; filename="usage-hour-/);
    const lines = (await res.text()).trim().split("\r\n");
    const header = lines[0].split(",");
    const row = (type: string, name: string) =>
      lines.map((l) => l.split(",")).find((c) => c[2] === type && c[3] === name);
    const all = row("all", "all")!;
    assert.ok(all, lines.join("\n"));
    const col = (r: string[], name: string) => r[header.indexOf(name)];
    // Requests can straddle an hour boundary: sum over the rows of a dimension.
    const total = (type: string, name: string, metric: string) =>
      lines.map((l) => l.split(",")).filter((c) => c[2] === type && c[3] === name)
        .reduce((a, c) => a + Number(col(c, metric)), 0);
    assert.equal(total("all", "all", "requests"), 20);
    assert.equal(total("all", "all", "errors"), 2);
    assert.equal(total("all", "all", "input_tokens"), 200);
    assert.equal(total("all", "all", "cache_read_tokens"), 100);
    assert.equal(total("key", "main/k1", "errors"), 20);
    assert.equal(total("key", "main/k2", "output_tokens"), 400);
    assert.equal(total("upstream", "backup", "requests"), 6);
    assert.equal(col(all, "latency_ms_p50").length > 0, true);

    const day = await (await app.request("/admin/logs/usage.csv?bucket=day")).text();
    assert.match(day, /\r\nday,/);
    // Hand-edited query strings fall back to the defaults instead of failing.
    const odd = await app.request("/admin/logs/usage.csv?bucket=weekly&days=lots");
    assert.equal(odd.status, 200);
    assert.match(await odd.text(), /\r\nhour,/);
    const list = await app.request("/admin/logs?status=9xx9&errors=maybe&live=sure");
    assert.equal(list.status, 200);
    await list.body?.cancel();

    const panel = await (await app.request("/panel")).text();
    assert.match(panel, /<svg[^>]*viewBox/);
    assert.match(panel, /<rect[^>]*><title>/);
    assert.match(panel, /Requests per hour/);
    assert.match(panel, /main · k1… \(removed\)/);
    assert.ok(!panel.includes("sk-ant-page-key-0001"), "keys masked");

    assert.deepEqual((await dashboardUsage(services)).lastHour, { requests: 20, errors: 2 });
  } finally {
    close();
  }
});
