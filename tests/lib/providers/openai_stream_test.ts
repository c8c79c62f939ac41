// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { openaiProvider } from "../../../lib/providers/openai.ts";
import { OPENAI_THINKING_SIGNATURE } from "../../../lib/providers/openai_answer_fields.ts";
import { openaiToolName } from "../../../lib/providers/openai_names.ts";
import { AnthropicStreamWriter } from "../../../lib/providers/stream_writer.ts";
import { createSseDecoder } from "../../../lib/sse.ts";
import { OPENAI_DONE, openaiChunk } from "../../fakes/openai_upstream.ts";
import { carriedIn } from "../../../lib/providers/openai_reasoning_carry.ts";
import {
  build,
  completion,
  context,
  fixture,
  LONG_TOOL,
  request,
} from "../../helpers/openai_calls.ts";
import type { MessagesRequest } from "../../../lib/anthropic.ts";
import { parseFrames, translate, withoutDeltas } from "../../helpers/openai_translate.ts";

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

Deno.test("stream: with thinking display omitted, the thinking block keeps its signature, not its text", () => {
  const ctx = context({ serviceType: "custom" });
  build(request({ thinking: { type: "adaptive", display: "omitted" } }), ctx);
  const r = translate(fixture("reasoning_tool.sse"), ctx);
  assert.deepEqual(withoutDeltas(r.blocks)[0], {
    type: "thinking",
    thinking: "",
    signature: OPENAI_THINKING_SIGNATURE,
  });
  assert.ok(!r.frames.some((f) => f.data.delta?.type === "thinking_delta"));
  assert.deepEqual(r.blocks.slice(1).map((b) => b.type), ["text", "tool_use"]);
  const tags = context();
  build(request({ thinking: { type: "enabled", budget_tokens: 2048, display: "omitted" } }), tags);
  const sse = [
    openaiChunk({ role: "assistant", content: "<think>Work it out.</think>" }),
    openaiChunk({ content: "Four." }),
    openaiChunk({}, "stop"),
    OPENAI_DONE,
  ].join("");
  const { blocks } = translate(sse, tags);
  assert.deepEqual(blocks.map((b) => b.type), ["thinking", "text"]);
  assert.equal((blocks[0] as { thinking: string }).thinking, "");
  assert.equal((blocks[1] as { text: string }).text, "Four.");
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

Deno.test("stream: arguments cut by the token limit stay broken off, as Anthropic's do, so that nothing runs them", () => {
  const cut = '{"file_path":"a.ts","content":"const x = [1, 2';
  const r = translate(
    openaiChunk({
      tool_calls: [{
        index: 0,
        id: "call_1",
        type: "function",
        function: { name: "Write", arguments: cut },
      }],
    }) + openaiChunk({}, "length") + OPENAI_DONE,
  );
  // Completed, it would be a call to write half a file, which Claude Code runs at max_tokens too.
  assert.deepEqual(withoutDeltas(r.blocks), [
    { type: "tool_use", id: "call_1", name: "Write", input: cut },
  ]);
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
  // The second call waited for the first to look whole; it never did, and goes once text follows.
  assert.deepEqual(r.blocks.map((b: any) => b.input ?? b.text), [
    { command: "ls" },
    {},
    "done",
  ]);
  assert.equal(r.stopReason, "tool_use");
});

Deno.test("stream: arguments no suffix can mend are completed as far as they go, and the call offered as unstreamed", () => {
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
          function: { name: "Read", arguments: '{"file_path" "a"}' },
        }],
      }) + openaiChunk({}, "tool_calls") + OPENAI_DONE,
    ),
  );
  decoder.flush();
  translator.end();
  const frames = parseFrames(writer.take());
  const json = frames.filter((f) => f.data.delta?.type === "input_json_delta")
    .map((f) => f.data.delta.partial_json).join("");
  // What breaks the object off is dropped and the rest completed, so the client can still parse
  // what it got.
  assert.equal(json, '{"file_path" :null}');
  // A tool_use block is answered with a tool_result (here the tool's complaint about its input):
  // said to be the end of the turn, it would leave the conversation with a call never answered.
  assert.equal(frames.find((f) => f.event === "message_delta")!.data.delta.stop_reason, "tool_use");
});

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
    [429, "rate_limit_error", "auth"],
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

