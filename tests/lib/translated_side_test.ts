// The translating side of a stream: what it sends when, and which failures another key may answer.
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { startFakeGemini } from "../fakes/gemini_upstream.ts";
import { openaiChunk, startFakeOpenAI } from "../fakes/openai_upstream.ts";
import { parsePrometheus, sampleSum } from "../helpers/prometheus.ts";
import { ACCESS_KEY, startTestServer } from "../helpers/server.ts";
import { parseSse } from "../helpers/sse.ts";
import type { MessagesRequest } from "../../lib/anthropic.ts";
import { providerFor } from "../../lib/providers/registry.ts";
import type { CallContext } from "../../lib/providers/types.ts";
import type { MessagesCall } from "../../lib/proxy.ts";
import type { RequestRecord } from "../../lib/request_record.ts";
import { COMPLETE, type Ctrl, ResponseCapture, SENT } from "../../lib/stream_side.ts";
import { TranslatedSide } from "../../lib/translated_side.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const chunk = (delta: unknown, finish: string | null = null) =>
  `data: ${
    JSON.stringify({
      id: "c1",
      object: "chat.completion.chunk",
      model: "gpt",
      choices: [{ index: 0, delta, finish_reason: finish }],
    })
  }\n\n`;

function setup(capture?: ResponseCapture) {
  const body = {
    model: "claude-x",
    max_tokens: 10,
    messages: [{ role: "user", content: "hi" }],
  } as MessagesRequest;
  const ctx: CallContext = {
    upstream: { name: "u", baseUrl: "http://127.0.0.1:1", serviceType: "openai", apiKeys: ["k"] },
    model: "gpt",
    requestedModel: "claude-x",
    apiKey: "k",
    stream: true,
    clientHeaders: new Headers(),
  };
  const call = { body, raw: JSON.stringify(body), requestId: "req_1" } as MessagesCall;
  const side = new TranslatedSide(providerFor("openai")!, ctx, call, (t) => t, capture);
  const sent: string[] = [];
  const ctrl = {
    enqueue: (b: Uint8Array) => void sent.push(new TextDecoder().decode(b)),
  } as unknown as Ctrl;
  return { side, sent, ctrl };
}

Deno.test("the hold ends with the first content, and the answer is whole at its stop", () => {
  const capture = new ResponseCapture(100_000);
  const { side, sent, ctrl } = setup(capture);
  assert.equal(side.hold(bytes(chunk({ role: "assistant", content: "" }))), false);
  assert.equal(side.hold(bytes(chunk({ content: "Hel" }))), true);
  assert.equal(side.start(ctrl), false);
  assert.match(sent.join(""), /message_start[\s\S]*content_block_start[\s\S]*"Hel"/);
  assert.equal(side.relay(ctrl, bytes(chunk({ content: "lo" }))), SENT);
  const stop = chunk({}, "stop");
  assert.equal(side.relay(ctrl, bytes(stop.slice(0, 20))), 0, "half an event sends nothing");
  side.relay(ctrl, bytes(stop.slice(20)));
  assert.equal(side.relay(ctrl, bytes("data: [DONE]\n\n")) & COMPLETE, COMPLETE);
  const all = sent.join("");
  assert.match(all, /"stop_reason":"end_turn"[\s\S]*message_stop/);
  assert.equal(capture.text, all, "the request log keeps what the client got");
  const rec = {} as RequestRecord;
  side.record(rec);
  assert.equal(rec.stopReason, "end_turn");
});

Deno.test("an upstream error before any content is one another key may answer", () => {
  const { side } = setup();
  const began = side.hold(
    bytes(`data: ${JSON.stringify({ error: { message: "boom", type: "server_error" } })}\n\n`),
  );
  assert.equal(began, true, "the error ends the hold");
  assert.equal(side.retryable()?.message, "boom");
});

Deno.test("an error after content is not retried: it ends the answer the client has", () => {
  const { side, sent, ctrl } = setup();
  side.hold(bytes(chunk({ content: "Hel" })));
  side.start(ctrl);
  const relayed = side.relay(
    ctrl,
    bytes(`data: ${JSON.stringify({ error: { message: "boom", type: "server_error" } })}\n\n`),
  );
  assert.equal(relayed, SENT | COMPLETE);
  assert.equal(side.retryable(), undefined);
  assert.match(sent.join(""), /event: error/);
  assert.ok(side.failure());
});

