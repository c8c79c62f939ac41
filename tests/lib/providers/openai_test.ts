// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import type { MessagesRequest } from "../../../lib/anthropic.ts";
import { ProxyError } from "../../../lib/errors.ts";
import { openaiProvider } from "../../../lib/providers/openai.ts";
import { OPENAI_THINKING_SIGNATURE } from "../../../lib/providers/openai_answer_fields.ts";
import { turnsOf } from "../../../lib/providers/openai_messages.ts";
import { openaiToolName } from "../../../lib/providers/openai_names.ts";
import { chatCompletionsUrl } from "../../../lib/providers/openai_server.ts";
import { AnthropicStreamWriter } from "../../../lib/providers/stream_writer.ts";
import { UpstreamError } from "../../../lib/providers/upstream_error.ts";
import type { CallContext, UpstreamConfig } from "../../../lib/providers/types.ts";
import { createSseDecoder } from "../../../lib/sse.ts";
import {
  mistralExtraForbidden,
  OPENAI_DONE,
  openaiChunk,
  openaiCompletion,
  openaiUsage,
  startFakeOpenAI,
  validateChatRequest,
} from "../../fakes/openai_upstream.ts";
import type { CompatRules } from "../../fakes/openai_upstream.ts";

import { claudeCodeFixtures, HAVE_CLAUDE_CODE_FIXTURES } from "../../helpers/fixtures.ts";
import { upstreamJson } from "../../helpers/upstream_body.ts";
import { parseBody, sharedTools } from "../../../lib/parse_body.ts";

const FIXTURES = new URL("../../fixtures/openai/", import.meta.url);
const LONG_TOOL = "mcp__github-enterprise-server__search_code_in_repository_with_filters_v2";
const DIRECT = { type: "direct" };

function context(
  upstream: Partial<UpstreamConfig> = {},
  stream = true,
): CallContext {
  return {
    upstream: {
      name: "test",
      baseUrl: "https://api.openai.com",
      serviceType: "openai",
      apiKeys: ["sk-test"],
      ...upstream,
    },
    model: "gpt-4.1",
    requestedModel: "claude-sonnet-4-5",
    apiKey: "sk-test",
    stream,
    clientHeaders: new Headers(),
  };
}

function request(extra: Partial<MessagesRequest> = {}): MessagesRequest {
  return {
    model: "claude-sonnet-4-5",
    max_tokens: 1024,
    messages: [{ role: "user", content: "hi" }],
    ...extra,
  };
}

function build(body: MessagesRequest, ctx = context()): any {
  const req = openaiProvider.buildRequest(body, ctx, JSON.stringify(body));
  return upstreamJson(req);
}

function fixture(name: string): string {
  return Deno.readTextFileSync(new URL(name, FIXTURES));
}

// ---------------------------------------------------------------------------------------------
// Stream helpers: run upstream SSE through the translator, parse the Anthropic SSE back, and check
// the invariants every client relies on.

interface Frame {
  event: string;
  data: any;
}

function parseFrames(text: string): Frame[] {
  return text.split("\n\n").filter(Boolean).map((frame) => {
    const [eventLine, dataLine] = frame.split("\n");
    assert.ok(eventLine.startsWith("event: "), `frame without event line: ${frame}`);
    return { event: eventLine.slice(7), data: JSON.parse(dataLine.slice(6)) };
  });
}

function translate(sse: string, ctx = context()) {
  const writer = new AnthropicStreamWriter({
    id: "msg_test",
    model: ctx.requestedModel,
    inputTokens: 0,
  });
  const translator = openaiProvider.createStreamTranslator(ctx, writer);
  const decoder = createSseDecoder((event) => translator.push(event));
  const bytes = new TextEncoder().encode(sse);
  // Odd-sized slices split events and UTF-8 sequences, as network reads do.
  for (let i = 0; i < bytes.length; i += 17) decoder.feed(bytes.subarray(i, i + 17));
  decoder.flush();
  translator.end();
  const frames = parseFrames(writer.take());
  return { frames, writer, ...checkStream(frames) };
}

type Block =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "tool_use"; id: string; name: string; input: unknown; deltas: number };

function checkStream(frames: Frame[]) {
  assert.equal(frames[0].event, "message_start");
  const blocks: Block[] = [];
  let open = -1;
  let partial = "";
  let messageDelta: any;
  let error: any;
  frames.slice(1).forEach((f, i) => {
    const last = i === frames.length - 2;
    const block = blocks[open] as any;
    switch (f.event) {
      case "ping":
        break;
      case "content_block_start": {
        assert.equal(open, -1, "a block started while another was open");
        assert.equal(f.data.index, blocks.length, "indices must run 0, 1, 2…");
        open = f.data.index;
        const cb = f.data.content_block;
        if (cb.type === "text") blocks.push({ type: "text", text: "" });
        else if (cb.type === "thinking") {
          blocks.push({ type: "thinking", thinking: "", signature: "" });
        } else {
          assert.equal(cb.type, "tool_use");
          assert.match(cb.id, /^[a-zA-Z0-9_-]+$/);
          assert.ok(cb.name, "tool_use needs a name");
          blocks.push({ type: "tool_use", id: cb.id, name: cb.name, input: undefined, deltas: 0 });
          partial = "";
        }
        break;
      }
      case "content_block_delta": {
        assert.equal(f.data.index, open, "delta for a block that is not open");
        const d = f.data.delta;
        if (d.type === "text_delta") {
          assert.equal(block.type, "text");
          assert.ok(d.text);
          block.text += d.text;
        } else if (d.type === "thinking_delta") {
          assert.equal(block.type, "thinking");
          assert.equal(block.signature, "", "thinking after its signature");
          block.thinking += d.thinking;
        } else if (d.type === "signature_delta") {
          assert.equal(block.type, "thinking");
          block.signature = d.signature;
        } else {
          assert.equal(d.type, "input_json_delta");
          assert.equal(block.type, "tool_use");
          partial += d.partial_json;
          block.deltas++;
        }
        break;
      }
      case "content_block_stop":
        assert.equal(f.data.index, open, "stop for a block that is not open");
        if (block.type === "tool_use") block.input = JSON.parse(partial);
        if (block.type === "thinking") {
          assert.ok(block.signature, "thinking block without signature");
        }
        if (block.type === "text") assert.ok(block.text, "empty text block");
        open = -1;
        break;
      case "message_delta":
        assert.equal(open, -1, "message_delta with a block open");
        messageDelta = f.data;
        break;
      case "message_stop":
        assert.ok(messageDelta, "message_stop without message_delta");
        assert.ok(last, "events after message_stop");
        break;
      case "error":
        assert.ok(last, "events after an error");
        assert.equal(messageDelta, undefined);
        error = f.data.error;
        break;
      default:
        assert.fail(`unexpected event ${f.event}`);
    }
  });
  const end = frames[frames.length - 1].event;
  assert.ok(end === "message_stop" || end === "error", `stream ended with ${end}`);
  return {
    blocks,
    stopReason: messageDelta?.delta.stop_reason,
    stopSequence: messageDelta?.delta.stop_sequence,
    usage: messageDelta?.usage,
    error,
  };
}

function withoutDeltas(blocks: Block[]) {
  return blocks.map((b) => {
    if (b.type !== "tool_use") return b;
    const { deltas: _, ...rest } = b;
    return rest;
  });
}

// ---------------------------------------------------------------------------------------------
// Streams

Deno.test("stream: text answer gives the exact Anthropic event sequence and real usage", () => {
  const r = translate(fixture("text.sse"));
  assert.deepEqual(r.frames.map((f) => f.event), [
    "message_start",
    "ping",
    "content_block_start",
    "content_block_delta",
    "content_block_delta",
    "content_block_delta",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
  ]);
  assert.deepEqual(r.blocks, [{ type: "text", text: "Hello! How can I help you today?" }]);
  assert.equal(r.stopReason, "end_turn");
  assert.equal(r.stopSequence, null);
  // Cached tokens are reported apart from input, as Anthropic does.
  assert.deepEqual(r.usage, {
    input_tokens: 226,
    output_tokens: 9,
    cache_read_input_tokens: 1024,
    cache_creation_input_tokens: 0,
    output_tokens_details: { thinking_tokens: 0 },
    server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
  });
  assert.equal(r.frames[0].data.message.model, "claude-sonnet-4-5");
});

Deno.test("stream: parallel tool calls become separate blocks with arguments forwarded as they arrive", () => {
  const r = translate(fixture("parallel_tools.sse"));
  assert.deepEqual(r.blocks, [
    {
      type: "tool_use",
      id: "call_Qm1vV6rK3b9Zx2LpT8sYw4Nd",
      name: "Read",
      input: { file_path: "/src/main.ts" },
      deltas: 3,
    },
    {
      type: "tool_use",
      id: "call_8HcJtE2uWq5RnA7yGf3kXo1P",
      name: "Bash",
      input: { command: 'ls -la "my dir"', description: "List files" },
      deltas: 3,
    },
  ]);
  assert.equal(r.stopReason, "tool_use");
  assert.equal(r.usage.input_tokens, 3310);
  assert.equal(r.usage.output_tokens, 61);
});

