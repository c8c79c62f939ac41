import assert from "node:assert/strict";
import { HAVE_CLAUDE_CODE_FIXTURES } from "../../helpers/fixtures.ts";
import { upstreamJson } from "../../helpers/upstream_body.ts";
import { parseBody, sharedTools } from "../../../lib/parse_body.ts";
import type { MessagesRequest } from "../../../lib/anthropic.ts";
import { geminiProvider } from "../../../lib/providers/gemini.ts";
import { geminiFunctionName } from "../../../lib/providers/gemini_tool_declarations.ts";
import { callPart, chunk, usageMetadata } from "../../fakes/gemini_upstream.ts";
import { type Any, build, claudeCode, ctx } from "../../helpers/gemini_calls.ts";

Deno.test("tool_choice maps to functionCallingConfig", () => {
  const tools = [{
    name: "Bash",
    input_schema: { type: "object", properties: { c: { type: "string" } } },
  }];
  const msg = [{ role: "user" as const, content: "hi" }];
  const mode = (tool_choice: Any) => build({ tools, tool_choice, messages: msg }).toolConfig;
  assert.deepEqual(mode({ type: "auto" }), { functionCallingConfig: { mode: "AUTO" } });
  assert.deepEqual(mode({ type: "any" }), { functionCallingConfig: { mode: "ANY" } });
  assert.deepEqual(mode({ type: "none" }), { functionCallingConfig: { mode: "NONE" } });
  assert.deepEqual(mode({ type: "tool", name: "Bash" }), {
    functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["Bash"] },
  });
  assert.equal(mode(undefined), undefined);
  const withFetch = [...tools, { type: "web_fetch_20250910", name: "web_fetch" }];
  const fetch = build({
    tools: withFetch,
    tool_choice: { type: "tool", name: "web_fetch" } as Any,
    messages: msg,
  });
  assert.deepEqual(
    fetch.toolConfig,
    { functionCallingConfig: { mode: "AUTO" } },
    "Bash not forced",
  );
  const server = build({
    tools: [{ type: "web_search_20250305", name: "web_search" }],
    tool_choice: { type: "any" },
    messages: msg,
  });
  assert.deepEqual(server.tools, [{ googleSearch: {} }], "web search is Gemini's own search");
  assert.equal(server.toolConfig, undefined, "no function calling mode without functions");
});

Deno.test("function names are made valid for Gemini and mapped back in the answer", () => {
  const odd = "mcp__my server__do/it";
  const g = geminiFunctionName(odd);
  assert.match(g, /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/);
  assert.equal(geminiFunctionName("Bash"), "Bash");
  assert.notEqual(geminiFunctionName("a b"), geminiFunctionName("a_b"));
  const long = geminiFunctionName("x".repeat(100));
  assert.match(long, /^x[A-Za-z0-9_.:-]{0,63}$/);
  assert.notEqual(long, geminiFunctionName("x".repeat(101)));

  const c = ctx({ stream: false });
  const body = build({
    tools: [{ name: odd, input_schema: { type: "object", properties: { q: { type: "string" } } } }],
    messages: [{ role: "user", content: "hi" }],
  }, c);
  assert.equal(body.tools[0].functionDeclarations[0].name, g);
  const msg = geminiProvider.parseResponse(
    chunk([callPart(g, { q: "x" })], { finishReason: "STOP", usage: usageMetadata(10, 5) }),
    c,
  );
  assert.equal((msg.content[0] as Any).name, odd);
});

Deno.test({
  name: "free-form tool arguments travel as JSON text and come back as values",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  const c = ctx({ stream: false });
  const req = claudeCode("claude-code-main-request.json");
  const body = build({
    tools: req.tools,
    messages: [
      { role: "user", content: "make a task" },
      {
        role: "assistant",
        content: [{
          type: "tool_use",
          id: "t1",
          name: "TaskCreate",
          input: { subject: "s", metadata: { a: 1 } },
        }],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }] },
    ],
  }, c);
  assert.equal(body.contents[1].parts[0].functionCall.args.metadata, '{"a":1}');
  const msg = geminiProvider.parseResponse(
    chunk([callPart("TaskCreate", { subject: "t", description: "d", metadata: '{"b":[2]}' })], {
      finishReason: "STOP",
    }),
    c,
  );
  assert.deepEqual((msg.content[0] as Any).input, {
    subject: "t",
    description: "d",
    metadata: { b: [2] },
  });
});

