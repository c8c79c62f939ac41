// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import type { MessagesRequest } from "../../../lib/anthropic.ts";
import { openaiProvider } from "../../../lib/providers/openai.ts";
import { openaiToolName } from "../../../lib/providers/openai_names.ts";
import type { CallContext } from "../../../lib/providers/types.ts";
import { startFakeOpenAI } from "../../fakes/openai_upstream.ts";
import { HAVE_CLAUDE_CODE_FIXTURES } from "../../helpers/fixtures.ts";
import {
  claudeCodeRequests,
  context,
  DIRECT,
  LONG_TOOL,
  request,
} from "../../helpers/openai_calls.ts";
import { translate } from "../../helpers/openai_translate.ts";

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