Deno.test("stream: blank lines before a call are no text block, and text before one stays before it, as unstreamed", () => {
  const call = (id: string) => ({
    tool_calls: [{
      index: 0,
      id,
      type: "function",
      function: { name: "Read", arguments: '{"file_path":"a"}' },
    }],
  });
  for (const [content, text] of [["\n\n", undefined], ["Let me look.\n\n", "Let me look.\n\n"]]) {
    // DeepSeek's way: its reasoning, then blank lines, then the call.
    const streamed = translate(
      openaiChunk({ role: "assistant", reasoning_content: "Think." }) +
        openaiChunk({ content }) + openaiChunk(call("call_1")) + openaiChunk({}, "tool_calls") +
        OPENAI_DONE,
    );
    const expected = [
      "thinking",
      ...(text === undefined ? [] : ["text"]),
      "tool_use",
    ];
    assert.deepEqual(streamed.blocks.map((b: any) => b.type), expected, JSON.stringify(content));
    if (text !== undefined) assert.equal((streamed.blocks[1] as any).text, text);
    assert.equal(streamed.stopReason, "tool_use");
    const ctx = context({}, false);
    build(request({ thinking: { type: "enabled", budget_tokens: 1024 }, max_tokens: 4096 }), ctx);
    const whole = openaiProvider.parseResponse(
      {
        id: "c",
        object: "chat.completion",
        choices: [{
          index: 0,
          message: { role: "assistant", reasoning_content: "Think.", content, ...call("call_1") },
          finish_reason: "tool_calls",
        }],
      },
      ctx,
    );
    assert.deepEqual(whole.content.map((b) => b.type), expected, JSON.stringify(content));
  }
});

Deno.test("stream: a tool name sent in pieces (Gemini's OpenAI endpoint) or whole with every fragment is the one name", () => {
  const fragment = (name: string | undefined, args: string, id?: string) =>
    openaiChunk({
      tool_calls: [{
        index: 0,
        ...(id ? { id, type: "function" } : {}),
        function: { ...(name === undefined ? {} : { name }), arguments: args },
      }],
    });
  const pieces = translate(
    fragment("get_", "", "call_1") + fragment("weather", "") + fragment(undefined, '{"city":') +
      fragment(undefined, '"Lima"}') + openaiChunk({}, "tool_calls") + OPENAI_DONE,
  );
  assert.deepEqual(pieces.blocks.map((b: any) => [b.name, b.input]), [[
    "get_weather",
    { city: "Lima" },
  ]]);
  const repeated = translate(
    fragment("get_weather", "", "call_1") + fragment("get_weather", '{"city":') +
      fragment("get_weather", '"Lima"}') + openaiChunk({}, "tool_calls") + OPENAI_DONE,
  );
  assert.deepEqual(repeated.blocks.map((b: any) => [b.name, b.input]), [[
    "get_weather",
    { city: "Lima" },
  ]]);
  assert.equal(repeated.stopReason, "tool_use");
});

Deno.test("stream: usage in the finishing choice (Moonshot's Kimi) is the answer's usage", () => {
  const finishing = `data: ${
    JSON.stringify({
      id: "c",
      object: "chat.completion.chunk",
      choices: [{
        index: 0,
        delta: {},
        finish_reason: "stop",
        usage: { prompt_tokens: 2882, completion_tokens: 50, total_tokens: 2932 },
      }],
    })
  }\n\n`;
  const r = translate(openaiChunk({ role: "assistant", content: "Hi." }) + finishing + OPENAI_DONE);
  assert.equal(r.usage.input_tokens, 2882);
  assert.equal(r.usage.output_tokens, 50);
});