Deno.test("stream: DeepSeek reasoning_content becomes a signed thinking block before text and tool", () => {
  const r = translate(fixture("reasoning_tool.sse"), context({ serviceType: "custom" }));
  assert.deepEqual(withoutDeltas(r.blocks), [
    {
      type: "thinking",
      thinking: "The user wants the date.",
      signature: OPENAI_THINKING_SIGNATURE,
    },
    { type: "text", text: "Let me check." },
    {
      type: "tool_use",
      id: "call_00_pQ7sR2tU4vW6xY8zA1bC3dE5",
      name: "Bash",
      input: { command: "date" },
    },
  ]);
  // The signature is sent just before the thinking block's stop.
  const sigAt = r.frames.findIndex((f) => f.data.delta?.type === "signature_delta");
  assert.equal(r.frames[sigAt + 1].event, "content_block_stop");
  assert.equal(r.frames[sigAt + 1].data.index, 0);
  assert.equal(r.stopReason, "tool_use");
  // Usage arrived on the finish chunk, with DeepSeek's cache-hit count.
  assert.deepEqual(r.usage, {
    input_tokens: 128,
    output_tokens: 120,
    cache_read_input_tokens: 1920,
    cache_creation_input_tokens: 0,
    output_tokens_details: { thinking_tokens: 88 },
    server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
  });
});

Deno.test("stream: OpenRouter `reasoning`, comment lines and `data:` without a space are understood", () => {
  const r = translate(fixture("openrouter_reasoning.sse"), context({ serviceType: "custom" }));
  assert.deepEqual(r.blocks, [
    { type: "thinking", thinking: "Simple greeting.", signature: OPENAI_THINKING_SIGNATURE },
    { type: "text", text: "Hi there!" },
  ]);
  assert.equal(r.stopReason, "end_turn");
  assert.equal(r.usage.input_tokens, 40);
  assert.equal(r.usage.output_tokens, 12);
});

Deno.test("stream: an upstream error object mid-stream ends with an Anthropic error event", () => {
  const r = translate(fixture("error_mid_stream.sse"));
  assert.deepEqual(r.blocks, [{ type: "text", text: "Partial ans" }]);
  assert.deepEqual(r.error, {
    details: null,
    type: "api_error",
    message: "The server had an error while processing your request. Sorry about that!",
  });
  assert.equal(r.frames.some((f) => f.event === "message_stop"), false);
  assert.equal(r.writer.failure?.status, 502);
  assert.equal(r.writer.failure?.keyFault, "transient");
});

Deno.test("stream: `event: error` with a 429 code is a rate limit held against the key", () => {
  const r = translate(fixture("event_error.sse"));
  assert.deepEqual(r.blocks, []);
  assert.equal(r.error.type, "rate_limit_error");
  assert.match(r.error.message, /Rate limit exceeded/);
  assert.equal(r.writer.failure?.status, 429);
  assert.equal(r.writer.failure?.keyFault, "rate_limit");
});

Deno.test("stream: an overloaded error without a code maps to overloaded_error", () => {
  const sse = openaiChunk({ content: "x" }) +
    'data: {"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error"}}\n\n';
  const r = translate(sse);
  assert.equal(r.error.type, "overloaded_error");
  assert.equal(r.writer.failure?.status, 503);
});

Deno.test("stream: tool calls without index (Gemini compat) and finish_reason stop still run the tools", () => {
  const r = translate(fixture("missing_index.sse"), context({ serviceType: "custom" }));
  assert.deepEqual(withoutDeltas(r.blocks), [
    { type: "tool_use", id: "function-call-11781093", name: "Glob", input: { pattern: "**/*.ts" } },
    { type: "tool_use", id: "function-call-11781094", name: "Grep", input: { pattern: "TODO" } },
  ]);
  assert.equal(r.stopReason, "tool_use");
});

Deno.test("stream: Ollama's index 0 on every call with new ids gives one block per call", () => {
  const r = translate(fixture("ollama_index_zero.sse"), context({ serviceType: "custom" }));
  assert.deepEqual(withoutDeltas(r.blocks), [
    { type: "tool_use", id: "call_k2x9f0qe", name: "Read", input: { file_path: "a.txt" } },
    { type: "tool_use", id: "call_m7c1p3zw", name: "Read", input: { file_path: "b.txt" } },
  ]);
  assert.equal(r.stopReason, "tool_use");
});

Deno.test("stream: empty arguments become {} and repeated ids on fragments do not split a call", () => {
  const r = translate(fixture("empty_arguments.sse"), context({ serviceType: "custom" }));
  assert.deepEqual(withoutDeltas(r.blocks), [
    // Kimi's `functions.TaskList:0` is not a valid Anthropic id.
    { type: "tool_use", id: "functions_TaskList_0", name: "TaskList", input: {} },
    { type: "tool_use", id: "functions_Bash_1", name: "Bash", input: { command: "pwd" } },
  ]);
  assert.equal(r.stopReason, "tool_use");
});

Deno.test("stream: arguments before the name and interleaved indices come out whole and in order", () => {
  const r = translate(fixture("interleaved_tools.sse"), context({ serviceType: "custom" }));
  assert.deepEqual(withoutDeltas(r.blocks), [
    { type: "tool_use", id: "chatcmpl-tool-aa11", name: "Read", input: { file_path: "x.ts" } },
    { type: "tool_use", id: "chatcmpl-tool-bb22", name: "Grep", input: { pattern: "foo" } },
  ]);
  assert.equal(r.stopReason, "tool_use");
});

Deno.test("stream: a stream cut without finish_reason or [DONE] ends with an error, not a fake success", () => {
  const r = translate(fixture("cut.sse"));
  assert.deepEqual(r.blocks, [{ type: "text", text: "This answer was cut off" }]);
  assert.deepEqual(r.error, {
    details: null,
    type: "api_error",
    message: "upstream stream ended unexpectedly",
  });
  assert.deepEqual(r.writer.failure, {
    status: 502,
    type: "api_error",
    message: "upstream stream ended unexpectedly",
    keyFault: "transient",
  });
});

Deno.test("stream: finish_reason without [DONE] still ends the message normally", () => {
  const r = translate(openaiChunk({ content: "ok" }) + openaiChunk({}, "stop"));
  assert.deepEqual(r.blocks, [{ type: "text", text: "ok" }]);
  assert.equal(r.stopReason, "end_turn");
  // No usage chunk came: the output count is estimated rather than left at zero.
  assert.ok(r.usage.output_tokens > 0);
});

Deno.test("stream: length maps to max_tokens", () => {
  assert.equal(translate(fixture("length.sse")).stopReason, "max_tokens");
});

Deno.test("stream: an empty answer ends cleanly with no content block", () => {
  const r = translate(
    openaiChunk({ role: "assistant", content: "" }) + openaiChunk({ content: "" }, "stop") +
      OPENAI_DONE,
  );
  assert.deepEqual(r.blocks, []);
  assert.equal(r.stopReason, "end_turn");
});

Deno.test("stream: a matched stop sequence is reported as stop_sequence", () => {
  const ctx = context();
  build(request({ stop_sequences: ["\nUser:"] }), ctx);
  const r = translate(
    openaiChunk({ content: "Done.\nUs" }) + openaiChunk({ content: "er:" }) +
      openaiChunk({}, "stop") +
      OPENAI_DONE,
    ctx,
  );
  assert.equal(r.stopReason, "stop_sequence");
  assert.equal(r.stopSequence, "\nUser:");
});

Deno.test("stream: shortened tool names are mapped back to the client's names", () => {
  const ctx = context();
  build(request({ tools: [{ name: LONG_TOOL, input_schema: { type: "object" } }] }), ctx);
  const r = translate(
    openaiChunk({
      tool_calls: [{
        index: 0,
        id: "call_1",
        type: "function",
        function: { name: openaiToolName(LONG_TOOL), arguments: "{}" },
      }],
    }) + openaiChunk({}, "tool_calls") + OPENAI_DONE,
    ctx,
  );
  assert.equal((r.blocks[0] as any).name, LONG_TOOL);
});

Deno.test("stream: two calls sharing one id still get distinct tool_use ids", () => {
  const call = (index: number, path: string) =>
    openaiChunk({
      tool_calls: [{
        index,
        id: "call_same",
        type: "function",
        function: { name: "Read", arguments: JSON.stringify({ file_path: path }) },
      }],
    });
  const r = translate(call(0, "a") + call(1, "b") + openaiChunk({}, "tool_calls") + OPENAI_DONE);
  assert.equal(r.blocks.length, 2);
  const [a, b] = r.blocks as any[];
  assert.notEqual(a.id, b.id);
  assert.deepEqual([a.input, b.input], [{ file_path: "a" }, { file_path: "b" }]);
});

Deno.test("stream: calls without ids, each whole under index 0 or none, are one block each", () => {
  const whole = (index: number | undefined, path: string) =>
    openaiChunk({
      tool_calls: [{
        ...(index === undefined ? {} : { index }),
        function: { name: "Read", arguments: JSON.stringify({ file_path: path }) },
      }],
    });
  for (const index of [0, undefined]) {
    const r = translate(
      whole(index, "a") + whole(index, "b") + openaiChunk({}, "tool_calls") + OPENAI_DONE,
      context({ serviceType: "custom" }),
    );
    assert.deepEqual(r.blocks.map((b: any) => [b.name, b.input]), [
      ["Read", { file_path: "a" }],
      ["Read", { file_path: "b" }],
    ], `index ${index}`);
    const [a, b] = r.blocks as any[];
    assert.notEqual(a.id, b.id);
    assert.equal(r.stopReason, "tool_use");
  }
});

