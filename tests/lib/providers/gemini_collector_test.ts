import assert from "node:assert/strict";
import { geminiProvider } from "../../../lib/providers/gemini.ts";
import { textPart, usageMetadata } from "../../fakes/gemini_upstream.ts";
import { type Any, ctx, GROUNDING, WEB_SEARCH_TOOL } from "../../helpers/gemini_calls.ts";

Deno.test("web search: non-stream grounding becomes a search and its results, before the text", () => {
  const c = ctx({ stream: false });
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
  const msg = geminiProvider.parseResponse({
    candidates: [{
      content: { role: "model", parts: [textPart("Spain won Euro 2024 against England.")] },
      finishReason: "STOP",
      groundingMetadata: GROUNDING,
    }],
    usageMetadata: usageMetadata(20, 9),
  }, c) as Any;
  assert.deepEqual(msg.content.map((b: Any) => b.type), [
    "server_tool_use",
    "web_search_tool_result",
    "text",
  ]);
  const [call, result] = msg.content;
  assert.match(call.id, /^srvtoolu_01/);
  assert.deepEqual(call.input, { query: "who won euro 2024" });
  assert.equal(result.tool_use_id, call.id);
  assert.deepEqual(result.content.map((r: Any) => [r.type, r.title, r.url.slice(-4)]), [
    ["web_search_result", "uefa.com", "AbC1"],
    ["web_search_result", "bbc.co.uk", "DeF2"],
  ]);
  assert.deepEqual(msg.usage.server_tool_use, { web_search_requests: 1, web_fetch_requests: 0 });
});

Deno.test("non-stream: a garbled thought signature or usage still gives ids and counts clients take", () => {
  const c = ctx({ stream: false });
  geminiProvider.buildRequest(
    { model: "m", max_tokens: 100, messages: [{ role: "user", content: "read it" }] } as Any,
    c,
    "",
  );
  const msg = geminiProvider.parseResponse({
    candidates: [{
      content: {
        role: "model",
        parts: [{
          functionCall: { name: "Read", args: { file_path: "/a" } },
          thoughtSignature: "c2ln\u0000\ud800bm90IGJhc2U2NA==",
        }],
      },
      finishReason: "STOP",
    }],
    usageMetadata: { promptTokenCount: 10.5, candidatesTokenCount: 2.5, totalTokenCount: 13 },
  }, c) as Any;
  const call = msg.content.find((b: Any) => b.type === "tool_use");
  assert.match(call.id, /^[a-zA-Z0-9_-]+$/);
  assert.equal(msg.usage.input_tokens, 10);
  assert.equal(msg.usage.output_tokens, 2);
});