Deno.test("stream: a call's name sent again with nothing more under its index is no second call", () => {
  const fragment = (args: string, id?: string) =>
    openaiChunk({
      tool_calls: [{
        index: 0,
        ...(id ? { id, type: "function" } : {}),
        function: { name: "get_weather", arguments: args },
      }],
    });
  const r = translate(
    fragment("", "call_A") + fragment('{"city":"Paris"}') + fragment("") +
      openaiChunk({}, "tool_calls") + OPENAI_DONE,
  );
  assert.deepEqual(r.blocks.map((b: any) => [b.id, b.input]), [["call_A", { city: "Paris" }]]);
});

Deno.test("stream: calls with empty arguments keep their place before the text that follows them", () => {
  const call = (index: number, id: string, name: string, args: string) =>
    openaiChunk({
      tool_calls: [{ index, id, type: "function", function: { name, arguments: args } }],
    });
  const one = translate(
    call(0, "call_A", "Now", "") + openaiChunk({ content: "Done." }) +
      openaiChunk({}, "tool_calls") + OPENAI_DONE,
  );
  assert.deepEqual(one.blocks.map((b: any) => [b.type, b.input ?? b.text]), [
    ["tool_use", {}],
    ["text", "Done."],
  ]);
  const two = translate(
    call(0, "call_A", "Now", "") + call(1, "call_B", "Read", '{"file_path":"a"}') +
      openaiChunk({ content: "Done." }) + openaiChunk({}, "tool_calls") + OPENAI_DONE,
  );
  assert.deepEqual(two.blocks.map((b: any) => [b.type, b.input ?? b.text]), [
    ["tool_use", {}],
    ["tool_use", { file_path: "a" }],
    ["text", "Done."],
  ]);
});

Deno.test("stream: a name alone under index 0 after a finished call, then arguments, is the next call (Ollama)", () => {
  const fragment = (fn: Record<string, string>) =>
    openaiChunk({ tool_calls: [{ index: 0, type: "function", function: fn }] });
  for (
    const alone of [{ name: "get" }, { name: "get", arguments: "" }] as Record<string, string>[]
  ) {
    const r = translate(
      fragment({ name: "get", arguments: '{"a":1}' }) + fragment(alone) +
        fragment({ arguments: '{"a":2}' }) + openaiChunk({}, "tool_calls") + OPENAI_DONE,
    );
    assert.deepEqual(r.blocks.map((b: any) => [b.name, b.input]), [
      ["get", { a: 1 }],
      ["get", { a: 2 }],
    ]);
  }
});

Deno.test("stream: finish_reason error (OpenRouter's failed choice) ends in an error event, not a finished answer", () => {
  for (
    const last of [
      openaiChunk({}, "error"),
      `data: ${
        JSON.stringify({
          choices: [{
            index: 0,
            delta: {},
            finish_reason: "error",
            error: { code: 502, message: "Provider disconnected" },
          }],
        })
      }\n\n`,
    ]
  ) {
    const r = translate(
      openaiChunk({ role: "assistant", content: "Partial" }) + last + OPENAI_DONE,
    );
    assert.ok(r.error, "an error event");
    assert.equal(r.stopReason, undefined);
    assert.equal(r.writer.failure!.status >= 500, true);
  }
});

Deno.test("stream: a text chunk JSON would refuse never reaches the client as it came", () => {
  const raw = (text: string) => openaiChunk({ content: "X" }).replace('"X"', `"${text}"`);
  // A raw tab (Ollama's cloud models) is read as the tab it is; translate() parses every frame.
  const tab = translate(raw("a\tb") + openaiChunk({}, "stop") + OPENAI_DONE);
  assert.deepEqual(tab.blocks, [{ type: "text", text: "a\tb" }]);
  // An escape JSON does not have is no answer: the stream ends in an error, in valid frames.
  for (const escape of ["\\x41", "\\u12zz", "\\u00"]) {
    const bad = translate(openaiChunk({ content: "ok " }) + raw(`bad ${escape}`) + OPENAI_DONE);
    assert.deepEqual(bad.blocks, [{ type: "text", text: "ok " }], escape);
    assert.ok(bad.error, escape);
  }
});

