// What the proxy reads out of a passed-through Anthropic answer, seen where operators read it:
// /metrics and the usage figures, beside what the official SDK makes of the same stream.
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { startFakeAnthropic } from "../fakes/anthropic_upstream.ts";
import { parsePrometheus, sampleValue } from "../helpers/prometheus.ts";
import { ACCESS_KEY, startTestServer } from "../helpers/server.ts";
import { buildUsageReport } from "../../lib/observability/usage_report.ts";
import {
  holdsMessageStart,
  messageWithClientModel,
  withClientModel,
} from "../../lib/anthropic_answer.ts";

const frame = (event: string, data: unknown) =>
  `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

Deno.test("a passthrough stream whose message_delta leaves input and cache counts null is counted as the SDK reads it", async () => {
  const fake = await startFakeAnthropic();
  const server = await startTestServer({
    config: {
      upstream: [{
        name: "ant",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: ["sk-ant-answer-test-key-0001"],
      }],
    },
  });
  try {
    // The API types these counts `number | null` in message_delta: null means "as before".
    fake.enqueue({
      sse: [
        frame("message_start", {
          type: "message_start",
          message: {
            id: "msg_nulls",
            type: "message",
            role: "assistant",
            model: "claude-test",
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: {
              input_tokens: 40,
              cache_creation_input_tokens: 20,
              cache_read_input_tokens: 30,
              output_tokens: 1,
            },
          },
        }),
        frame("content_block_start", {
          type: "content_block_start",
          index: 0,
          content_block: { type: "text", text: "" },
        }),
        frame("content_block_delta", {
          type: "content_block_delta",
          index: 0,
          delta: { type: "text_delta", text: "hello" },
        }),
        frame("content_block_stop", { type: "content_block_stop", index: 0 }),
        frame("message_delta", {
          type: "message_delta",
          delta: { stop_reason: "end_turn", stop_sequence: null },
          usage: {
            input_tokens: null,
            cache_creation_input_tokens: null,
            cache_read_input_tokens: null,
            output_tokens: 7,
          },
        }),
        frame("message_stop", { type: "message_stop" }),
      ],
    });
    const client = new Anthropic({ apiKey: ACCESS_KEY, baseURL: server.url, maxRetries: 0 });
    const message = await client.messages.stream({
      model: "claude-test",
      max_tokens: 64,
      messages: [{ role: "user", content: "hi" }],
    }).finalMessage();
    assert.equal(message.usage.input_tokens, 40);
    assert.equal(message.usage.output_tokens, 7);

    const metrics = parsePrometheus(await (await fetch(`${server.url}/metrics`)).text());
    const tokens = (type: string) =>
      sampleValue(metrics, "claude_proxy_tokens_total", {
        upstream: "ant",
        model: "claude-test",
        type,
      });
    assert.deepEqual(
      ["input", "output", "cache_read", "cache_creation"].map(tokens),
      [40, 7, 30, 20],
    );
    await server.services.observability.flush();
    const report = await buildUsageReport(server.services.observability.usage, Date.now());
    assert.deepEqual(
      [
        report.total.inputTokens,
        report.total.outputTokens,
        report.total.cacheReadTokens,
        report.total.cacheCreationTokens,
      ],
      [40, 7, 30, 20],
    );
  } finally {
    await server.close();
    await fake.close();
  }
});

Deno.test("client model: the first model member is renamed in the bytes, every other byte kept", () => {
  const enc = new TextEncoder();
  const head = enc.encode(
    'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model" : "up\\"stream","content":[]}}\n\n',
  );
  const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...head, 0xff, 0xfe]);
  const out = withClientModel(bytes, "claude-sonnet-5")!;
  assert.deepEqual([...out.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  assert.deepEqual([...out.subarray(-2)], [0xff, 0xfe]);
  const text = new TextDecoder().decode(out.subarray(3, -2));
  assert.equal(
    text,
    'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model" : "claude-sonnet-5","content":[]}}\n\n',
  );
  // No model member, or one cut off: nothing to rename (a relay's ping before message_start).
  assert.equal(withClientModel(enc.encode('data: {"type":"ping"}\n\n'), "x"), undefined);
  assert.equal(withClientModel(enc.encode('data: {"model":"unfinished'), "x"), undefined);
});

Deno.test("client model: a whole answer's top-level model is renamed, nothing else touched", () => {
  const text = '{\n  "content": [{"type": "tool_use", "input": {"model": "inner"}}],\n' +
    '  "stop_reason": "model",\n  "model" : "up\\"stream",\n  "usage": {"output_tokens": 12345678901234567890},\n  "note": "caf\\u00e9"\n}';
  const out = messageWithClientModel(text, "claude-sonnet-5");
  assert.equal(out, text.replace('"model" : "up\\"stream"', '"model" : "claude-sonnet-5"'));
  assert.equal(JSON.parse(out).content[0].input.model, "inner");
  assert.equal(messageWithClientModel('{"content": []}', "x"), '{"content": []}');
});

Deno.test("client model: only message_start's own line is looked in; a comment naming it is no event", () => {
  const enc = new TextEncoder();
  // A message_start that names no model, and a tool's input after it in the same read.
  const noModel = enc.encode(
    'event: message_start\ndata: {"type":"message_start","message":{"id":"m","content":[]}}\n\n' +
      'event: content_block_start\ndata: {"type":"content_block_start","index":0,' +
      '"content_block":{"type":"tool_use","id":"t","name":"Task","input":{"model":"inner"}}}\n\n',
  );
  assert.equal(withClientModel(noModel, "x"), undefined);
  assert.ok(holdsMessageStart(noModel));
  const comment = enc.encode(": waiting for message_start\n\n");
  assert.equal(holdsMessageStart(comment), false);
  assert.equal(withClientModel(comment, "x"), undefined);
  const after = enc.encode(
    ': waiting for message_start\n\nevent: message_start\ndata: {"message":{"model":"up"},"type":"message_start"}\n\n',
  );
  assert.match(new TextDecoder().decode(withClientModel(after, "mine")), /"model":"mine"/);
});
