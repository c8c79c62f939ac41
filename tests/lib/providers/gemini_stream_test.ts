import assert from "node:assert/strict";
import { geminiProvider } from "../../../lib/providers/gemini.ts";
import { parseToolId, SIGNATURE_PREFIX } from "../../../lib/providers/gemini_thought_signatures.ts";
import { AnthropicStreamWriter } from "../../../lib/providers/stream_writer.ts";
import { createSseDecoder } from "../../../lib/sse.ts";
import {
  callPart,
  chunk,
  errorBody,
  rateLimitBody,
  sseEvent,
  textPart,
  usageMetadata,
} from "../../fakes/gemini_upstream.ts";
import {
  type Any,
  build,
  clientBlocks,
  ctx,
  fixture,
  GROUNDING,
  parseFrames,
  SIGS,
  stream,
  streamTo,
  summary,
  WEB_SEARCH_TOOL,
} from "../../helpers/gemini_calls.ts";

Deno.test("stream: plain text", () => {
  const events = stream(fixture("text_stream.sse"));
  assert.deepEqual(summary(events), [
    "message_start",
    "ping",
    "start 0 text",
    "text_delta 0 Hello",
    "text_delta 0  there, how can",
    "text_delta 0  I help?",
    "stop 0",
    "message_delta end_turn",
    "message_stop",
  ]);
  assert.deepEqual(events.at(-2)!.data.usage, {
    input_tokens: 12,
    output_tokens: 7,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
    output_tokens_details: { thinking_tokens: 0 },
    server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
  });
});

Deno.test("stream: without usage metadata the output is estimated from the text, not 0", () => {
  const text = "An answer of some sixty characters, streamed without usage.";
  const events = stream(
    `data: ${JSON.stringify(chunk([{ text }], { finishReason: "STOP" }))}\r\n\r\n`,
  );
  const usage = events.at(-2)!.data.usage;
  assert.equal(usage.output_tokens, Math.ceil(text.length / 4));
});

Deno.test("stream: thoughts, then text; the answer ends on its text block", () => {
  const c = ctx({ model: "gemini-3-pro-preview" });
  build({ thinking: { type: "adaptive" }, messages: [{ role: "user", content: "hi" }] }, c);
  const events = stream(fixture("thinking_text.sse"), c);
  assert.deepEqual(summary(events), [
    "message_start",
    "ping",
    "start 0 thinking",
    "thinking_delta 0 **Planning the reply**\n\nThe user greets me.",
    "thinking_delta 0  I will greet back.",
    "signature 0",
    "stop 0",
    "start 1 text",
    "text_delta 1 Hi! What are we",
    "text_delta 1  building today?",
    "stop 1",
    "message_delta end_turn",
    "message_stop",
  ]);
  const blocks = clientBlocks(events);
  assert.ok(blocks[0].signature.startsWith(SIGNATURE_PREFIX));
  // Clients (Claude Code's -p result) read the last block as the answer: it must be the text.
  assert.equal(blocks.at(-1).type, "text");
  // prompt 5400 of which 4096 cached; output = candidates + thoughts.
  assert.deepEqual(events.at(-2)!.data.usage, {
    input_tokens: 1304,
    output_tokens: 70,
    cache_read_input_tokens: 4096,
    cache_creation_input_tokens: 0,
    output_tokens_details: { thinking_tokens: 61 },
    server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
  });
});

Deno.test("stream: parallel calls arrive whole, each its own tool_use with a unique id", () => {
  const events = stream(fixture("parallel_calls.sse"));
  assert.deepEqual(summary(events), [
    "message_start",
    "ping",
    "start 0 thinking",
    "thinking_delta 0 **Checking the files**\n\nI need to read two files.",
    "signature 0",
    "stop 0",
    "start 1 text",
    "text_delta 1 Let me read both files.",
    "stop 1",
    "start 2 tool_use Read",
    'input_json_delta 2 {"file_path":"/tmp/a.txt"}',
    "stop 2",
    "start 3 tool_use Read",
    'input_json_delta 3 {"file_path":"/tmp/b.txt","limit":20}',
    "stop 3",
    "message_delta tool_use",
    "message_stop",
  ]);
  const blocks = clientBlocks(events);
  const [a, b] = [blocks[2].id, blocks[3].id];
  assert.notEqual(a, b);
  for (const id of [a, b]) assert.match(id, /^[a-zA-Z0-9_-]+$/);
  assert.equal(parseToolId(a)?.signature, SIGS.S2, "the first call's signature is in its id");
  assert.equal(parseToolId(b)?.signature, undefined);
  assert.equal(blocks[0].signature, `${SIGNATURE_PREFIX}{}`, "a thinking block is always signed");
});

Deno.test("stream: an error chunk mid-stream ends with an error event, the block left open", () => {
  const c = ctx();
  const writer = new AnthropicStreamWriter({ id: "m", model: "x", inputTokens: 0 });
  const translator = geminiProvider.createStreamTranslator(c, writer);
  const decoder = createSseDecoder((ev) => translator.push(ev));
  decoder.feed(new TextEncoder().encode(fixture("midstream_error.sse")));
  decoder.flush();
  translator.end();
  assert.deepEqual(summary(parseFrames(writer.take())), [
    "message_start",
    "ping",
    "start 0 text",
    "text_delta 0 Working on",
    "text_delta 0  it",
    "error overloaded_error: The model is overloaded. Please try again later.",
  ]);
  assert.equal(writer.failure?.keyFault, "transient");
});