Deno.test("tools: a schema seen before is declared the same; a changed one is cleaned anew", () => {
  const tool = (extra: Record<string, unknown>) => ({
    name: "Read",
    description: "Reads a file",
    input_schema: {
      type: "object",
      properties: { file_path: { type: "string" }, ...extra },
      required: ["file_path"],
      additionalProperties: false,
      $schema: "http://json-schema.org/draft-07/schema#",
    },
  });
  const ask = { messages: [{ role: "user" as const, content: "hi" }] };
  const first = build({ ...ask, tools: [tool({})] as Any });
  const again = build({ ...ask, tools: [tool({})] as Any });
  assert.deepEqual(again.tools, first.tools);
  const changed = build({ ...ask, tools: [tool({ limit: { type: ["integer", "null"] } })] as Any });
  const params = changed.tools[0].functionDeclarations[0].parameters;
  assert.deepEqual(Object.keys(params.properties), ["file_path", "limit"]);
  assert.equal(params.properties.limit.type, "INTEGER");
  assert.equal(params.properties.limit.nullable, true);
  assert.deepEqual(
    build({ ...ask, tools: [tool({})] as Any }).tools,
    first.tools,
    "the first schema still gives its own declaration",
  );
});

Deno.test("a client's repeated tools are declared once and sent the same, names and JSON paths kept", () => {
  const odd = `mcp__${"long_server_name_".repeat(5)}__lookup`;
  const tools = [
    ...Array.from({ length: 10 }, (_, i) => ({
      name: `tool_${i}`,
      description: `Does thing ${i} — carefully. `.repeat(10),
      input_schema: { type: "object", properties: { a: { type: "string" } } },
    })),
    {
      name: odd,
      input_schema: {
        type: "object",
        properties: { q: { type: "string" }, metadata: { type: "object" } },
      },
    },
    { type: "text_editor_20250728", name: "str_replace_based_edit_tool" },
    { type: "code_execution_20250825", name: "code_execution" },
  ];
  const raw = JSON.stringify({
    model: "claude-sonnet-4-5",
    max_tokens: 1024,
    messages: [{ role: "user", content: "go" }],
    tools,
    tool_choice: { type: "tool", name: odd },
  });
  const fresh = upstreamJson(geminiProvider.buildRequest(JSON.parse(raw), ctx(), raw));
  parseBody(raw);
  const reused = parseBody(raw) as MessagesRequest;
  assert.ok(sharedTools(reused.tools));
  const c = ctx({ stream: false });
  const req = geminiProvider.buildRequest(reused, c, raw);
  assert.ok(req.body instanceof Uint8Array);
  assert.deepEqual(upstreamJson(req), fresh);
  const declared = fresh.tools[0].functionDeclarations;
  assert.equal(declared.length, 12);
  assert.equal(declared[11].name, "str_replace_based_edit_tool", "a client tool is a function");
  assert.match(fresh.systemInstruction.parts[0].text, /not available[^\n]*: code_execution\./);
  assert.deepEqual(fresh.toolConfig.functionCallingConfig.allowedFunctionNames, [
    declared[10].name,
  ]);
  const msg = geminiProvider.parseResponse(
    chunk([callPart(declared[10].name, { q: "x", metadata: '{"b":[2]}' })], {
      finishReason: "STOP",
    }),
    c,
  );
  assert.equal((msg.content[0] as Any).name, odd);
  assert.deepEqual((msg.content[0] as Any).input, { q: "x", metadata: { b: [2] } });
});