Deno.test("stream: a name on a fragment without id starts a call only once the last one has its arguments", () => {
  const fragment = (fn: Record<string, string>) => openaiChunk({ tool_calls: [{ function: fn }] });
  const r = translate(
    fragment({ name: "Read", arguments: "" }) +
      fragment({ arguments: '{"file_path":"a"}' }) +
      fragment({ name: "Grep", arguments: "" }) +
      fragment({ arguments: '{"pattern":"x"}' }) +
      // A server that names every fragment of one call.
      fragment({ name: "Bash", arguments: '{"comm' }) +
      fragment({ name: "Bash", arguments: 'and":"ls"}' }) +
      openaiChunk({}, "tool_calls") + OPENAI_DONE,
    context({ serviceType: "custom" }),
  );
  assert.deepEqual(r.blocks.map((b: any) => [b.name, b.input]), [
    ["Read", { file_path: "a" }],
    ["Grep", { pattern: "x" }],
    ["Bash", { command: "ls" }],
  ]);
});

Deno.test("stream: arguments cut by the token limit are closed before the block stops, and nothing runs", () => {
  const r = translate(
    openaiChunk({
      tool_calls: [{
        index: 0,
        id: "call_1",
        type: "function",
        function: { name: "Write", arguments: '{"file_path":"a.ts","content":"const x = [1, 2' },
      }],
    }) + openaiChunk({}, "length") + OPENAI_DONE,
  );
  assert.deepEqual(withoutDeltas(r.blocks), [
    {
      type: "tool_use",
      id: "call_1",
      name: "Write",
      input: { file_path: "a.ts", content: "const x = [1, 2" },
    },
  ]);
  const deltas = r.frames.filter((f) => f.data.delta?.type === "input_json_delta");
  assert.equal(deltas.at(-1)!.data.delta.partial_json, '"}');
  assert.equal(r.stopReason, "max_tokens");
});

Deno.test("stream: a call is made whole when another block closes it; blank arguments are {}", () => {
  const r = translate(
    openaiChunk({
      tool_calls: [{
        index: 0,
        id: "call_1",
        type: "function",
        function: { name: "Bash", arguments: '{"command":"ls' },
      }],
    }) +
      openaiChunk({
        tool_calls: [{
          index: 1,
          id: "call_2",
          type: "function",
          function: { name: "Read", arguments: " " },
        }],
      }) +
      openaiChunk({ content: "done" }) + openaiChunk({}, "tool_calls") + OPENAI_DONE,
  );
  // The second call waited for the first to look whole; it never did, so it comes at the end.
  assert.deepEqual(r.blocks.map((b: any) => b.input ?? b.text), [
    { command: "ls" },
    "done",
    {},
  ]);
  assert.equal(r.stopReason, "tool_use");
});

Deno.test("stream: arguments no suffix can mend do not make the client run the call", () => {
  const ctx = context();
  const writer = new AnthropicStreamWriter({ id: "msg_test", model: "m", inputTokens: 0 });
  const translator = openaiProvider.createStreamTranslator(ctx, writer);
  const decoder = createSseDecoder((event) => translator.push(event));
  decoder.feed(
    new TextEncoder().encode(
      openaiChunk({
        tool_calls: [{
          index: 0,
          id: "call_1",
          type: "function",
          function: { name: "Read", arguments: '{"file_path":"a"}}' },
        }],
      }) + openaiChunk({}, "tool_calls") + OPENAI_DONE,
    ),
  );
  decoder.flush();
  translator.end();
  const frames = parseFrames(writer.take());
  const json = frames.filter((f) => f.data.delta?.type === "input_json_delta")
    .map((f) => f.data.delta.partial_json).join("");
  // What follows the object's end is dropped, so the client can still parse what it got.
  assert.equal(json, '{"file_path":"a"}');
  assert.equal(frames.find((f) => f.event === "message_delta")!.data.delta.stop_reason, "end_turn");
});

// ---------------------------------------------------------------------------------------------
// Non-streaming responses

Deno.test("response: text, tool calls, unparsable arguments and usage", () => {
  const ctx = context({}, false);
  build(request({ tools: [{ name: LONG_TOOL, input_schema: { type: "object" } }] }), ctx);
  const msg = openaiProvider.parseResponse(JSON.parse(fixture("completion_tool_calls.json")), ctx);
  assert.match(msg.id, /^msg_/);
  assert.equal(msg.model, "claude-sonnet-4-5");
  assert.deepEqual(msg.content, [
    { type: "text", text: "I'll look at both files.", citations: null },
    {
      type: "tool_use",
      id: "call_Qm1vV6rK3b9Zx2LpT8sYw4Nd",
      name: "Read",
      input: { file_path: "/src/a.ts" },
      caller: DIRECT,
    },
    {
      type: "tool_use",
      id: "call_8HcJtE2uWq5RnA7yGf3kXo1P",
      name: LONG_TOOL,
      input: { q: "TODO" },
      caller: DIRECT,
    },
    // Cut-off arguments are completed.
    { type: "tool_use", id: "call_Zz9", name: "Bash", input: { command: "ls" }, caller: DIRECT },
  ]);
  assert.equal(msg.stop_reason, "tool_use");
  // Every field Anthropic's usage has, the ones that do not apply as it sends them.
  assert.deepEqual(msg.usage, {
    input_tokens: 1024,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 4096,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: 77,
    output_tokens_details: { thinking_tokens: 0 },
    server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
    service_tier: "standard",
    inference_geo: "not_available",
    speed: "standard",
  });
});

Deno.test("response: DeepSeek reasoning_content comes first as a signed thinking block", () => {
  const msg = openaiProvider.parseResponse(
    JSON.parse(fixture("completion_deepseek_reasoning.json")),
    context({ serviceType: "custom" }, false),
  );
  assert.deepEqual(msg.content, [
    { type: "thinking", thinking: "Six times seven is 42.", signature: OPENAI_THINKING_SIGNATURE },
    { type: "text", text: "The answer is 42.", citations: null },
  ]);
  assert.equal(msg.stop_reason, "end_turn");
  assert.equal(msg.usage.input_tokens, 44);
  assert.equal(msg.usage.cache_read_input_tokens, 256);
});

function completion(message: any, finish: string) {
  return {
    id: "chatcmpl-x",
    object: "chat.completion",
    created: 1,
    model: "gpt-4.1",
    choices: [{ index: 0, message: { role: "assistant", ...message }, finish_reason: finish }],
    usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
  };
}

Deno.test("response: finish reasons map to the stop reasons Claude Code acts on", () => {
  const ctx = context({}, false);
  const parse = (message: any, finish: string) =>
    openaiProvider.parseResponse(completion(message, finish), ctx);
  assert.equal(parse({ content: "a" }, "length").stop_reason, "max_tokens");
  assert.equal(parse({ content: "a" }, "content_filter").stop_reason, "refusal");
  assert.equal(parse({ content: "a" }, "stop").stop_reason, "end_turn");
  // Some servers say "stop" alongside tool calls: the tools must still run.
  const withTool = parse({
    content: null,
    tool_calls: [{ id: "c1", type: "function", function: { name: "Bash", arguments: "" } }],
  }, "stop");
  assert.equal(withTool.stop_reason, "tool_use");
  assert.deepEqual(withTool.content, [
    { type: "tool_use", id: "c1", name: "Bash", input: {}, caller: DIRECT },
  ]);
  const empty = parse({ content: "" }, "stop");
  assert.deepEqual(empty.content, []);
  assert.equal(empty.stop_reason, "end_turn");
  const refusal = parse({ content: null, refusal: "I can't help with that." }, "stop");
  assert.equal(refusal.stop_reason, "refusal");
  assert.deepEqual(refusal.content, [
    { type: "text", text: "I can't help with that.", citations: null },
  ]);
  // A choice without its message is a broken answer (retried), not an empty end_turn.
  const noMessage = { ...completion({}, "stop"), choices: [{ index: 0, message: null }] };
  assert.throws(() => openaiProvider.parseResponse(noMessage, ctx), /without a message/);
  const filtered = {
    ...completion({}, "x"),
    choices: [{ index: 0, finish_reason: "content_filter" }],
  };
  assert.equal(openaiProvider.parseResponse(filtered, ctx).stop_reason, "refusal");
});

Deno.test("response: usage an upstream garbled counts as 0, never negative or text", () => {
  const msg = openaiProvider.parseResponse(
    {
      ...completion({ content: "a" }, "stop"),
      usage: { prompt_tokens: "5", completion_tokens: -3 },
    },
    context({}, false),
  );
  assert.equal(msg.usage.input_tokens, 0);
  assert.equal(msg.usage.output_tokens, 0);
});