Deno.test("stream: [DONE] before any piece of an answer is a cut stream, not an empty answer", () => {
  for (
    const cut of [
      OPENAI_DONE,
      // A role and nothing more: how a stream cut at its start reads.
      openaiChunk({ role: "assistant", content: "" }) + OPENAI_DONE,
    ]
  ) {
    const r = translate(cut);
    assert.ok(r.error);
    assert.equal(r.writer.contentStarted, false);
  }
  // With a chunk of the answer, a server that sends no finish reason still ends it normally.
  const ok = translate(openaiChunk({ role: "assistant", content: "Hi" }) + OPENAI_DONE);
  assert.deepEqual(ok.blocks, [{ type: "text", text: "Hi" }]);
  assert.equal(ok.stopReason, "end_turn");
});

Deno.test("stream: choices other than 0 (a server that makes several) are not the answer", () => {
  const of = (index: number, delta: Record<string, unknown>, finish: string | null = null) =>
    openaiChunk(delta, finish).replace('"index":0', `"index":${index}`);
  const r = translate(
    of(0, { role: "assistant", content: "Zero" }) + of(1, { role: "assistant", content: "ONE" }) +
      of(1, {
        tool_calls: [{
          index: 0,
          id: "c1",
          type: "function",
          function: { name: "Bash", arguments: '{"command":"rm -rf /tmp/x"}' },
        }],
      }) + of(1, {}, "length") + of(0, {}, "stop") + OPENAI_DONE,
  );
  assert.deepEqual(r.blocks, [{ type: "text", text: "Zero" }]);
  assert.equal(r.stopReason, "end_turn");
});

Deno.test("stream: arguments sent as everything so far with each fragment (DeepSeek, Qianfan) are the object once", () => {
  const call = (args: string, first = false) =>
    openaiChunk({
      tool_calls: [{
        index: 0,
        ...(first ? { id: "call_cum", type: "function" } : {}),
        function: { ...(first ? { name: "Bash" } : {}), arguments: args },
      }],
    });
  // The first resend may come where a value could begin: it is still the arguments again.
  const atValue = translate(
    call('{"command":', true) + call('{"command": "echo') +
      call('{"command": "echo OK", "desc') +
      call('{"command": "echo OK", "description": "Print"}') + openaiChunk({}, "tool_calls") +
      OPENAI_DONE,
  );
  const first = atValue.blocks[0];
  assert.ok(first.type === "tool_use");
  assert.deepEqual(first.input, { command: "echo OK", description: "Print" });
  const r = translate(
    call('{"com', true) + call('{"command":') + call('{"command":"ls"') +
      call('{"command":"ls", "description":"list"}') + openaiChunk({}, "tool_calls") +
      OPENAI_DONE,
  );
  assert.equal(r.blocks.length, 1);
  const block = r.blocks[0];
  assert.ok(block.type === "tool_use");
  assert.deepEqual(block.input, { command: "ls", description: "list" });
  assert.equal(r.stopReason, "tool_use");
  // A continuation that merely starts as the arguments did (closing more than it opens) is one.
  for (
    const [pieces, input] of [
      [['{"a":', '{"a":1}}'], { a: { a: 1 } }],
      [['{"q":', '{"q":1},"r":2}'], { q: { q: 1 }, r: 2 }],
    ] as Array<[string[], unknown]>
  ) {
    const nested = translate(
      pieces.map((p, i) => call(p, i === 0)).join("") + openaiChunk({}, "tool_calls") +
        OPENAI_DONE,
    );
    const b = nested.blocks[0];
    assert.ok(b.type === "tool_use");
    assert.deepEqual(b.input, input, pieces.join(" | "));
  }
});