Deno.test("a translated stream cut mid-way counts the output it sent, in the request log and /metrics", async () => {
  const fake = await startFakeOpenAI();
  const server = await startTestServer({
    config: {
      upstream: [{
        name: "oai",
        baseUrl: fake.url,
        serviceType: "openai",
        apiKeys: ["sk-translated-side-key-000001"],
      }],
    },
  });
  const words = Array.from({ length: 40 }, (_, i) => openaiChunk({ content: `word${i} ` }));
  try {
    const client = new Anthropic({ apiKey: ACCESS_KEY, baseURL: server.url, maxRetries: 0 });
    const body = {
      model: "gpt-x",
      max_tokens: 64,
      messages: [{ role: "user" as const, content: "hi" }],
    };
    // The upstream breaks after 16 words (102 characters): the client has them and an error event.
    fake.enqueue({ resetAfterChunks: 17, sse: [openaiChunk({ role: "assistant" }), ...words] });
    const broken = client.messages.stream(body);
    let text = "";
    broken.on("text", (t) => text += t);
    await assert.rejects(broken.finalMessage());
    assert.equal(text.length, 102);
    // The client leaves after a few words.
    fake.enqueue({ sse: [openaiChunk({ role: "assistant" }), ...words], delayMs: 15 });
    const leaving = client.messages.stream(body);
    let seen = 0;
    for await (const ev of leaving) if (ev.type === "content_block_delta" && ++seen === 5) break;
    leaving.abort();
    while (server.services.inFlight.count > 0) await new Promise((r) => setTimeout(r, 5));
    await server.services.observability.flush();

    const entries = (await server.services.observability.requestLog.list()).items;
    const [left, cut] = entries;
    assert.equal(left.status, 499);
    assert.ok(left.tokens!.output >= 8 && left.tokens!.output < 100, `${left.tokens!.output}`);
    assert.equal(cut.tokens!.output, 26);
    const metrics = parsePrometheus(await (await fetch(`${server.url}/metrics`)).text());
    assert.equal(
      sampleSum(metrics, "claude_proxy_tokens_total", { type: "output" }),
      left.tokens!.output + 26,
    );
  } finally {
    await server.close();
    await fake.close();
  }
});

Deno.test("Claude Code's context meter: a translated stream opens with an estimate of its input and ends with the upstream's count, on every translated kind", async () => {
  const prompt = "Summarise the design notes below in one line.\n" +
    "The proxy keeps a pool. ".repeat(400);
  const kinds = [
    { serviceType: "openai", start: () => startFakeOpenAI() },
    { serviceType: "custom", start: () => startFakeOpenAI({ strictTemplate: true }) },
    { serviceType: "gemini", start: () => startFakeGemini() },
  ] as const;
  for (const kind of kinds) {
    const fake = await kind.start();
    const server = await startTestServer({
      config: {
        upstream: [{
          name: "up",
          baseUrl: fake.url,
          serviceType: kind.serviceType,
          apiKeys: ["sk-context-meter-key-0000001"],
          models: { default: kind.serviceType === "gemini" ? "gemini-2.5-flash" : "gpt-4o" },
        }],
      },
    });
    try {
      const res = await fetch(`${server.url}/v1/messages?beta=true`, {
        method: "POST",
        headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
        body: JSON.stringify({
          model: "claude-sonnet-4-5",
          max_tokens: 64,
          stream: true,
          system: [{ type: "text", text: "Be brief." }],
          messages: [{ role: "user", content: prompt }],
        }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      const events = parseSse(await res.text());
      const start = events[0].data.message.usage.input_tokens;
      const end = events.find((e) => e.event === "message_delta")!.data.usage.input_tokens;
      const sent = fake.requests[0].body;
      // Each fake counts a quarter token per character of what it was sent, as the real APIs roughly do.
      const counted = Math.ceil(
        JSON.stringify(kind.serviceType === "gemini" ? sent : sent.messages).length / 4,
      );
      const said = `${kind.serviceType}: message_start ${start}, message_delta ${end}`;
      assert.equal(end, counted, said);
      // A meter at 0 until the end, or a placeholder, never triggers auto-compact mid-answer.
      assert.ok(start >= counted / 2 && start <= counted * 2, said);
    } finally {
      await server.close();
      await fake.close();
    }
  }
});

Deno.test("a stream line that never ends is an upstream fault, not memory held without end", () => {
  const { side, sent } = setup();
  // Before the answer began: another key may answer.
  assert.equal(side.hold(bytes("data: " + "x".repeat(1 << 20))), false);
  const piece = bytes("x".repeat(4 << 20));
  let begun = false;
  for (let i = 0; i < 17 && !begun; i++) begun = side.hold(piece);
  assert.equal(begun, true, "the hold ends with the fault");
  assert.match(side.retryable()!.message, /stream line longer than 64 M characters/);

  // After it began: the answer ends with an error event.
  const later = setup();
  later.side.hold(bytes(chunk({ content: "Hi" })));
  later.side.start(later.ctrl);
  let relayed = 0;
  for (let i = 0; i < 17 && !(relayed & COMPLETE); i++) {
    relayed = later.side.relay(later.ctrl, i ? piece : bytes("data: {"));
  }
  assert.ok(relayed & COMPLETE);
  assert.match(later.sent.join(""), /event: error\ndata: .*stream line longer than 64 M/);
  assert.equal(sent.length, 0);
});