Deno.test("response: cut-off arguments are completed, a cut answer never runs its calls", () => {
  const ctx = context({}, false);
  const msg = openaiProvider.parseResponse(
    completion({
      content: null,
      tool_calls: [{
        id: "c1",
        type: "function",
        function: { name: "Write", arguments: '{"file_path":"a.ts","content":"x' },
      }],
    }, "length"),
    ctx,
  );
  assert.deepEqual(msg.content, [{
    type: "tool_use",
    id: "c1",
    name: "Write",
    input: { file_path: "a.ts", content: "x" },
    caller: DIRECT,
  }]);
  assert.equal(msg.stop_reason, "max_tokens");
  // What no suffix can mend is kept, so the client's validation error shows what was sent.
  const broken = openaiProvider.parseResponse(
    completion({
      content: null,
      tool_calls: [{
        id: "c2",
        type: "function",
        function: { name: "Read", arguments: '{"file_path":"a"}{"file_path":"b"}' },
      }],
    }, "tool_calls"),
    ctx,
  );
  assert.deepEqual((broken.content[0] as any).input, {
    _raw: '{"file_path":"a"}{"file_path":"b"}',
  });
});

Deno.test("response: a stop sequence at the end is reported and removed from the text", () => {
  const ctx = context({}, false);
  build(request({ stop_sequences: ["END"] }), ctx);
  const msg = openaiProvider.parseResponse(completion({ content: "All doneEND" }, "stop"), ctx);
  assert.equal(msg.stop_reason, "stop_sequence");
  assert.equal(msg.stop_sequence, "END");
  assert.deepEqual(msg.content, [{ type: "text", text: "All done", citations: null }]);
});

Deno.test("response: an error object in a 200 answer is raised, not turned into an empty message", () => {
  assert.throws(
    () =>
      openaiProvider.parseResponse(
        { error: { message: "upstream overloaded", type: "server_error" } },
        context({}, false),
      ),
    (e) => e instanceof ProxyError && e.status === 503 && e.message === "upstream overloaded",
  );
});

// ---------------------------------------------------------------------------------------------
// Errors

Deno.test("stream: an error object is classified by its code and type words, as an HTTP error would be", () => {
  const failureOf = (error: unknown) => {
    const r = translate(
      openaiChunk({ role: "assistant", content: "" }) + `data: ${JSON.stringify({ error })}\n\n`,
    );
    const f = r.writer.failure!;
    assert.equal(r.error.type, f.type);
    return [f.status, f.type, f.keyFault];
  };
  const contextLength = {
    message: "This model's maximum context length is 128000 tokens.",
    type: "invalid_request_error",
    param: "messages",
    code: "context_length_exceeded",
  };
  // The request's fault: not retried on another key, not held against this one.
  assert.deepEqual(failureOf(contextLength), [400, "invalid_request_error", undefined]);
  assert.deepEqual(
    failureOf({ message: "Invalid 'tools[0].function.name'", type: "invalid_request_error" }),
    [400, "invalid_request_error", undefined],
  );
  assert.deepEqual(
    failureOf({ message: "Rate limit reached", type: "tokens", code: "rate_limit_exceeded" }),
    [429, "rate_limit_error", "rate_limit"],
  );
  assert.deepEqual(
    failureOf({ message: "quota", type: "insufficient_quota", code: "insufficient_quota" }),
    [429, "rate_limit_error", "rate_limit"],
  );
  assert.deepEqual(
    failureOf({ message: "bad key", type: "invalid_request_error", code: "invalid_api_key" }),
    [401, "authentication_error", "auth"],
  );
  assert.deepEqual(
    failureOf({ message: "no", type: "authentication_error" }),
    [401, "authentication_error", "auth"],
  );
  assert.deepEqual(
    failureOf({ message: "no", type: "permission_error" }),
    [403, "permission_error", "auth"],
  );
  assert.deepEqual(
    failureOf({ message: "no such model", code: "model_not_found" }),
    [404, "not_found_error", undefined],
  );
  assert.deepEqual(
    failureOf({ message: "busy", status: "RESOURCE_EXHAUSTED" }),
    [429, "rate_limit_error", "rate_limit"],
  );
  // Still an upstream fault when nothing says otherwise.
  assert.deepEqual(failureOf({ message: "boom", type: "server_error" }), [
    502,
    "api_error",
    "transient",
  ]);
  assert.deepEqual(failureOf("plain text"), [502, "api_error", "transient"]);
});

Deno.test("response: an error object in a 200 answer keeps its fault for the retry loop", () => {
  const raised = (error: unknown) => {
    try {
      openaiProvider.parseResponse({ error }, context({}, false));
    } catch (e) {
      assert.ok(e instanceof UpstreamError);
      return [e.status, e.failure.keyFault];
    }
    assert.fail("no error raised");
  };
  assert.deepEqual(raised({ message: "too long", code: "context_length_exceeded" }), [
    400,
    undefined,
  ]);
  assert.deepEqual(raised({ message: "slow down", code: "rate_limit_exceeded" }), [
    429,
    "rate_limit",
  ]);
  assert.deepEqual(raised({ message: "boom", type: "server_error" }), [502, "transient"]);
});

Deno.test("errors: invalid key is the key's auth fault, even when sent as 400", () => {
  const body = fixture("error_invalid_key.json");
  const f401 = openaiProvider.parseError(401, body, new Headers());
  assert.equal(f401.type, "authentication_error");
  assert.equal(f401.keyFault, "auth");
  const f400 = openaiProvider.parseError(
    400,
    '{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}',
    new Headers(),
  );
  assert.equal(f400.status, 401);
  assert.equal(f400.keyFault, "auth");
});

Deno.test("errors: insufficient_quota cools the key down for an hour unless told otherwise", () => {
  const body = fixture("error_quota.json");
  const f = openaiProvider.parseError(429, body, new Headers());
  assert.equal(f.type, "rate_limit_error");
  assert.equal(f.keyFault, "rate_limit");
  assert.equal(f.retryAfterMs, 3_600_000);
  const told = openaiProvider.parseError(429, body, new Headers({ "retry-after": "20" }));
  assert.equal(told.retryAfterMs, 20_000);
});

Deno.test("errors: rate limit uses the upstream's reset headers", () => {
  const f = openaiProvider.parseError(
    429,
    fixture("error_rate_limit.json"),
    new Headers({ "x-ratelimit-reset-tokens": "2.8s" }),
  );
  assert.equal(f.keyFault, "rate_limit");
  assert.equal(f.retryAfterMs, 2800);
  assert.match(f.message, /Rate limit reached/);
});

Deno.test("errors: a context-length 400 keeps the upstream message and is not the key's fault", () => {
  const f = openaiProvider.parseError(400, fixture("error_context_length.json"), new Headers());
  assert.equal(f.type, "invalid_request_error");
  assert.equal(f.keyFault, undefined);
  assert.equal(f.message, JSON.parse(fixture("error_context_length.json")).error.message);
});

Deno.test("errors: HTML and plain-text bodies give readable messages", () => {
  const html = openaiProvider.parseError(
    502,
    "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>",
    new Headers(),
  );
  assert.equal(html.message, "502 Bad Gateway");
  assert.equal(html.keyFault, "transient");
  const plain = openaiProvider.parseError(503, "Service Unavailable", new Headers());
  assert.equal(plain.type, "overloaded_error");
  assert.equal(plain.message, "Service Unavailable");
  const empty = openaiProvider.parseError(500, "", new Headers());
  assert.match(empty.message, /500/);
});

// ---------------------------------------------------------------------------------------------
// Requests

Deno.test("request: URL joins without doubling a version path; bearer auth", () => {
  assert.equal(
    chatCompletionsUrl("https://api.openai.com"),
    "https://api.openai.com/v1/chat/completions",
  );
  assert.equal(
    chatCompletionsUrl("https://api.openai.com/"),
    "https://api.openai.com/v1/chat/completions",
  );
  assert.equal(
    chatCompletionsUrl("https://api.deepseek.com/v1/"),
    "https://api.deepseek.com/v1/chat/completions",
  );
  assert.equal(
    chatCompletionsUrl("https://open.bigmodel.cn/api/paas/v4"),
    "https://open.bigmodel.cn/api/paas/v4/chat/completions",
  );
  assert.equal(
    chatCompletionsUrl("http://localhost:8000/v1/chat/completions/"),
    "http://localhost:8000/v1/chat/completions",
  );
  assert.equal(chatCompletionsUrl(""), "https://api.openai.com/v1/chat/completions");
  // Azure: a deployment's path takes no version, and the api-version query stays at the end.
  assert.equal(
    chatCompletionsUrl(
      "https://r.openai.azure.com/openai/deployments/gpt4o?api-version=2024-10-21",
    ),
    "https://r.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21",
  );
  assert.equal(
    chatCompletionsUrl("https://r.openai.azure.com/openai/v1/"),
    "https://r.openai.azure.com/openai/v1/chat/completions",
  );
  const req = openaiProvider.buildRequest(request(), context(), "");
  assert.equal(req.headers.authorization, "Bearer sk-test");
  assert.equal(req.headers["content-type"], "application/json");
  assert.equal(req.method, "POST");
});