Deno.test("stream: blank text between pieces of a call's arguments leaves the call whole", () => {
  const args = (text: string, first = false) =>
    openaiChunk({
      tool_calls: [{
        index: 0,
        ...(first ? { id: "call_ws", type: "function" } : {}),
        function: { ...(first ? { name: "Bash" } : {}), arguments: text },
      }],
    });
  const r = translate(
    args('{"command":', true) + openaiChunk({ content: "\n" }) + args('"ls -la"}') +
      openaiChunk({}, "tool_calls") + OPENAI_DONE,
  );
  assert.equal(r.blocks.length, 1);
  const block = r.blocks[0];
  assert.ok(block.type === "tool_use");
  assert.deepEqual(block.input, { command: "ls -la" });
  // Between two calls it is no block either; text after them is still the answer's.
  const call = (index: number, id: string) =>
    openaiChunk({
      tool_calls: [{
        index,
        id,
        type: "function",
        function: { name: "Bash", arguments: '{"command":"ls"}' },
      }],
    });
  const two = translate(
    call(0, "c1") + openaiChunk({ content: "\n\n" }) + call(1, "c2") +
      openaiChunk({ content: "Done." }) + openaiChunk({}, "tool_calls") + OPENAI_DONE,
  );
  assert.deepEqual(two.blocks.map((b) => b.type), ["tool_use", "tool_use", "text"]);
});

Deno.test("stream: vLLM's error chunk (its members at the top) ends the stream in that error", () => {
  const r = translate(
    openaiChunk({ role: "assistant", content: "" }) +
      `data: ${
        JSON.stringify({
          object: "error",
          message: "engine dead",
          type: "InternalServerError",
          code: 500,
        })
      }\n\n`,
  );
  assert.ok(r.error);
  assert.equal(r.writer.failure!.status >= 500, true);
  assert.match(r.writer.failure!.message, /engine dead/);
});

Deno.test("stream: OpenRouter's details that come after the text never make a thinking block the last one", () => {
  const details = [{ type: "reasoning.encrypted", data: "c2ln", index: 0 }];
  const textOnly = translate(
    openaiChunk({ role: "assistant", content: "The answer." }) +
      openaiChunk({ reasoning_details: details }) + openaiChunk({}, "stop") + OPENAI_DONE,
  );
  assert.deepEqual(textOnly.blocks, [{ type: "text", text: "The answer." }]);
  // With a call after them, they go in a block of their own just before it.
  const withCall = translate(
    openaiChunk({ role: "assistant", content: "Checking." }) +
      openaiChunk({
        reasoning_details: details,
        tool_calls: [{
          index: 0,
          id: "call_1",
          type: "function",
          function: { name: "Bash", arguments: '{"command":"ls"}' },
        }],
      }) + openaiChunk({}, "tool_calls") + OPENAI_DONE,
  );
  assert.deepEqual(withCall.blocks.map((b) => b.type), ["text", "thinking", "tool_use"]);
  const thinking = withCall.blocks[1];
  assert.ok(thinking.type === "thinking");
  assert.deepEqual(carriedIn(thinking.signature)?.details, details);
});

Deno.test("stream: reasoning the client did not ask for is no thinking block, as Anthropic gives none", () => {
  for (const thinking of [undefined, { type: "disabled" }]) {
    const ctx = context();
    build(request(thinking ? { thinking } as Partial<MessagesRequest> : {}), ctx);
    const r = translate(
      openaiChunk({ role: "assistant", reasoning_content: "Think." }) +
        openaiChunk({ content: "Answer." }) + openaiChunk({}, "stop") + OPENAI_DONE,
      ctx,
    );
    assert.deepEqual(r.blocks, [{ type: "text", text: "Answer." }]);
    const inline = translate(
      openaiChunk({ role: "assistant", content: "<think>hidden</think>Answer." }) +
        openaiChunk({}, "stop") + OPENAI_DONE,
      ctx,
    );
    assert.deepEqual(inline.blocks, [{ type: "text", text: "Answer." }]);
    const whole = openaiProvider.parseResponse(
      completion({ content: "<think>hidden</think>Answer.", reasoning_content: "" }, "stop"),
      ctx,
    );
    assert.deepEqual(whole.content, [{ type: "text", text: "Answer." }]);
  }
});
