import assert from "node:assert/strict";
import { createLogger } from "../../lib/log.ts";
import { logLineRecorder } from "../../lib/request_log_line.ts";

Deno.test("request log line: a client's megabyte model name or an upstream's long error makes no megabyte line", () => {
  const lines: string[] = [];
  const log = createLogger({ logFormat: "text", logLevel: "info" }, (line) => lines.push(line));
  const model = "m".repeat(1_000_000);
  logLineRecorder(log).record({
    id: "req_1",
    time: 0,
    path: "/v1/messages",
    stream: false,
    requestedModel: model,
    upstreamModel: model,
    attempts: [],
    fallbacks: [],
    status: 400,
    errorMessage: `model ${model} not found`,
    totalMs: 3,
  });
  assert.equal(lines.length, 1);
  assert.ok(lines[0].length < 2_000, `${lines[0].length} characters`);
  assert.match(lines[0], /WARN {2}\/v1\/messages 400 requestId=req_1/);
  assert.match(lines[0], / model=m{200} /);
});

Deno.test("request log line: a stream that broke after its 200 went out is a warning, not info", () => {
  const lines: string[] = [];
  const log = createLogger({ logFormat: "text", logLevel: "info" }, (line) => lines.push(line));
  const rec = {
    id: "req_2",
    time: 0,
    path: "/v1/messages",
    stream: true,
    requestedModel: "m",
    attempts: [],
    fallbacks: [],
    status: 200,
    totalMs: 3,
  };
  logLineRecorder(log).record(rec);
  logLineRecorder(log).record({ ...rec, errorMessage: "Upstream stream broke: connection reset" });
  assert.match(lines[0], /INFO {2}\/v1\/messages 200/);
  assert.match(lines[1], /WARN {2}\/v1\/messages 200 .*error="?Upstream stream broke/);
});