Deno.test("request: system blocks without the billing header; inline system messages keep their place", () => {
  const body = build(request({
    system: [
      { type: "text", text: "x-anthropic-billing-header: cc_version=2.1.197.7d5; cch=ab12c;" },
      { type: "text", text: "You are helpful.", cache_control: { type: "ephemeral" } },
      { type: "text", text: "" },
      { type: "text", text: "Be brief." },
    ],
    messages: [
      { role: "user", content: "one" },
      { role: "system", content: "Agents available: claude" },
      { role: "assistant", content: [{ type: "text", text: "" }, { type: "text", text: "two" }] },
      { role: "user", content: [{ type: "text", text: "three" }, { type: "text", text: "" }] },
    ],
  }));
  assert.deepEqual(body.messages, [
    { role: "system", content: "You are helpful.\nBe brief." },
    { role: "user", content: "one" },
    { role: "system", content: "Agents available: claude" },
    { role: "assistant", content: "two" },
    { role: "user", content: "three" },
  ]);
});

Deno.test("request: a system prompt behind the billing line keeps its text, as on Gemini", () => {
  const header = "x-anthropic-billing-header: cc_version=1; cch=abcde;";
  for (
    const system of [`${header}\nBe brief.`, [{
      type: "text" as const,
      text: `${header}\nBe brief.`,
    }]]
  ) {
    const body = build(request({ system, messages: [{ role: "user", content: "hi" }] }));
    assert.deepEqual(body.messages[0], { role: "system", content: "Be brief." });
  }
});

Deno.test("request: images and documents become image_url, file and text parts", () => {
  const body = build(request({
    messages: [{
      role: "user",
      content: [
        { type: "text", text: "Look" },
        { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBOR" } },
        { type: "image", source: { type: "url", url: "https://x.test/a.jpg" } },
        {
          type: "document",
          title: "spec.pdf",
          source: { type: "base64", media_type: "application/pdf", data: "JVBERi0" },
        },
        { type: "document", source: { type: "text", media_type: "text/plain", data: "plain doc" } },
      ],
    }],
  }));
  assert.deepEqual(body.messages[0].content, [
    { type: "text", text: "Look" },
    { type: "image_url", image_url: { url: "data:image/png;base64,iVBOR" } },
    { type: "image_url", image_url: { url: "https://x.test/a.jpg" } },
    {
      type: "file",
      file: { filename: "spec.pdf", file_data: "data:application/pdf;base64,JVBERi0" },
    },
    { type: "text", text: "plain doc" },
  ]);
});

Deno.test("request: search results reach the model as text, alone or inside a tool result", () => {
  const result = {
    type: "search_result",
    source: "https://docs.test/sky",
    title: "Sky facts",
    content: [{ type: "text", text: "The sky is blue." }],
  };
  const alone = build(request({ messages: [{ role: "user", content: [result] as any }] }));
  assert.match(
    alone.messages[0].content,
    /Sky facts[\s\S]*https:\/\/docs\.test\/sky[\s\S]*The sky is blue\./,
  );
  const inResult = build(request({
    messages: [
      { role: "user", content: "search" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "find", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [result] }] },
    ] as any,
  }));
  assert.match(inResult.messages[2].content, /Sky facts[\s\S]*The sky is blue\./);
});

Deno.test("request: tool calls and results pair up in the order OpenAI demands", () => {
  const body = build(request({
    messages: [
      { role: "user", content: "go" },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "plan", signature: "sig" },
          { type: "redacted_thinking", data: "xyz" },
          { type: "text", text: "Running." },
          { type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "ls" } },
          { type: "tool_use", id: "toolu_2", name: "Read", input: { file_path: "a" } },
          { type: "tool_use", id: "toolu_3", name: "Read", input: { file_path: "b" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "text", text: "Also check c" },
          { type: "tool_result", tool_use_id: "toolu_unknown", content: "stray" },
          {
            type: "tool_result",
            tool_use_id: "toolu_2",
            is_error: true,
            content: [{ type: "text", text: "no such file" }, { type: "text", text: "try again" }],
          },
          {
            type: "tool_result",
            tool_use_id: "toolu_1",
            content: [
              { type: "text", text: "shot.png" },
              { type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } },
            ],
            cache_control: { type: "ephemeral" },
          },
        ],
      },
    ],
  }));
  assert.deepEqual(body.messages, [
    { role: "user", content: "go" },
    {
      role: "assistant",
      content: "Running.",
      tool_calls: [
        {
          id: "toolu_1",
          type: "function",
          function: { name: "Bash", arguments: '{"command":"ls"}' },
        },
        {
          id: "toolu_2",
          type: "function",
          function: { name: "Read", arguments: '{"file_path":"a"}' },
        },
        {
          id: "toolu_3",
          type: "function",
          function: { name: "Read", arguments: '{"file_path":"b"}' },
        },
      ],
    },
    { role: "tool", tool_call_id: "toolu_2", content: "Error: no such file\ntry again" },
    {
      role: "tool",
      tool_call_id: "toolu_1",
      content: "shot.png\n[1 attachment(s) from this result follow in the next message]",
    },
    // toolu_3 had no result (an interrupted turn): answered so the history stays valid.
    { role: "tool", tool_call_id: "toolu_3", content: "(no result: the call was interrupted)" },
    {
      role: "user",
      content: [
        { type: "text", text: "Attachments from the tool result(s) above:" },
        { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
        { type: "text", text: "Also check c" },
      ],
    },
  ]);
});

Deno.test("request: assistant with only tool calls has null content; a trailing call is answered", () => {
  const body = build(request({
    messages: [
      { role: "user", content: "go" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Bash", input: {} }] },
    ],
  }));
  assert.deepEqual(body.messages, [
    { role: "user", content: "go" },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "t1", type: "function", function: { name: "Bash", arguments: "{}" } }],
    },
    { role: "tool", tool_call_id: "t1", content: "(no result: the call was interrupted)" },
  ]);
});

Deno.test("request: a system message between a call and its result waits until after the result", () => {
  const body = build(request({
    messages: [
      { role: "user", content: "go" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Bash", input: {} }] },
      { role: "system", content: "reminder" },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }] },
    ],
  }));
  assert.deepEqual(body.messages.map((m: any) => m.role), ["user", "assistant", "tool", "system"]);
});

Deno.test("request: for a compatible server every system message but the first becomes a note in a user turn", () => {
  const messages: MessagesRequest["messages"] = [
    { role: "system", content: "Before anything" },
    { role: "user", content: "one" },
    { role: "system", content: [{ type: "text", text: "After one" }] },
    { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Bash", input: {} }] },
    { role: "system", content: "<system-reminder>Already tagged</system-reminder>" },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }] },
    { role: "assistant", content: "done" },
    { role: "system", content: "Last word" },
  ];
  const body = build(
    request({ system: "Be brief.", messages }),
    context({ serviceType: "custom" }),
  );
  validateChatRequest(body, { strictTemplate: true });
  const note = (text: string) => `<system-reminder>\n${text}\n</system-reminder>`;
  assert.deepEqual(body.messages, [
    { role: "system", content: "Be brief.\n\nBefore anything" },
    { role: "user", content: `one\n${note("After one")}` },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "t1", type: "function", function: { name: "Bash", arguments: "{}" } }],
    },
    { role: "tool", tool_call_id: "t1", content: "ok" },
    { role: "user", content: "<system-reminder>Already tagged</system-reminder>" },
    { role: "assistant", content: "done" },
    { role: "user", content: note("Last word") },
  ]);
  // OpenAI takes them where they stand.
  const openai = build(request({ system: "Be brief.", messages }));
  assert.deepEqual(openai.messages.map((m: any) => m.role), [
    "system",
    "system",
    "user",
    "system",
    "assistant",
    "tool",
    "system",
    "assistant",
    "system",
  ]);
  assert.throws(() => validateChatRequest(openai, { strictTemplate: true }), /beginning/);
});

Deno.test("request: consecutive turns of one role are one turn, so every call keeps its result", () => {
  const call = (id: string) => ({ type: "tool_use", id, name: "Read", input: { file_path: id } });
  const result = (id: string) => ({
    type: "tool_result",
    tool_use_id: id,
    content: `RESULT_${id}`,
  });
  const answers = (messages: MessagesRequest["messages"], kind = "openai") => {
    const body = build(request({ messages }), context({ serviceType: kind }));
    validateChatRequest(body, kind === "custom" ? { strictTemplate: true } : {});
    return body.messages.filter((m: any) => m.role !== "user").map((m: any) =>
      m.role === "tool"
        ? `${m.tool_call_id}=${m.content}`
        : m.tool_calls.map((c: any) => c.id).join("+")
    );
  };
  const go = { role: "user" as const, content: "go" };
  for (const kind of ["openai", "custom"]) {
    assert.deepEqual(
      answers([
        go,
        { role: "assistant", content: [call("A")] },
        { role: "assistant", content: [call("B")] },
        { role: "user", content: [result("A"), result("B")] },
      ], kind),
      ["A+B", "A=RESULT_A", "B=RESULT_B"],
    );
    assert.deepEqual(
      answers([
        go,
        { role: "assistant", content: [call("A"), call("B")] },
        { role: "user", content: [result("A")] },
        { role: "user", content: [result("B")] },
      ], kind),
      ["A+B", "A=RESULT_A", "B=RESULT_B"],
    );
  }
  // Text of consecutive user turns goes as one message, in order.
  const body = build(request({
    messages: [go, { role: "user", content: [{ type: "text", text: "now" }] }],
  }));
  assert.deepEqual(body.messages, [{ role: "user", content: "go\nnow" }]);
});

