import assert from "node:assert/strict";
import { HAVE_CLAUDE_CODE_FIXTURES } from "../../helpers/fixtures.ts";
import {
  fingerprint,
  SIGNATURE_PREFIX,
  SKIP_SIGNATURE,
} from "../../../lib/providers/gemini_thought_signatures.ts";
import { checkGeminiRequest } from "../../fakes/gemini_upstream.ts";
import {
  type Any,
  assertConversation,
  build,
  claudeCode,
  ctx,
  SIGS,
} from "../../helpers/gemini_calls.ts";

Deno.test({
  name: "a tool result from another provider's history gets the skip signature",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  const body = build(claudeCode("claude-code-tool-result-with-thinking-request.json"));
  const model = body.contents.find((c: Any) => c.role === "model");
  assert.deepEqual(model.parts.map((p: Any) => Object.keys(p).sort()), [
    ["text"],
    ["functionCall", "thoughtSignature"],
  ]);
  assert.equal(model.parts[1].thoughtSignature, SKIP_SIGNATURE);
  assert.ok(!JSON.stringify(body).includes("Mock thinking"), "thinking text is not replayed");
  const user = body.contents[body.contents.indexOf(model) + 1];
  assert.deepEqual(user.parts[0], {
    functionResponse: { name: "Bash", response: { output: "MOCK_TOOL_OK" } },
  });
});

Deno.test("tool results: order, counts, errors, images, orphans and trailing text", () => {
  const png = { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" };
  const body = build({
    messages: [
      { role: "user", content: [{ type: "text", text: "look" }, { type: "text", text: "" }] },
      {
        role: "user",
        content: [{ type: "image", source: { type: "url", url: "https://x.test/a.webp?s=1" } }],
      },
      {
        role: "assistant",
        content: [
          { type: "text", text: "" },
          { type: "tool_use", id: "call_1", name: "Read", input: { file_path: "/a" } },
          { type: "tool_use", id: "call_2", name: "Shot", input: {} },
          { type: "tool_use", id: "call_3", name: "Bash", input: { command: "false" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "text", text: "and also this" },
          {
            type: "tool_result",
            tool_use_id: "call_2",
            content: [{ type: "text", text: "shot taken" }, { type: "image", source: png }],
          },
          {
            type: "tool_result",
            tool_use_id: "call_1",
            content: [{ type: "text", text: "l1" }, { type: "text", text: "l2" }],
          },
          { type: "tool_result", tool_use_id: "call_9", content: "stray" },
          {
            type: "document",
            source: { type: "base64", media_type: "application/pdf", data: "JVBERi0=" },
          },
        ],
      },
    ],
  });
  assert.equal(checkGeminiRequest(body), undefined);
  assertConversation(body);
  assert.equal(body.contents.length, 3);
  assert.deepEqual(body.contents[0].parts, [
    { text: "look" },
    { fileData: { mimeType: "image/webp", fileUri: "https://x.test/a.webp?s=1" } },
  ]);
  assert.deepEqual(body.contents[2].parts, [
    { functionResponse: { name: "Read", response: { output: "l1\nl2" } } },
    { functionResponse: { name: "Shot", response: { output: "shot taken" } } },
    {
      functionResponse: {
        name: "Bash",
        response: { error: "No result was provided for this tool call." },
      },
    },
    { text: "[Result of tool call call_9]\nstray" },
    { inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } },
    { text: "and also this" },
    { inlineData: { mimeType: "application/pdf", data: "JVBERi0=" } },
  ]);
  const err = build({
    messages: [
      { role: "user", content: "go" },
      { role: "assistant", content: [{ type: "tool_use", id: "t", name: "Bash", input: {} }] },
      {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: "t", is_error: true, content: "boom" }],
      },
    ],
  });
  assert.deepEqual(err.contents[2].parts[0].functionResponse.response, { error: "boom" });
});

Deno.test("search results reach the model as text, alone or inside a tool result", () => {
  const result = {
    type: "search_result",
    source: "https://docs.test/sky",
    title: "Sky facts",
    content: [{ type: "text", text: "The sky is blue." }],
  };
  const alone = build({ messages: [{ role: "user", content: [result] as Any }] });
  assert.equal(checkGeminiRequest(alone), undefined);
  assert.match(
    alone.contents[0].parts[0].text,
    /Sky facts[\s\S]*https:\/\/docs\.test\/sky[\s\S]*The sky is blue\./,
  );
  const inResult = build({
    messages: [
      { role: "user", content: "search" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "find", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [result] }] },
    ] as Any,
  });
  assert.match(
    inResult.contents[2].parts[0].functionResponse.response.output,
    /Sky facts[\s\S]*The sky is blue\./,
  );
});

Deno.test("history starting with the model, and calls at the very end, stay valid", () => {
  const body = build({
    messages: [
      { role: "assistant", content: "Earlier answer" },
      { role: "user", content: "next" },
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "x", name: "Bash", input: { c: 1 } }],
      },
    ],
  });
  assert.equal(checkGeminiRequest(body), undefined);
  assertConversation(body);
  assert.equal(body.contents[0].role, "user");
  assert.equal(body.contents.at(-1).parts[0].functionResponse.name, "Bash");
});

Deno.test("a search after the answer's text is told as text, and the text's signature stays on the answer", () => {
  const c = ctx();
  const signed = `${SIGNATURE_PREFIX}${JSON.stringify({ f: fingerprint(c), t: SIGS.S2 })}`;
  const body = build({
    thinking: { type: "adaptive" },
    messages: [
      { role: "user", content: "euro 2024?" },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "", signature: signed },
          { type: "text", text: "Spain won." },
          {
            type: "server_tool_use",
            id: "srvtoolu_1",
            name: "web_search",
            input: { query: "euro 2024" },
          },
          {
            type: "web_search_tool_result",
            tool_use_id: "srvtoolu_1",
            content: [{
              type: "web_search_result",
              url: "https://uefa.test/euro2024",
              title: "EURO 2024",
              encrypted_content: "",
              page_age: null,
            }],
          },
        ],
      },
      { role: "user", content: "by how much?" },
    ] as Any,
  }, c);
  assert.equal(checkGeminiRequest(body), undefined);
  assert.deepEqual(body.contents[1].parts, [
    { text: "Spain won.", thoughtSignature: SIGS.S2 },
    { text: '[Searched the web for "euro 2024"]' },
    { text: "[Web search results:\n- EURO 2024 — https://uefa.test/euro2024]" },
  ]);
});
