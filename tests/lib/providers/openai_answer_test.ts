// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { ProxyError } from "../../../lib/errors.ts";
import { openaiProvider } from "../../../lib/providers/openai.ts";
import { OPENAI_THINKING_SIGNATURE } from "../../../lib/providers/openai_answer_fields.ts";
import { UpstreamError } from "../../../lib/providers/upstream_error.ts";
import { openaiCompletion, openaiUsage } from "../../fakes/openai_upstream.ts";
import {
  build,
  completion,
  context,
  DIRECT,
  fixture,
  LONG_TOOL,
  request,
} from "../../helpers/openai_calls.ts";

Deno.test("response: text, tool calls, unparsable arguments and usage", () => {
  const ctx = context({}, false);
  build(request({ tools: [{ name: LONG_TOOL, input_schema: { type: "object" } }] }), ctx);
  const msg = openaiProvider.parseResponse(JSON.parse(fixture("completion_tool_calls.json")), ctx);
  assert.match(msg.id, /^msg_/);
  assert.equal(msg.model, "claude-sonnet-4-5");
  assert.deepEqual(msg.content, [
    { type: "text", text: "I'll look at both files." },
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
    { type: "text", text: "The answer is 42." },
  ]);
  assert.equal(msg.stop_reason, "end_turn");
  assert.equal(msg.usage.input_tokens, 44);
  assert.equal(msg.usage.cache_read_input_tokens, 256);
});

Deno.test("response: with thinking display omitted, the thinking block keeps its signature, not its text", () => {
  const ctx = context({ serviceType: "custom" }, false);
  build(request({ thinking: { type: "adaptive", display: "omitted" } }), ctx);
  const msg = openaiProvider.parseResponse(
    JSON.parse(fixture("completion_deepseek_reasoning.json")),
    ctx,
  );
  assert.deepEqual(msg.content, [
    { type: "thinking", thinking: "", signature: OPENAI_THINKING_SIGNATURE },
    { type: "text", text: "The answer is 42." },
  ]);
});

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
    { type: "text", text: "I can't help with that." },
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
  // Fractions and counts past what a client's integers hold.
  const odd = openaiProvider.parseResponse(
    {
      ...completion({ content: "a" }, "stop"),
      usage: { prompt_tokens: 7.5, completion_tokens: 1e308 },
    },
    context({}, false),
  );
  assert.equal(odd.usage.input_tokens, 7);
  assert.equal(odd.usage.output_tokens, 0);
});

Deno.test("response: a tool call id that is no string still gives the client a valid tool_use id", () => {
  const ctx = context({}, false);
  build(request({ tools: [{ name: "f", input_schema: { type: "object" } }] }), ctx);
  for (const id of [42, { x: 1 }, null]) {
    const msg = openaiProvider.parseResponse(
      completion({
        tool_calls: [{ id, type: "function", function: { name: "f", arguments: "{}" } }],
      }, "tool_calls"),
      ctx,
    ) as any;
    const call = msg.content.find((b: any) => b.type === "tool_use");
    assert.match(call.id, /^[a-zA-Z0-9_-]+$/, JSON.stringify(id));
  }
});

Deno.test("response: a call the token limit broke off is left out, never run half; arguments that no suffix mends are kept", () => {
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
  // Completed, it would write half a file: Claude Code runs calls at max_tokens too.
  assert.deepEqual(msg.content, []);
  assert.equal(msg.stop_reason, "max_tokens");
  // What no suffix can mend is kept, so the client's validation error shows what was sent.
  const broken = openaiProvider.parseResponse(
    completion({
      content: null,
      tool_calls: [{
        id: "c2",
        type: "function",
        function: { name: "Read", arguments: '{"file_path" "a"}' },
      }],
    }, "tool_calls"),
    ctx,
  );
  assert.deepEqual((broken.content[0] as any).input, { _raw: '{"file_path" "a"}' });
  // Whole arguments sent twice over, as some servers do, are the call.
  const twice = openaiProvider.parseResponse(
    completion({
      content: null,
      tool_calls: [{
        id: "c3",
        type: "function",
        function: { name: "Read", arguments: '{"file_path":"a"}{"file_path":"a"}' },
      }],
    }, "tool_calls"),
    ctx,
  );
  assert.deepEqual((twice.content[0] as any).input, { file_path: "a" });
  assert.equal(twice.stop_reason, "tool_use");
});

Deno.test("response: a stop sequence at the end is reported and removed from the text", () => {
  const ctx = context({}, false);
  build(request({ stop_sequences: ["END"] }), ctx);
  const msg = openaiProvider.parseResponse(completion({ content: "All doneEND" }, "stop"), ctx);
  assert.equal(msg.stop_reason, "stop_sequence");
  assert.equal(msg.stop_sequence, "END");
  assert.deepEqual(msg.content, [{ type: "text", text: "All done" }]);
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

Deno.test("response: vLLM's error body in a 200 (its members at the top) is the error it names", () => {
  const body = {
    object: "error",
    message: "This model's maximum context length is 32768 tokens.",
    type: "BadRequestError",
    param: null,
    code: 400,
  };
  assert.throws(
    () => openaiProvider.parseResponse(body, context({}, false)),
    (e) => e instanceof UpstreamError && e.status === 400 && /32768 tokens/.test(e.message),
  );
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

Deno.test("response: <think> reasoning inside content becomes a thinking block", () => {
  const msg = openaiProvider.parseResponse(
    openaiCompletion({ content: "<think>Hmm.</think>\nYes." }, "stop", openaiUsage(3, 4)),
    context({}, false),
  );
  assert.deepEqual(msg.content.map((b) => b.type), ["thinking", "text"]);
  assert.equal((msg.content[1] as { text: string }).text, "Yes.");
});

Deno.test("response: finish_reason error (OpenRouter's failed choice) is an upstream failure, not an answer", () => {
  for (const error of [undefined, { code: 502, message: "Provider disconnected" }]) {
    const res = openaiCompletion({ content: "Partial" }, "error", openaiUsage(5, 1)) as any;
    if (error) res.choices[0].error = error;
    assert.throws(
      () => openaiProvider.parseResponse(res, context()),
      (e: unknown) => e instanceof UpstreamError && e.failure.status >= 500,
    );
  }
});

Deno.test("response: choices other than 0 are not the answer", () => {
  const res = openaiCompletion({ content: "ONE" }, "length", openaiUsage(5, 1)) as any;
  res.choices[0].index = 1;
  res.choices.push({
    index: 0,
    message: { role: "assistant", content: "Zero" },
    finish_reason: "stop",
  });
  const msg = openaiProvider.parseResponse(res, context());
  assert.deepEqual(msg.content, [{ type: "text", text: "Zero" }]);
  assert.equal(msg.stop_reason, "end_turn");
});