Deno.test("request: turns left empty do not put two user or two assistant messages in a row", () => {
  const body = build(
    request({
      messages: [
        { role: "user", content: "one" },
        { role: "assistant", content: [{ type: "thinking", thinking: "hm", signature: "s" }] },
        { role: "user", content: "two" },
        { role: "assistant", content: "three" },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "stray", content: "x" }] },
        { role: "assistant", content: "four" },
      ],
    }),
    context({ serviceType: "custom" }),
  );
  validateChatRequest(body, { strictTemplate: true });
  assert.deepEqual(body.messages, [
    { role: "user", content: "one\ntwo" },
    { role: "assistant", content: "three\nfour" },
  ]);
});

Deno.test("turnsOf: a conversation with nothing to merge or fold is the client's own array", () => {
  const messages: MessagesRequest["messages"] = [
    { role: "user", content: "one" },
    { role: "system", content: "note" },
    { role: "assistant", content: "two" },
  ];
  assert.equal(turnsOf(messages, false).turns, messages);
  const folded = turnsOf(messages, true).turns;
  assert.notEqual(folded, messages);
  // Only the merged turn is new; the client's messages are left as they were.
  assert.equal(folded[1], messages[2]);
  assert.equal(messages[0].content, "one");
  assert.equal(messages.length, 3);
});

Deno.test("request: a compatible server gets a PDF as a short note and a text document as its text", () => {
  const content: MessagesRequest["messages"][0]["content"] = [
    { type: "text", text: "Read these" },
    {
      type: "document",
      title: "spec.pdf",
      source: { type: "base64", media_type: "application/pdf", data: "JVBERi0" },
    },
    { type: "document", source: { type: "text", media_type: "text/plain", data: "plain doc" } },
  ];
  const body = build(
    request({ messages: [{ role: "user", content }] }),
    context({ serviceType: "custom" }),
  );
  validateChatRequest(body, { strictTemplate: true });
  assert.equal(
    body.messages[0].content,
    'Read these\n[PDF document "spec.pdf" omitted: the upstream does not accept files]\nplain doc',
  );
  // Inside a tool result too.
  const inResult = build(
    request({
      messages: [
        { role: "user", content: "go" },
        { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Read", input: {} }] },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: "t1", content: [content[1] as any] }],
        },
      ],
    }),
    context({ serviceType: "custom" }),
  );
  assert.deepEqual(inResult.messages[2], {
    role: "tool",
    tool_call_id: "t1",
    content: '[PDF document "spec.pdf" omitted: the upstream does not accept files]',
  });
  // OpenAI reads PDFs: a file part.
  const openai = build(request({ messages: [{ role: "user", content }] }));
  assert.equal(openai.messages[0].content[1].type, "file");
});

Deno.test("request: tool ids longer than OpenAI's 40 characters are shortened the same on both sides", () => {
  const id = "toolu_" + "x".repeat(50);
  const body = build(request({
    messages: [
      { role: "user", content: "go" },
      { role: "assistant", content: [{ type: "tool_use", id, name: "Bash", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: id, content: "ok" }] },
    ],
  }));
  const callId = body.messages[1].tool_calls[0].id;
  assert.ok(callId.length <= 40);
  assert.equal(body.messages[2].tool_call_id, callId);
});

Deno.test("request: thinking history goes back as reasoning_content to DeepSeek only", () => {
  const messages: MessagesRequest["messages"] = [
    { role: "user", content: "go" },
    {
      role: "assistant",
      content: [
        {
          type: "thinking",
          thinking: "I should list files.",
          signature: OPENAI_THINKING_SIGNATURE,
        },
        { type: "tool_use", id: "t1", name: "Bash", input: { command: "ls" } },
      ],
    },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "a b" }] },
  ];
  const reasoning = (upstream: Partial<UpstreamConfig>, model = "gpt-4.1") => {
    const body = build(request({ messages }), { ...context(upstream), model });
    assert.equal(body.messages[1].role, "assistant");
    return body.messages[1].reasoning_content;
  };
  const deepseek = { serviceType: "custom", baseUrl: "https://api.deepseek.com/v1" };
  assert.equal(reasoning(deepseek, "deepseek-reasoner"), "I should list files.");
  // By host alone, and by model name alone (DeepSeek behind a router).
  assert.equal(reasoning(deepseek, "chat"), "I should list files.");
  const router = { serviceType: "custom", baseUrl: "https://openrouter.ai/api/v1" };
  assert.equal(reasoning(router, "DeepSeek/DeepSeek-R1"), "I should list files.");
  // Groq and Cerebras answer 400 to the field; OpenAI has no such field.
  const groq = { serviceType: "custom", baseUrl: "https://api.groq.com/openai/v1" };
  assert.equal(reasoning(groq, "qwen/qwen3-32b"), undefined);
  assert.equal(reasoning({ serviceType: "custom", baseUrl: "http://localhost:8000" }), undefined);
  assert.equal(reasoning({ serviceType: "openai" }), undefined);
  const body = build(request({ messages }), {
    ...context(groq),
    model: "qwen/qwen3-32b",
  });
  validateChatRequest(body, { rejectReasoningContent: true });
});

Deno.test("request: tools, tool names, tool_choice and parallel calls", () => {
  const tools = [
    { name: "Bash", description: "Run", input_schema: { type: "object", properties: {} } },
    { name: LONG_TOOL, input_schema: { type: "object" } },
    { name: "mcp.server:tool", input_schema: { type: "object" } },
    { type: "web_search_20250305", name: "web_search", max_uses: 5 },
    { type: "custom", name: "Custom", input_schema: { type: "object" } },
  ];
  const body = build(
    request({ tools, tool_choice: { type: "any", disable_parallel_tool_use: true } }),
  );
  const names = body.tools.map((t: any) => t.function.name);
  assert.equal(names.length, 4, "the server tool is not sent");
  for (const n of names) assert.match(n, /^[a-zA-Z0-9_-]{1,64}$/);
  assert.equal(names[0], "Bash");
  assert.equal(names[1], openaiToolName(LONG_TOOL));
  assert.notEqual(openaiToolName("mcp.server:tool"), openaiToolName("mcp_server_tool"));
  assert.deepEqual(body.tools[0], {
    type: "function",
    function: { name: "Bash", description: "Run", parameters: { type: "object", properties: {} } },
  });
  assert.equal(body.tool_choice, "required");
  assert.equal(body.parallel_tool_calls, false);

  const choose = (tool_choice: any) => build(request({ tools, tool_choice }));
  assert.equal(choose({ type: "auto" }).tool_choice, "auto");
  assert.equal(choose({ type: "none" }).tool_choice, "none");
  assert.deepEqual(choose({ type: "tool", name: LONG_TOOL }).tool_choice, {
    type: "function",
    function: { name: openaiToolName(LONG_TOOL) },
  });
  assert.equal("parallel_tool_calls" in choose({ type: "auto" }), false);
  // No sendable tools: neither tools nor tool_choice nor parallel_tool_calls may be sent.
  const none = build(request({
    tools: [tools[3]],
    tool_choice: { type: "auto", disable_parallel_tool_use: true },
  }));
  assert.equal("tools" in none || "tool_choice" in none || "parallel_tool_calls" in none, false);
});

Deno.test("request: sampling, stop sequences and the max tokens field per upstream", () => {
  const body = request({
    max_tokens: 64000,
    temperature: 0.3,
    top_p: 0.9,
    top_k: 40,
    stop_sequences: ["a", "b", "c", "d", "e"],
  });
  const openai = build(body, context({ serviceType: "openai" }));
  assert.equal(openai.max_completion_tokens, 64000);
  assert.equal("max_tokens" in openai, false);
  assert.equal(openai.temperature, 0.3);
  assert.equal(openai.top_p, 0.9);
  assert.equal("top_k" in openai, false);
  assert.deepEqual(openai.stop, ["a", "b", "c", "d"]);

  const custom = build(body, context({ serviceType: "custom", maxTokens: 8192 }));
  assert.equal(custom.max_tokens, 8192);
  assert.equal("max_completion_tokens" in custom, false);
  assert.equal(custom.top_k, 40);

  const configured = build(body, context({ serviceType: "openai", maxTokensField: "max_tokens" }));
  assert.equal(configured.max_tokens, 64000);
  assert.equal("max_completion_tokens" in configured, false);
});

