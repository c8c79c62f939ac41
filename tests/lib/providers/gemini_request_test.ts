import assert from "node:assert/strict";
import { HAVE_CLAUDE_CODE_FIXTURES } from "../../helpers/fixtures.ts";
import { checkGeminiRequest } from "../../fakes/gemini_upstream.ts";
import {
  type Any,
  assertConversation,
  build,
  claudeCode,
  WEB_SEARCH_TOOL,
} from "../../helpers/gemini_calls.ts";

for (
  const file of [
    "claude-code-main-request.json",
    "claude-code-small-model-request.json",
    "claude-code-tool-result-request.json",
    "claude-code-tool-result-with-thinking-request.json",
    "count-tokens-request-with-tools.json",
  ]
) {
  Deno.test({
    name: `Claude Code ${file}: a request Gemini accepts`,
    ignore: !HAVE_CLAUDE_CODE_FIXTURES,
  }, () => {
    const req = claudeCode(file);
    const body = build(req);
    assert.equal(checkGeminiRequest(body), undefined);
    assert.equal(checkGeminiRequest(body, { thinkingModel: true }), undefined);
    assertConversation(body);
    const text = JSON.stringify(body);
    for (const gone of ["cache_control", "context_management", "x-anthropic-billing-header"]) {
      assert.ok(!text.includes(gone), `${gone} was forwarded`);
    }
    assert.ok(!("metadata" in body));
    const declared = body.tools?.[0].functionDeclarations ?? [];
    assert.equal(declared.length, (req.tools ?? []).length, "every custom tool is declared");
  });
}

Deno.test({
  name: "system: blocks and role:system messages go to systemInstruction, billing line dropped",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  const req = claudeCode("claude-code-main-request.json");
  const body = build(req);
  const system = body.systemInstruction.parts.map((p: Any) => p.text).join("\n");
  assert.ok(system.startsWith("You are a Claude agent"));
  assert.ok(system.includes("Available agent types for the Agent tool"));
  assert.ok(!system.includes("x-anthropic-billing-header"));
  assert.ok(
    !JSON.stringify(body.contents).includes("Available agent types"),
    "the system message is not a user turn",
  );
  const plain = build({
    system: "x-anthropic-billing-header: cc_version=1; cch=abcde;\nBe brief.",
    messages: [{ role: "user", content: "hi" }],
  });
  assert.deepEqual(plain.systemInstruction, { parts: [{ text: "Be brief." }] });
});

Deno.test("web search: the server tool becomes googleSearch, alone or not at all", () => {
  const ask = {
    messages: [{ role: "user" as const, content: "Perform a web search for: euro 2024" }],
  };
  const alone = build({ ...ask, tools: [WEB_SEARCH_TOOL] as Any });
  assert.deepEqual(alone.tools, [{ googleSearch: {} }]);
  assert.equal(alone.toolConfig, undefined);
  assert.equal(alone.systemInstruction, undefined);
  // tool_choice none forbids every tool: Google Search is not offered either.
  const none = build({ ...ask, tools: [WEB_SEARCH_TOOL] as Any, tool_choice: { type: "none" } });
  assert.equal(none.tools, undefined);

  // Beside function declarations 2.x models refuse googleSearch: the model is told instead.
  const mixed = build({
    ...ask,
    system: "Be brief.",
    tools: [WEB_SEARCH_TOOL, { name: "Read", input_schema: { type: "object" } }] as Any,
  });
  assert.deepEqual(mixed.tools.map((t: Any) => Object.keys(t)[0]), ["functionDeclarations"]);
  const system = mixed.systemInstruction.parts[0].text;
  assert.match(system, /^Be brief\.\n\n/);
  assert.match(system, /web search tool is not available/);
});
