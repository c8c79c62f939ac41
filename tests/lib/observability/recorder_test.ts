import assert from "node:assert/strict";
import { parseConfig } from "../../../lib/config.ts";
import { createLogger } from "../../../lib/log.ts";
import { createObservability } from "../../../lib/observability/recorder.ts";
import type { RequestRecord } from "../../../lib/request_record.ts";

let n = 0;
function record(over: Partial<RequestRecord> = {}): RequestRecord {
  n++;
  return {
    id: `req_rec${n}`,
    time: Date.now(),
    path: "/v1/messages",
    stream: false,
    requestedModel: "claude-haiku-4-5",
    upstream: "main",
    attempts: [{
      upstream: "main",
      keyId: "k1",
      key: "sk-…0001",
      outcome: "ok",
      status: 200,
      ms: 5,
    }],
    fallbacks: [],
    status: 200,
    totalMs: 20,
    usage: { input_tokens: 3, output_tokens: 4 },
    ...over,
  };
}

function setup(env: Record<string, string> = {}, options = {}) {
  const config = parseConfig({ LOG_LEVEL: "info", ...env });
  const lines: string[] = [];
  const log = createLogger(config, (line) => lines.push(line));
  return { config, lines, log, options };
}

async function entries(kv: Deno.Kv): Promise<number> {
  let count = 0;
  for await (const e of kv.list<{ entries: unknown[] }>({ prefix: ["request_log"] })) {
    count += e.value.entries.length;
  }
  return count;
}

Deno.test("record() returns at once; KV is written later, in batches", async () => {
  const kv = await Deno.openKv(":memory:");
  const { config, log, lines } = setup({
    ENABLE_REQUEST_LOGS: "true",
    ENABLE_RESPONSE_LOGS: "true",
    REQUEST_LOG_MAX: "5000",
  });
  const obs = createObservability(kv, config, log);
  try {
    const body = JSON.stringify({ messages: [{ role: "user", content: "x".repeat(16_000) }] });
    // Synchronous work only: the log line and in-memory sums (bodies are masked at flush time).
    // The quickest of five rounds, so that a machine busy with other work does not fail it.
    let perRecordMs = Infinity;
    for (let round = 0; round < 5; round++) {
      const recs = Array.from(
        { length: 100 },
        () => record({ requestBody: body, responseBody: body }),
      );
      const started = performance.now();
      for (const r of recs) obs.recorder.record(r);
      perRecordMs = Math.min(perRecordMs, (performance.now() - started) / recs.length);
    }
    assert.ok(perRecordMs < 1, `record() took ${perRecordMs.toFixed(3)} ms`);
    assert.equal(await entries(kv), 0, "nothing written on the request's path");
    assert.ok(lines.some((l) => l.includes("req_rec")), "the log line is written at once");
    await obs.flush();
    assert.equal(await entries(kv), 500);
  } finally {
    obs.close();
    kv.close();
  }
});