Deno.test("stream: an error Gemini writes without data: before any content fails over like an HTTP error", () => {
  const cases = [
    [rateLimitBody("31s"), "rate_limit_error", "rate_limit", 31_000],
    [errorBody(503, "UNAVAILABLE", "The model is overloaded."), "overloaded_error", "transient"],
    [errorBody(400, "INVALID_ARGUMENT", "Bad schema."), "invalid_request_error", undefined],
  ] as const;
  for (const [body, type, keyFault, retryAfterMs] of cases) {
    // Compact or pretty-printed, cut anywhere: the SDK looks at every raw chunk for it.
    const text = JSON.stringify(body, null, 2);
    for (const pieces of [[JSON.stringify(body)], [text.slice(0, 9), text.slice(9)]]) {
      const writer = new AnthropicStreamWriter({ id: "m", model: "x", inputTokens: 0 });
      const events = streamTo(writer, pieces);
      assert.equal(writer.contentStarted, false);
      assert.equal(writer.failure?.type, type);
      assert.equal(writer.failure?.keyFault, keyFault);
      assert.equal(writer.failure?.retryAfterMs, retryAfterMs);
      assert.equal(events.at(-1)!.data.error.type, type);
    }
  }
});

Deno.test("stream: after partial text, an error without data: ends the stream with its own type", () => {
  const writer = new AnthropicStreamWriter({ id: "m", model: "x", inputTokens: 0 });
  const sse = `data:${JSON.stringify(chunk([textPart("Partial ans")]))}\r\n\r\n` +
    JSON.stringify(rateLimitBody("31s"));
  assert.deepEqual(summary(streamTo(writer, sse)), [
    "message_start",
    "ping",
    "start 0 text",
    "text_delta 0 Partial ans",
    "error rate_limit_error: You exceeded your current quota, please check your plan and billing details.",
  ]);
  assert.equal(writer.failure?.retryAfterMs, 31_000);
});

Deno.test("stream: a body that ends without a finish reason is an error", () => {
  const cut = summary(stream(fixture("cut_stream.sse")));
  assert.ok(cut.at(-2)!.startsWith("text_delta 0"), cut.at(-2));
  assert.equal(cut.at(-1), "error api_error: upstream stream ended unexpectedly");
  assert.deepEqual(summary(stream("")), [
    "message_start",
    "ping",
    "error api_error: upstream stream ended unexpectedly",
  ]);
});

Deno.test("web search: streamed grounding is told after the text, and counted in the usage", () => {
  const c = ctx();
  geminiProvider.buildRequest(
    {
      model: "m",
      max_tokens: 100,
      messages: [{ role: "user", content: "Who won?" }],
      tools: [WEB_SEARCH_TOOL],
    } as Any,
    c,
    "",
  );
  const last = JSON.parse(
    sseEvent(chunk([textPart(" against England.")], {
      finishReason: "STOP",
      usage: usageMetadata(20, 9),
    })).slice(6),
  );
  last.candidates[0].groundingMetadata = GROUNDING;
  const events = stream(sseEvent(chunk([textPart("Spain won Euro 2024")])) + sseEvent(last), c);
  assert.deepEqual(summary(events), [
    "message_start",
    "ping",
    "start 0 text",
    "text_delta 0 Spain won Euro 2024",
    "text_delta 0  against England.",
    "stop 0",
    "start 1 server_tool_use",
    'input_json_delta 1 {"query":"who won euro 2024"}',
    "stop 1",
    "start 2 web_search_tool_result",
    "stop 2",
    "message_delta end_turn",
    "message_stop",
  ]);
  const result = events.find((e) => e.data.content_block?.type === "web_search_tool_result")!;
  assert.equal(result.data.content_block.content.length, 2);
  assert.deepEqual(events.at(-2)!.data.usage.server_tool_use, {
    web_search_requests: 1,
    web_fetch_requests: 0,
  });
});

Deno.test("one call at a time (disable_parallel_tool_use): Gemini's calls after the first are left out, streamed or not", () => {
  const tools = ["get_weather", "get_time"].map((name) => ({
    name,
    input_schema: { type: "object" as const, properties: {} },
  }));
  for (const single of [true, false]) {
    const c = ctx({ stream: true });
    build({
      tools,
      tool_choice: { type: "any", disable_parallel_tool_use: single },
      messages: [{ role: "user", content: "weather and time?" }],
    }, c);
    const answer = chunk([callPart("get_weather", {}), callPart("get_time", {})], {
      finishReason: "STOP",
      usage: usageMetadata(5, 2),
    });
    const starts = summary(stream(sseEvent(answer), c)).filter((s) =>
      /^start \d+ tool_use/.test(s)
    );
    assert.equal(starts.length, single ? 1 : 2, `streamed, single=${single}`);
    const whole = geminiProvider.parseResponse({ candidates: answer.candidates }, c);
    const calls = whole.content.filter((b) => b.type === "tool_use");
    assert.equal(calls.length, single ? 1 : 2, `whole, single=${single}`);
    assert.equal((calls[0] as { name: string }).name, "get_weather");
    assert.equal(whole.stop_reason, "tool_use");
  }
});
