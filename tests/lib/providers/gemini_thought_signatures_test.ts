import assert from "node:assert/strict";
import { geminiProvider } from "../../../lib/providers/gemini.ts";
import { SKIP_SIGNATURE } from "../../../lib/providers/gemini_thought_signatures.ts";
import type { CallContext } from "../../../lib/providers/types.ts";
import {
  callPart,
  checkGeminiRequest,
  chunk,
  sseEvent,
  usageMetadata,
} from "../../fakes/gemini_upstream.ts";
import {
  type Any,
  assertConversation,
  build,
  clientBlocks,
  ctx,
  fixture,
  SIGS,
  stream,
  summary,
} from "../../helpers/gemini_calls.ts";

function nextTurn(blocks: Any[], c: CallContext, thinking = true): Any {
  const calls = blocks.filter((b) => b.type === "tool_use");
  return build({
    thinking: thinking ? { type: "adaptive" } : undefined,
    tools: [{
      name: "Read",
      input_schema: {
        type: "object",
        properties: { file_path: { type: "string" }, limit: { type: "integer" } },
      },
    }],
    messages: [
      { role: "user", content: "read a and b" },
      { role: "assistant", content: blocks },
      {
        role: "user",
        content: calls.map((b) => ({
          type: "tool_result",
          tool_use_id: b.id,
          content: `content of ${b.input.file_path}`,
        })),
      },
    ],
  }, c);
}

Deno.test("round trip: streamed signatures come back on the same functionCall parts", () => {
  const first = ctx();
  nextTurn([], first); // the request that produced the answer
  const blocks = clientBlocks(stream(fixture("parallel_calls.sse"), first));
  const body = nextTurn(blocks, ctx());
  assert.equal(checkGeminiRequest(body, { thinkingModel: true }), undefined);
  assertConversation(body);
  const model = body.contents[1];
  assert.deepEqual(model.parts, [
    { text: "Let me read both files." },
    {
      functionCall: { name: "Read", args: { file_path: "/tmp/a.txt" } },
      thoughtSignature: SIGS.S2,
    },
    { functionCall: { name: "Read", args: { file_path: "/tmp/b.txt", limit: 20 } } },
  ]);
  assert.deepEqual(body.contents[2].parts.map((p: Any) => p.functionResponse.response.output), [
    "content of /tmp/a.txt",
    "content of /tmp/b.txt",
  ]);
});

Deno.test("round trip: a signed text-only answer replays as its text (signatures are only required on calls)", () => {
  const c = ctx({ model: "gemini-3-pro-preview" });
  build({ thinking: { type: "adaptive" }, messages: [{ role: "user", content: "hi" }] }, c);
  const blocks = clientBlocks(stream(fixture("thinking_text.sse"), c));
  const body = build({
    thinking: { type: "adaptive" },
    messages: [
      { role: "user", content: "hi" },
      { role: "assistant", content: blocks },
      { role: "user", content: "a game" },
    ],
  }, ctx({ model: "gemini-3-pro-preview" }));
  assert.deepEqual(body.contents[1], {
    role: "model",
    parts: [{ text: "Hi! What are we building today?" }],
  });
});

Deno.test("round trip: non-stream answers carry the same signatures", () => {
  const c = ctx({ stream: false });
  const msg = geminiProvider.parseResponse(JSON.parse(fixture("parallel_calls.json")), c);
  const body = nextTurn(msg.content, ctx());
  assert.equal(body.contents[1].parts[1].thoughtSignature, SIGS.S2);
  assert.equal(body.contents[1].parts[2].thoughtSignature, undefined);
});

Deno.test("round trip: another key or model replays the skip value, never a foreign signature", () => {
  const blocks = clientBlocks(stream(fixture("parallel_calls.sse"), ctx()));
  for (const other of [ctx({ apiKey: "key-b" }), ctx({ model: "gemini-2.5-pro" })]) {
    const body = nextTurn(blocks, other);
    const parts = body.contents[1].parts;
    assert.equal(parts[1].thoughtSignature, SKIP_SIGNATURE);
    assert.ok(!JSON.stringify(body).includes(SIGS.S2));
  }
});

Deno.test("round trip: a signature too long for an id rides in a thinking block", () => {
  const long = btoa("x".repeat(6000));
  const sse = sseEvent(chunk([callPart("Read", { file_path: "/x" }, { signature: long })])) +
    sseEvent(chunk([], { finishReason: "STOP", usage: usageMetadata(5, 5) }));
  const events = stream(sse);
  assert.deepEqual(summary(events).slice(2, 8), [
    "start 0 thinking",
    "signature 0",
    "stop 0",
    "start 1 tool_use Read",
    'input_json_delta 1 {"file_path":"/x"}',
    "stop 1",
  ]);
  const blocks = clientBlocks(events);
  assert.ok(blocks[1].id.length < 100);
  const body = nextTurn(blocks, ctx());
  assert.equal(body.contents[1].parts[0].thoughtSignature, long);
});

Deno.test("round trip: Gemini's own call ids go back on the call and its response", () => {
  const c = ctx({ stream: false });
  const msg = geminiProvider.parseResponse(
    chunk([callPart("Read", { file_path: "/a" }, { id: "fc/1 x" })], { finishReason: "STOP" }),
    c,
  );
  const id = (msg.content[0] as Any).id;
  assert.match(id, /^[a-zA-Z0-9_-]+$/);
  const body = nextTurn(msg.content, ctx());
  assert.equal(body.contents[1].parts[0].functionCall.id, "fc/1 x");
  assert.equal(body.contents[2].parts[0].functionResponse.id, "fc/1 x");
});