Deno.test("request: thinking becomes reasoning_effort only where it is understood", () => {
  const effort = (extra: Partial<MessagesRequest>, kind = "openai", model = "o3") =>
    build(request(extra), { ...context({ serviceType: kind }), model }).reasoning_effort;
  // gpt-4o and gpt-4.1 reject reasoning_effort: Claude Code's adaptive thinking must not reach them.
  assert.equal(
    effort(
      { thinking: { type: "adaptive" }, output_config: { effort: "high" } },
      "openai",
      "gpt-4o",
    ),
    undefined,
  );
  assert.equal(
    effort({ thinking: { type: "enabled", budget_tokens: 8000 } }, "openai", "gpt-4.1"),
    undefined,
  );
  assert.equal(
    effort(
      { thinking: { type: "adaptive" }, output_config: { effort: "high" } },
      "openai",
      "gpt-5",
    ),
    "high",
  );
  assert.equal(effort({ thinking: { type: "enabled", budget_tokens: 2048 } }), "low");
  assert.equal(effort({ thinking: { type: "enabled", budget_tokens: 8000 } }), "medium");
  assert.equal(effort({ thinking: { type: "enabled", budget_tokens: 32000 } }), "high");
  assert.equal(effort({ thinking: { type: "enabled", budget_tokens: 8000 } }, "custom"), "medium");
  assert.equal(effort({ thinking: { type: "adaptive" }, output_config: { effort: "low" } }), "low");
  assert.equal(
    effort({ thinking: { type: "adaptive" }, output_config: { effort: "xhigh" } }),
    "high",
  );
  assert.equal(
    effort({ thinking: { type: "adaptive" }, output_config: { effort: "max" } }),
    "high",
  );
  // Claude Code's default adaptive thinking must not break compatible servers.
  assert.equal(
    effort({ thinking: { type: "adaptive" }, output_config: { effort: "high" } }, "custom"),
    undefined,
  );
  // Subagents send disabled thinking with an effort: contradictory upstream, so nothing.
  assert.equal(
    effort({ thinking: { type: "disabled" }, output_config: { effort: "high" } }),
    undefined,
  );
  assert.equal(effort({}), undefined);
});

Deno.test("request: metadata.user_id becomes a stable user of at most 64 characters", () => {
  const long = JSON.stringify({ device_id: "5".repeat(64), account_uuid: "", session_id: "8acc" });
  const a = build(request({ metadata: { user_id: long } })).user;
  const b = build(request({ metadata: { user_id: long } })).user;
  const other = build(request({ metadata: { user_id: long + "x" } })).user;
  assert.ok(a.length <= 64);
  assert.equal(a, b);
  assert.notEqual(a, other);
  assert.equal(build(request({ metadata: { user_id: "alice" } })).user, "alice");
});

Deno.test("request: output_config.format becomes response_format; streaming asks for usage", () => {
  const schema = {
    type: "object",
    properties: { title: { type: "string" } },
    required: ["title"],
    additionalProperties: false,
  };
  const body = build(
    request({ output_config: { effort: "high", format: { type: "json_schema", schema } } }),
  );
  assert.deepEqual(body.response_format, {
    type: "json_schema",
    json_schema: { name: "output", schema, strict: true },
  });
  assert.equal(body.stream, true);
  assert.deepEqual(body.stream_options, { include_usage: true });
  const loose = build(
    request({ output_config: { format: { type: "json_schema", schema: { type: "object" } } } }),
    context({}, false),
  );
  assert.equal(loose.response_format.json_schema.strict, undefined);
  assert.equal("stream" in loose || "stream_options" in loose, false);
});

Deno.test("request: Anthropic-only fields are never forwarded", () => {
  const body = build(request({
    system: [{ type: "text", text: "s", cache_control: { type: "ephemeral", ttl: "1h" } }],
    thinking: { type: "adaptive" },
    output_config: { effort: "high" },
    context_management: { edits: [] },
    service_tier: "standard_only",
    container: "c1",
    metadata: { user_id: "u" },
    inference_geo: "us",
    messages: [{
      role: "user",
      content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral" } }],
    }],
  }));
  for (
    const key of [
      "thinking",
      "output_config",
      "context_management",
      "service_tier",
      "container",
      "metadata",
      "inference_geo",
      "system",
    ]
  ) {
    assert.equal(key in body, false, key);
  }
  assert.equal(JSON.stringify(body).includes("cache_control"), false);
  assert.equal(body.model, "gpt-4.1");
});

// ---------------------------------------------------------------------------------------------
// Real Claude Code requests

const FORBIDDEN_TOP_LEVEL = [
  "system",
  "thinking",
  "output_config",
  "context_management",
  "metadata",
  "service_tier",
  "container",
  "stop_sequences",
  "top_k",
];

function claudeCodeRequests(): [string, MessagesRequest][] {
  return claudeCodeFixtures()
    .filter((f) => Array.isArray(f.body.messages))
    .map((f) => [f.name, f.body as unknown as MessagesRequest]);
}

function assertAcceptable(body: any, label: string, compat: CompatRules = {}): void {
  // The fake's validator encodes what api.openai.com rejects (unknown fields, roles, pairing…).
  validateChatRequest(body, compat);
  for (const key of FORBIDDEN_TOP_LEVEL) assert.equal(key in body, false, `${label}: ${key}`);
  assert.equal(JSON.stringify(body).includes("cache_control"), false, `${label}: cache_control`);
  assert.equal(JSON.stringify(body).includes("x-anthropic-billing-header"), false, label);
  for (const t of body.tools ?? []) assert.match(t.function.name, /^[a-zA-Z0-9_-]{1,64}$/);
  body.messages.forEach((m: any, i: number) => {
    if (m.role === "assistant" && m.tool_calls) {
      const ids = m.tool_calls.map((c: any) => c.id).sort();
      const answers = body.messages.slice(i + 1, i + 1 + ids.length);
      assert.deepEqual(answers.map((a: any) => a.role), ids.map(() => "tool"), label);
      assert.deepEqual(answers.map((a: any) => a.tool_call_id).sort(), ids, label);
      for (const c of m.tool_calls) JSON.parse(c.function.arguments);
    } else {
      assert.ok(
        typeof m.content === "string" ? m.content.length > 0 : m.content.length > 0,
        `${label}: empty content in message ${i}`,
      );
    }
  });
  if (body.user !== undefined) assert.ok(body.user.length <= 64);
}

Deno.test({
  name: "claude code: every recorded request translates into a body the OpenAI API accepts",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  const requests = claudeCodeRequests();
  assert.ok(requests.length >= 4, "the Claude Code fixtures are missing");
  for (const [name, req] of requests) {
    for (const kind of ["openai", "custom"]) {
      for (const stream of [true, false]) {
        const body = build(req, context({ serviceType: kind }, stream));
        // A compatible server may hold to its chat template and refuse `reasoning_content` (Groq).
        const compat = kind === "custom"
          ? { strictTemplate: true, rejectReasoningContent: true }
          : {};
        assertAcceptable(body, `${name} (${kind}, stream ${stream})`, compat);
        if (req.system) assert.equal(body.messages[0].role, "system");
        if (req.tools?.length) assert.equal(body.tools.length, req.tools.length);
      }
    }
  }
});

Deno.test({
  name: "claude code: the inline system message and the thinking history survive translation",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  const [, req] = claudeCodeRequests().find(([n]) => n.includes("with-thinking"))!;
  // OpenAI takes a system message anywhere: it keeps its place.
  const openai = build(req, context());
  assert.deepEqual(openai.messages.map((m: any) => m.role), [
    "system",
    "user",
    "system",
    "assistant",
    "tool",
  ]);
  assert.match(openai.messages[2].content, /^Available agent types/);
  // A compatible server's template takes one, first: the rest joins the user turn as a note.
  const deepseek = build(req, {
    ...context({ serviceType: "custom", baseUrl: "https://api.deepseek.com" }),
    model: "deepseek-reasoner",
  });
  validateChatRequest(deepseek, { strictTemplate: true });
  assert.deepEqual(deepseek.messages.map((m: any) => m.role), [
    "system",
    "user",
    "assistant",
    "tool",
  ]);
  assert.match(
    deepseek.messages[1].content,
    /^USE_BASH_TOOL\n<system-reminder>\nAvailable agent types/m,
  );
  assert.match(deepseek.messages[1].content, /\n<\/system-reminder>$/);
  assert.equal(deepseek.messages[2].reasoning_content, "Mock thinking about the request.");
  assert.equal(deepseek.messages[3].content, "MOCK_TOOL_OK");
  // The first system block is the identity line: the billing header is gone.
  assert.match(deepseek.messages[0].content, /^You are a Claude agent/);
});

Deno.test({
  name: "claude code: api.mistral.ai is sent only fields it knows, and ids and turns it accepts",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  for (const [name, req] of claudeCodeRequests()) {
    for (const stream of [true, false]) {
      const ctx = context({ serviceType: "custom", baseUrl: "https://api.mistral.ai/v1" }, stream);
      // Top-level sampling and thinking too, as the SDKs send them.
      const body = build({
        ...req,
        top_k: 20,
        temperature: 0.5,
        thinking: { type: "enabled", budget_tokens: 2048 },
      }, { ...ctx, model: "mistral-large-latest" });
      assert.equal(mistralExtraForbidden(body), undefined, `${name} stream=${stream}`);
      assert.equal(body.temperature, 0.5);
      validateChatRequest(body, { strictTemplate: true, mistral: true });
    }
  }
  // A server that is not Mistral's API keeps asking for usage in streams (vLLM sends none else).
  const vllm = build(request(), {
    ...context({ serviceType: "custom", baseUrl: "http://gpu:8000/v1" }),
    model: "mistralai/Devstral-Small-2507",
  });
  assert.deepEqual(vllm.stream_options, { include_usage: true });
});

