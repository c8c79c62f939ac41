import assert from "node:assert/strict";
import { ProxyError } from "../../../lib/errors.ts";
import { geminiProvider } from "../../../lib/providers/gemini.ts";
import { AnthropicStreamWriter } from "../../../lib/providers/stream_writer.ts";
import { createSseDecoder } from "../../../lib/sse.ts";
import { chunk, sseEvent, textPart, usageMetadata } from "../../fakes/gemini_upstream.ts";
import { type Any, ctx, fixture, GROUNDING, stream, summary } from "../../helpers/gemini_calls.ts";

Deno.test("a call without a name is dropped: it cannot run, and Gemini refuses it next turn", () => {
  const events = stream([
    sseEvent(
      chunk([textPart("Looking."), { functionCall: { args: {} } }], { finishReason: "STOP" }),
    ),
  ]);
  assert.deepEqual(summary(events).slice(2), [
    "start 0 text",
    "text_delta 0 Looking.",
    "stop 0",
    "message_delta end_turn",
    "message_stop",
  ]);
});

Deno.test("stream: MALFORMED_FUNCTION_CALL is an api_error, never an empty end_turn", () => {
  assert.deepEqual(summary(stream(fixture("malformed_function_call.sse"))), [
    "message_start",
    "ping",
    "error api_error: Gemini could not produce a valid tool call (finishReason: MALFORMED_FUNCTION_CALL): Malformed function call: print(default_api.Bash(command='ls'",
  ]);
});

Deno.test("stream: a failed answer after thoughts leaves the thinking block open for the error", () => {
  // Claude Code asks again without streaming when an error comes inside a block; a signed and
  // closed thinking block would be taken as the whole answer.
  for (const finishReason of ["MALFORMED_FUNCTION_CALL", "STOP"]) {
    const events = stream([
      sseEvent(chunk([textPart("Let me run ls.", { thought: true })])),
      sseEvent(chunk([], { finishReason, usage: usageMetadata(10, 3) })),
    ]);
    assert.deepEqual(summary(events).slice(2, -1), [
      "start 0 thinking",
      "thinking_delta 0 Let me run ls.",
    ]);
    assert.match(summary(events).at(-1)!, /^error api_error: Gemini /);
  }
});

Deno.test("stream: SAFETY with nothing said is a refusal with an explanation", () => {
  assert.deepEqual(summary(stream(fixture("safety.sse"))), [
    "message_start",
    "ping",
    "start 0 text",
    "text_delta 0 Gemini stopped this answer for safety reasons (finishReason: SAFETY).",
    "stop 0",
    "message_delta refusal",
    "message_stop",
  ]);
});

Deno.test("stream: a refusal for language or recitation says which, not safety", () => {
  for (
    const [finishReason, said] of [
      ["LANGUAGE", /does not answer in this language \(finishReason: LANGUAGE\)/],
      ["RECITATION", /reciting a source \(finishReason: RECITATION\)/],
    ] as const
  ) {
    const events = summary(
      stream(sseEvent(chunk([], { finishReason, usage: usageMetadata(9, 0) }))),
    );
    assert.match(events.find((e) => e.startsWith("text_delta")) ?? "", said);
    assert.ok(events.includes("message_delta refusal"));
  }
});

Deno.test("stream: a blocked prompt is a refusal", () => {
  assert.deepEqual(summary(stream(fixture("prompt_blocked.sse"))), [
    "message_start",
    "ping",
    "start 0 text",
    "text_delta 0 Gemini blocked this request (blockReason: PROHIBITED_CONTENT).",
    "stop 0",
    "message_delta refusal",
    "message_stop",
  ]);
});

Deno.test("stream: STOP with nothing at all is a failure, not an empty answer, and not the key's", () => {
  const sse = sseEvent(chunk([], { finishReason: "STOP", usage: usageMetadata(10, 0) }));
  const writer = new AnthropicStreamWriter({ id: "m", model: "x", inputTokens: 0 });
  const translator = geminiProvider.createStreamTranslator(ctx(), writer);
  createSseDecoder((ev) => translator.push(ev)).feed(new TextEncoder().encode(sse));
  translator.end();
  assert.equal(writer.contentStarted, false);
  assert.equal(writer.failure?.type, "api_error");
  assert.equal(writer.failure?.status, 502);
  assert.equal(writer.failure?.keyFault, undefined);
});

Deno.test("non-stream: failures and refusals", () => {
  const c = ctx({ stream: false });
  assert.throws(
    () =>
      geminiProvider.parseResponse(
        { candidates: [{ content: { parts: [] }, finishReason: "MALFORMED_FUNCTION_CALL" }] },
        c,
      ),
    (err: unknown) => err instanceof ProxyError && err.status === 502 && err.type === "api_error",
  );
  assert.throws(
    () => geminiProvider.parseResponse({ candidates: [{ finishReason: "STOP" }] }, c),
    (err: unknown) => err instanceof ProxyError && /empty answer/.test(err.message),
  );
  // A reason that is no string is none: the message never shows "[object Object]".
  assert.throws(
    () => geminiProvider.parseResponse({ candidates: [{ finishReason: { x: 1 } }] }, c),
    (err: unknown) =>
      err instanceof ProxyError && /empty answer \(finishReason: STOP\)/.test(err.message),
  );
  const refused = geminiProvider.parseResponse(
    { candidates: [{ finishReason: "RECITATION", index: 0 }] },
    c,
  );
  assert.equal(refused.stop_reason, "refusal");
  assert.match((refused.content[0] as Any).text, /RECITATION/);
  const blocked = geminiProvider.parseResponse({ promptFeedback: { blockReason: "SAFETY" } }, c);
  assert.equal(blocked.stop_reason, "refusal");
  const long = geminiProvider.parseResponse(
    chunk([textPart("partial")], { finishReason: "MAX_TOKENS" }),
    c,
  );
  assert.equal(long.stop_reason, "max_tokens");
});

Deno.test("web search: without the tool, grounding is not reported as a search", () => {
  const c = ctx({ stream: false });
  geminiProvider.buildRequest(
    { model: "m", max_tokens: 100, messages: [{ role: "user", content: "Who won?" }] } as Any,
    c,
    "",
  );
  const msg = geminiProvider.parseResponse({
    candidates: [{
      content: { role: "model", parts: [textPart("Hi")] },
      finishReason: "STOP",
      groundingMetadata: GROUNDING,
    }],
  }, c) as Any;
  assert.deepEqual(msg.content.map((b: Any) => b.type), ["text"]);
  assert.deepEqual(msg.usage.server_tool_use, { web_search_requests: 0, web_fetch_requests: 0 });
});