Deno.test("queued entries are written by the timer, without flush()", async () => {
  const kv = await Deno.openKv(":memory:");
  const { config, log } = setup();
  const obs = createObservability(kv, config, log, { logFlushMs: 10, usageFlushMs: 10 });
  try {
    obs.recorder.record(record());
    for (let i = 0; i < 100 && await entries(kv) === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(await entries(kv), 1);
    let usage = 0;
    for (let i = 0; i < 100 && usage === 0; i++) {
      for await (const _ of kv.list({ prefix: ["usage"] })) usage++;
      if (!usage) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(usage > 0, "usage sums flushed by their timer");
    await obs.flush();
  } finally {
    obs.close();
    kv.close();
  }
});

Deno.test("a full batch is written at once", async () => {
  const kv = await Deno.openKv(":memory:");
  const { config, log } = setup();
  const obs = createObservability(kv, config, log, { logFlushMs: 60_000, logBatchSize: 10 });
  try {
    for (let i = 0; i < 10; i++) obs.recorder.record(record());
    for (let i = 0; i < 100 && await entries(kv) < 10; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(await entries(kv), 10);
    await obs.flush();
  } finally {
    obs.close();
    kv.close();
  }
});

Deno.test("entries recorded while a batch is written wait for the next one: no commit of their own", async () => {
  const kv = await Deno.openKv(":memory:");
  const { config, log } = setup();
  const obs = createObservability(kv, config, log, { logFlushMs: 60_000, logBatchSize: 10 });
  try {
    for (let i = 0; i < 10; i++) obs.recorder.record(record());
    // The full batch's write starts on the next turn; these come while it is under way.
    await new Promise((r) => setTimeout(r, 0));
    for (let i = 0; i < 3; i++) obs.recorder.record(record());
    for (let i = 0; i < 100 && await entries(kv) < 10; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await entries(kv), 10, "the three wait for the next batch");
    for (let i = 0; i < 7; i++) obs.recorder.record(record());
    for (let i = 0; i < 100 && await entries(kv) < 20; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(await entries(kv), 20);
    const values = [];
    for await (const e of kv.list<{ entries: unknown[] }>({ prefix: ["request_log"] })) {
      values.push(e.value.entries.length);
    }
    assert.deepEqual(values, [10, 10], "two commits of ten, not one of three between them");
  } finally {
    obs.close();
    kv.close();
  }
});

Deno.test("REQUEST_LOG_MAX=0 keeps no entries but still counts", async () => {
  const kv = await Deno.openKv(":memory:");
  const { config, log } = setup({ REQUEST_LOG_MAX: "0" });
  const obs = createObservability(kv, config, log);
  try {
    obs.recorder.record(record());
    await obs.flush();
    assert.equal(await entries(kv), 0);
    assert.match(
      obs.metrics.render({ inFlight: 0, keyStates: [], uptimeSeconds: 1 }),
      /requests_total\{status="200"/,
    );
  } finally {
    obs.close();
    kv.close();
  }
});

Deno.test("a failing store never reaches the request; the error is logged once", async () => {
  const kv = await Deno.openKv(":memory:");
  const { config, log, lines } = setup();
  const obs = createObservability(kv, config, log);
  kv.close();
  try {
    obs.recorder.record(record());
    obs.recorder.record(record());
    await obs.flush();
    const errors = lines.filter((l) => l.includes("could not write"));
    assert.ok(errors.length >= 1 && errors.length <= 2, errors.join("\n"));
  } finally {
    obs.close();
  }
});

Deno.test("usage sums a failed flush half wrote are written once, not twice", async () => {
  const kv = await Deno.openKv(":memory:");
  let commits = 0;
  // The second commit of the first flush fails (a store locked past the retries, a dropped
  // connection): the first one's sums are already in.
  const flaky = new Proxy(kv, {
    get(target, prop) {
      if (prop !== "atomic") return Reflect.get(target, prop).bind(target);
      return () => {
        const op = target.atomic();
        const commit = op.commit.bind(op);
        op.commit = () => {
          if (++commits === 2) return Promise.reject(new Error("database is locked"));
          return commit();
        };
        return op;
      };
    },
  });
  const { config, log } = setup({ REQUEST_LOG_MAX: "0" });
  const obs = createObservability(flaky, config, log);
  try {
    // Enough distinct models for more sums than one commit takes.
    for (let i = 0; i < 80; i++) obs.recorder.record(record({ requestedModel: `model-${i}` }));
    await obs.flush();
    await obs.flush();
    assert.ok(commits > 2, "the flush was split and retried");
    const rows = await obs.usage.query("hour", 0, Date.now() + 3_600_000);
    const sum = (dim: string) =>
      rows.filter((r) => r.dimension === dim).reduce((a, r) => a + (r.metrics.requests ?? 0), 0);
    assert.equal(sum("all"), 80);
    assert.equal(sum("upstream:main"), 80);
    for (let i = 0; i < 80; i++) assert.equal(sum(`model:model-${i}`), 1, `model-${i}`);
  } finally {
    obs.close();
    kv.close();
  }
});

Deno.test("secrets in any field are masked in the stored entries, with or without bodies", async () => {
  const kv = await Deno.openKv(":memory:");
  const { config, log } = setup({ ENABLE_REQUEST_LOGS: "true" });
  const known = 'upstream-key-"quoted"-0123456789';
  const stranger = "sk-proj-StrangerKey0123456789abcdef";
  log.addSecret(known);
  const obs = createObservability(kv, config, log);
  try {
    const leaky = {
      requestedModel: `claude-${known}`,
      upstreamModel: `gpt-${stranger}`,
      errorType: "api_error",
      errorMessage: `upstream said: invalid key ${known} (${stranger})`,
      attempts: [{
        upstream: "main",
        keyId: "k1",
        key: "sk-…0001",
        outcome: "failed" as const,
        status: 401,
        reason: `Authorization: Bearer ${stranger} refused; ${known}`,
      }],
    };
    obs.recorder.record(record({ id: "req_small", ...leaky }));
    obs.recorder.record(record({ id: "req_bodies", ...leaky, requestBody: `{"k":"${stranger}"}` }));
    await obs.flush();
    let stored = "";
    for await (const e of kv.list({ prefix: ["request_log"] })) stored += JSON.stringify(e.value);
    assert.ok(stored.includes("req_small") && stored.includes("req_bodies"), stored);
    for (const secret of [known, JSON.stringify(known).slice(1, -1), stranger]) {
      assert.equal(stored.includes(secret), false, `${secret} in ${stored}`);
    }
    assert.ok(stored.includes("[REDACTED]"));
    const small = (await obs.requestLog.get("req_small"))!;
    assert.equal(small.model, "claude-[REDACTED]");
    assert.equal(small.upstreamModel, "gpt-sk-[REDACTED]");
  } finally {
    obs.close();
    kv.close();
  }
});

Deno.test("a request the proxy refused itself gets its log line, and no request-log entry", async () => {
  const kv = await Deno.openKv(":memory:");
  const { config, log, lines } = setup();
  const obs = createObservability(kv, config, log);
  try {
    obs.recorder.record(record({
      status: 401,
      requestedModel: "",
      upstream: undefined,
      attempts: [],
      usage: undefined,
      errorType: "authentication_error",
      errorMessage: "Invalid API key",
      refused: true,
    }));
    await obs.flush();
    const line = lines.find((l) => l.includes("/v1/messages 401"));
    assert.ok(line, `no line for the refusal in:\n${lines.join("\n")}`);
    assert.match(line, /WARN/);
    assert.match(line, /error="Invalid API key"/);
    assert.doesNotMatch(line, /model=/, "no empty model field");
    assert.equal(await entries(kv), 0);
  } finally {
    obs.close();
    kv.close();
  }
});