// ---------------------------------------------------------------------------------------------
// Against the strict fake upstream

/** Sends the translated request to the strict fake; a 400 there means OpenAI would refuse it. */
async function callFake(req: MessagesRequest, ctx: CallContext) {
  const fake = await startFakeOpenAI({ requireKey: ["sk-test"] });
  try {
    ctx.upstream.baseUrl = fake.url;
    const up = openaiProvider.buildRequest(req, ctx, JSON.stringify(req));
    const res = await fetch(up.url, { method: up.method, headers: up.headers, body: up.body });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return { text, requests: fake.requests };
  } finally {
    await fake.close();
  }
}

Deno.test({
  name: "fake upstream: a Claude Code tool-result turn streams back as text",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, async () => {
  const [, req] = claudeCodeRequests().find(([n]) => n === "claude-code-tool-result-request.json")!;
  const ctx = context();
  const { text, requests } = await callFake(req, ctx);
  assert.equal(requests.length, 1);
  const r = translate(text, ctx);
  assert.deepEqual(r.blocks, [{ type: "text", text: "Tool result received: MOCK_TOOL_OK" }]);
  assert.equal(r.stopReason, "end_turn");
  assert.ok(r.usage.input_tokens > 0);
});

Deno.test("fake upstream: a requested tool call comes back as tool_use, streamed and not", async () => {
  const req = request({
    tools: [{ name: LONG_TOOL, input_schema: { type: "object" } }],
    messages: [{
      role: "user",
      content: `please use tool ${openaiToolName(LONG_TOOL)} with {"q":"x y"}`,
    }],
  });
  const ctx = context();
  const streamed = translate((await callFake(req, ctx)).text, ctx);
  assert.equal(streamed.blocks.length, 1);
  assert.equal((streamed.blocks[0] as any).name, LONG_TOOL);
  assert.deepEqual((streamed.blocks[0] as any).input, { q: "x y" });
  assert.ok((streamed.blocks[0] as any).deltas > 1, "arguments arrive in fragments");
  assert.equal(streamed.stopReason, "tool_use");

  const plainCtx = context({}, false);
  const plain = openaiProvider.parseResponse(
    JSON.parse((await callFake(req, plainCtx)).text),
    plainCtx,
  );
  assert.equal(plain.stop_reason, "tool_use");
  assert.deepEqual(plain.content, [{
    type: "tool_use",
    id: (plain.content[0] as any).id,
    name: LONG_TOOL,
    input: { q: "x y" },
    caller: DIRECT,
  }]);
});

Deno.test("stream: <think> reasoning inside content becomes a thinking block", () => {
  const sse = [
    openaiChunk({ role: "assistant", content: "<thi" }),
    openaiChunk({ content: "nk>Work it out" }),
    openaiChunk({ content: ".</th" }),
    openaiChunk({ content: "ink>\n\nFour." }),
    openaiChunk({}, "stop"),
    OPENAI_DONE,
  ].join("");
  const { blocks } = translate(sse);
  assert.deepEqual(blocks.map((b) => b.type), ["thinking", "text"]);
  assert.equal((blocks[0] as { thinking: string }).thinking, "Work it out.");
  assert.equal((blocks[1] as { text: string }).text, "Four.");
});

Deno.test("response: <think> reasoning inside content becomes a thinking block", () => {
  const msg = openaiProvider.parseResponse(
    openaiCompletion({ content: "<think>Hmm.</think>\nYes." }, "stop", openaiUsage(3, 4)),
    context({}, false),
  );
  assert.deepEqual(msg.content.map((b) => b.type), ["thinking", "text"]);
  assert.equal((msg.content[1] as { text: string }).text, "Yes.");
});

Deno.test("request: OpenAI reasoning models get no sampling settings or stop sequences", () => {
  const body = request({ temperature: 0.2, top_p: 0.9, stop_sequences: ["END"] });
  const o3 = build(body, { ...context(), model: "o3" });
  assert.equal("temperature" in o3, false);
  assert.equal("top_p" in o3, false);
  assert.equal("stop" in o3, false);
  const gpt4o = build(body, { ...context(), model: "gpt-4o" });
  assert.equal(gpt4o.temperature, 0.2);
  assert.deepEqual(gpt4o.stop, ["END"]);
});

Deno.test("stream: text deltas with escapes pass through exactly; usage or errors on a text chunk are still read", () => {
  const head =
    `{"id":"chatcmpl-X","object":"chat.completion.chunk","created":1767225600,"model":"gpt-4.1","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":`;
  const tail = `,"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"a\\"b"}`;
  // Each piece exactly as an upstream may escape it.
  const raw = [
    String.raw`"He said \"hi\" "`,
    String.raw`"back\\slash\n"`,
    String.raw`"\u00e9t\u00e9 \ud83d\ude00 "`,
    '"caf\u00e9 \u2028 😀 "',
    String.raw`"\/path\t"`,
  ];
  const sse = [
    `data: ${head}{"role":"assistant","content":"","refusal":null}${tail}`,
    ...raw.map((r) => `data: ${head}{"content":${r}}${tail}`),
    `data: ${head}{"content":"last"}${
      tail.replace('"usage":null', '"usage":{"prompt_tokens":7,"completion_tokens":5}')
    }`,
    `data: ${head}{},"logprobs":null,"finish_reason":"stop"}]}`,
    "data: [DONE]",
  ].map((l) => l + "\n\n").join("");
  const r = translate(sse);
  const expected = raw.map((l) => JSON.parse(l)).join("") + "last";
  assert.deepEqual(r.blocks, [{ type: "text", text: expected }]);
  assert.equal(r.usage.input_tokens, 7);
  assert.equal(r.usage.output_tokens, 5);

  const failed = translate(
    `data: ${head}{"content":"x"}${tail.slice(0, -1)},"error":{"message":"boom"}}\n\n` +
      `data: ${head}{},"logprobs":null,"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n`,
  );
  const last = failed.frames.at(-1)!;
  assert.equal(last.event, "error");
  assert.match(last.data.error.message, /boom/);
});

Deno.test("a client's repeated tools are converted once and sent the same, long names mapped back", () => {
  const long = `mcp__${"very_long_server_name_".repeat(4)}__do.thing`;
  const tools = [
    ...Array.from({ length: 10 }, (_, i) => ({
      name: `tool_${i}`,
      description: `Does thing ${i} — carefully. `.repeat(10),
      input_schema: { type: "object", properties: { a: { type: "string" } } },
    })),
    { name: long, input_schema: { type: "object", properties: {} } },
    { type: "web_search_20250305", name: "web_search" },
  ];
  const raw = JSON.stringify(request({ tools, tool_choice: { type: "tool", name: long } }));
  const fresh = build(JSON.parse(raw));
  parseBody(raw);
  const reused = parseBody(raw) as MessagesRequest;
  assert.ok(sharedTools(reused.tools), "the second body's tools are the shared array");
  const c = context();
  const req = openaiProvider.buildRequest(reused, c, raw);
  assert.ok(req.body instanceof Uint8Array, "sent as bytes put together ahead");
  assert.deepEqual(upstreamJson(req), fresh);
  assert.deepEqual(upstreamJson(openaiProvider.buildRequest(reused, context(), raw)), fresh);
  assert.equal(fresh.tools.length, 11);
  assert.equal(fresh.tool_choice.function.name, fresh.tools[10].function.name);
  const msg = openaiProvider.parseResponse(
    completion({
      content: null,
      tool_calls: [{
        id: "call_1",
        type: "function",
        function: { name: fresh.tools[10].function.name, arguments: "{}" },
      }],
    }, "tool_calls"),
    c,
  );
  assert.equal((msg.content[0] as { name: string }).name, long);
});

Deno.test("errors: an HTML error page is read as its text, and a malformed one cannot stall the proxy", () => {
  const page = "<html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>";
  assert.equal(
    openaiProvider.parseError(502, page, new Headers()).message,
    "502 Bad Gateway nginx",
  );
  // Unclosed tags: the tag-stripping must stay linear, or one such body freezes every request.
  const started = performance.now();
  const f = openaiProvider.parseError(502, "<".repeat(300_000) + "x", new Headers());
  const ms = performance.now() - started;
  assert.ok(ms < 1000, `took ${Math.round(ms)} ms`);
  assert.equal(f.keyFault, "transient");
});

Deno.test("request: Azure OpenAI gets its key as api-key; a query stays at the end of its URLs", () => {
  const ctx = context({
    baseUrl: "https://r.openai.azure.com/openai/deployments/gpt4o?api-version=2024-10-21",
  });
  const req = openaiProvider.buildRequest(request(), ctx, "");
  assert.equal(req.headers["api-key"], "sk-test");
  assert.equal(req.headers.authorization, undefined);
  const models = openaiProvider.modelsRequest!(context({
    baseUrl: "https://r.openai.azure.com/openai/v1?api-version=preview",
  }));
  assert.equal(models.url, "https://r.openai.azure.com/openai/v1/models?api-version=preview");
  assert.equal(models.headers!["api-key"], "sk-test");
  // Everywhere else, a bearer token.
  assert.equal(openaiProvider.buildRequest(request(), context(), "").headers["api-key"], undefined);
});
