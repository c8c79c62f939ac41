import assert from "node:assert/strict";
import { Metrics } from "../../../lib/observability/metrics.ts";
import type { RequestRecord } from "../../../lib/request_record.ts";
import { parsePrometheus } from "../../helpers/prometheus.ts";

function record(model: string): RequestRecord {
  return {
    id: "req_x",
    time: 0,
    path: "/v1/messages",
    stream: false,
    requestedModel: model,
    upstream: "main",
    attempts: [],
    fallbacks: [],
    status: 200,
    totalMs: 10,
    usage: { input_tokens: 3, output_tokens: 2 },
  };
}

const render = (m: Metrics) => m.render({ inFlight: 0, keyStates: [], uptimeSeconds: 1 });

Deno.test("past the series limit, models already counted keep counting; new ones are (other)", () => {
  const m = new Metrics();
  m.observe(record("claude-sonnet-4-5"));
  for (let i = 0; i < 6_000; i++) m.observe(record(`typo-${i}`));
  m.observe(record("claude-sonnet-4-5"));
  const text = render(m);
  assert.match(
    text,
    /^claude_proxy_requests_total\{status="200",upstream="main",model="claude-sonnet-4-5"\} 2$/m,
  );
  assert.match(
    text,
    /^claude_proxy_tokens_total\{upstream="main",model="claude-sonnet-4-5",type="input"\} 6$/m,
  );
  assert.match(text, /model="\(other\)"\} \d+$/m);
});

Deno.test("model names that differ only in broken UTF-16 are one series, and the scrape parses", () => {
  const m = new Metrics();
  // Cut at 100 characters, two emoji left different halves; a client may send a lone one too.
  const long = "m".repeat(99);
  for (const model of [`${long}🚀`, `${long}🤖`, "x\ud800", "x\udc00", "y\ud83d"]) {
    m.observe(record(model));
  }
  // As the scrape reads it: UTF-8 on the wire.
  const families = parsePrometheus(new TextDecoder().decode(new TextEncoder().encode(render(m))));
  const series = families.get("claude_proxy_requests_total")!.samples;
  assert.deepEqual(
    series.map((s) => [s.labels.model, s.value]),
    [[long, 2], ["x\ufffd", 2], ["y\ufffd", 1]],
  );
});

Deno.test("a retry counts against the upstream whose attempt failed, not the fallback that answered", () => {
  const m = new Metrics();
  const attempt = (upstream: string, outcome: "failed" | "ok" | "skipped") => ({
    upstream,
    keyId: "k",
    key: "sk-…",
    outcome,
    status: outcome === "ok" ? 200 : 500,
    ms: 1,
  });
  m.observe({
    ...record("claude-sonnet-4-5"),
    upstream: "gem",
    attempts: [
      attempt("dead", "failed"),
      attempt("dead", "skipped"),
      attempt("dead", "failed"),
      attempt("gem", "ok"),
    ] as RequestRecord["attempts"],
    fallbacks: ["gem"],
  });
  const text = render(m);
  assert.match(text, /^claude_proxy_retries_total\{upstream="dead"\} 2$/m);
  assert.doesNotMatch(text, /^claude_proxy_retries_total\{upstream="gem"\}/m);
});
