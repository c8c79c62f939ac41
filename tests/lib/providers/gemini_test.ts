import assert from "node:assert/strict";
import { HAVE_CLAUDE_CODE_FIXTURES } from "../../helpers/fixtures.ts";
import { upstreamJson } from "../../helpers/upstream_body.ts";
import { parseBody, sharedTools } from "../../../lib/parse_body.ts";
import type { MessagesRequest } from "../../../lib/anthropic.ts";
import { ProxyError } from "../../../lib/errors.ts";
import { geminiApiRoot, geminiProvider } from "../../../lib/providers/gemini.ts";
import {
  parseToolId,
  SIGNATURE_PREFIX,
  SKIP_SIGNATURE,
} from "../../../lib/providers/gemini_thought_signatures.ts";
import { geminiFunctionName } from "../../../lib/providers/gemini_tool_declarations.ts";
import { geminiFailure } from "../../../lib/providers/gemini_errors.ts";
import { AnthropicStreamWriter } from "../../../lib/providers/stream_writer.ts";
import type { CallContext, StreamTranslator } from "../../../lib/providers/types.ts";
import { createSseDecoder } from "../../../lib/sse.ts";
import { failureOf } from "../../../lib/upstream_fetch.ts";
import {
  callPart,
  checkGeminiRequest,
  chunk,
  errorBody,
  rateLimitBody,
  sseEvent,
  startFakeGemini,
  textPart,
  usageMetadata,
} from "../../fakes/gemini_upstream.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const CC = new URL("../../../../shared/fixtures/claude-code/", import.meta.url);
const FIX = new URL("../../fixtures/gemini/", import.meta.url);
const SIGS = JSON.parse(Deno.readTextFileSync(new URL("signatures.json", FIX))).signatures;

function claudeCode(name: string): MessagesRequest {
  return JSON.parse(Deno.readTextFileSync(new URL(name, CC)));
}

function fixture(name: string): string {
  return Deno.readTextFileSync(new URL(name, FIX));
}

function ctx(over: Partial<CallContext> = {}): CallContext {
  return {
    upstream: { name: "gemini", baseUrl: "", serviceType: "gemini", apiKeys: ["key-a"] },
    model: "gemini-2.5-flash",
    requestedModel: "claude-sonnet-4-5",
    apiKey: "key-a",
    stream: true,
    clientHeaders: new Headers(),
    ...over,
  };
}

function build(body: Partial<MessagesRequest>, c = ctx()): Any {
  const full = { model: "claude-sonnet-4-5", max_tokens: 1024, messages: [], ...body };
  return upstreamJson(geminiProvider.buildRequest(full as MessagesRequest, c, ""));
}

interface Ev {
  event: string;
  data: Any;
}

function parseFrames(text: string): Ev[] {
  return text.split("\n\n").filter((f) => f.trim()).map((frame) => {
    const lines = frame.split("\n");
    const event = lines.find((l) => l.startsWith("event: "))!.slice(7);
    const data = JSON.parse(lines.find((l) => l.startsWith("data: "))!.slice(6));
    assert.equal(data.type, event, "every frame names its type twice");
    return { event, data };
  });
}

/** The decoder as the stream relay wires it to a translator. */
function decoderFor(translator: StreamTranslator) {
  return createSseDecoder((ev) => translator.push(ev), translator.pushJson?.bind(translator));
}

function streamTo(writer: AnthropicStreamWriter, sse: string | string[], c = ctx()): Ev[] {
  const translator = geminiProvider.createStreamTranslator(c, writer);
  const decoder = decoderFor(translator);
  for (const piece of typeof sse === "string" ? [sse] : sse) {
    decoder.feed(new TextEncoder().encode(piece));
  }
  decoder.flush();
  translator.end();
  return parseFrames(writer.take());
}

function stream(sse: string | string[], c = ctx()): Ev[] {
  return streamTo(
    new AnthropicStreamWriter({ id: "msg_t", model: c.requestedModel, inputTokens: 0 }),
    sse,
    c,
  );
}

/** The sequence in a compact, exact form. */
function summary(events: Ev[]): string[] {
  return events.map(({ event, data }) => {
    switch (event) {
      case "content_block_start": {
        const b = data.content_block;
        return `start ${data.index} ${b.type}${b.type === "tool_use" ? ` ${b.name}` : ""}`;
      }
      case "content_block_delta": {
        const d = data.delta;
        if (d.type === "signature_delta") return `signature ${data.index}`;
        const v = d.text ?? d.thinking ?? d.partial_json;
        return `${d.type} ${data.index} ${v}`;
      }
      case "content_block_stop":
        return `stop ${data.index}`;
      case "message_delta":
        return `message_delta ${data.delta.stop_reason}`;
      case "error":
        return `error ${data.error.type}: ${data.error.message}`;
      default:
        return event;
    }
  });
}

/** The content blocks a client assembles from the events (and sends back next turn). */
function clientBlocks(events: Ev[]): Any[] {
  const blocks: Any[] = [];
  const json: string[] = [];
  for (const { event, data } of events) {
    const i = data.index;
    if (event === "content_block_start") {
      blocks[i] = structuredClone(data.content_block);
      json[i] = "";
    } else if (event === "content_block_delta") {
      const d = data.delta;
      if (d.type === "text_delta") blocks[i].text += d.text;
      if (d.type === "thinking_delta") blocks[i].thinking += d.thinking;
      if (d.type === "signature_delta") blocks[i].signature = d.signature;
      if (d.type === "input_json_delta") json[i] += d.partial_json;
    } else if (event === "content_block_stop" && blocks[i].type === "tool_use") {
      blocks[i].input = JSON.parse(json[i]);
    }
  }
  return blocks;
}

/** Structural rules Gemini enforces on contents, asserted one by one. */
function assertConversation(body: Any): void {
  const contents = body.contents;
  assert.ok(contents.length > 0);
  assert.equal(contents[0].role, "user", "the first content is the user's");
  contents.forEach((c: Any, i: number) => {
    assert.ok(c.role === "user" || c.role === "model", `role ${c.role}`);
    if (i > 0) assert.notEqual(c.role, contents[i - 1].role, `alternation broken at ${i}`);
    assert.ok(c.parts.length > 0, `empty parts at ${i}`);
    for (const p of c.parts) {
      if ("text" in p) assert.ok(p.text.trim().length > 0, `empty text at ${i}`);
    }
    const calls = c.parts.filter((p: Any) => p.functionCall);
    if (c.role === "model" && calls.length) {
      const next = contents[i + 1];
      const responses = next.parts.filter((p: Any) => p.functionResponse);
      assert.equal(responses.length, calls.length, `responses for the calls at ${i}`);
      assert.deepEqual(
        responses.map((p: Any) => p.functionResponse.name),
        calls.map((p: Any) => p.functionCall.name),
      );
      // Results come first in their content.
      assert.ok(next.parts.slice(0, responses.length).every((p: Any) => p.functionResponse));
    }
  });
}

// ---------------------------------------------------------------------------------------------
// URL, headers and the Claude Code fixtures.

Deno.test("URL: the version is added once, whatever the base URL looks like", () => {
  assert.equal(geminiApiRoot(""), "https://generativelanguage.googleapis.com/v1beta");
  assert.equal(geminiApiRoot("https://g.example/"), "https://g.example/v1beta");
  assert.equal(geminiApiRoot("https://g.example/v1beta/"), "https://g.example/v1beta");
  assert.equal(geminiApiRoot("https://g.example/proxy/v1"), "https://g.example/proxy/v1");

  const body = { model: "m", max_tokens: 10, messages: [{ role: "user" as const, content: "hi" }] };
  const s = geminiProvider.buildRequest(body, ctx({ model: "models/gemini-2.5-pro" }), "");
  assert.equal(
    s.url,
    "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
  );
  assert.equal(s.headers["x-goog-api-key"], "key-a");
  const n = geminiProvider.buildRequest(
    body,
    ctx({ stream: false, upstream: { ...ctx().upstream, baseUrl: "http://h:1/v1beta" } }),
    "",
  );
  assert.equal(n.url, "http://h:1/v1beta/models/gemini-2.5-flash:generateContent");
});

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

// ---------------------------------------------------------------------------------------------
// Request mapping details.

Deno.test({
  name: "generationConfig: max tokens capped, sampling, stop sequences, JSON output",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  const c = ctx({ upstream: { ...ctx().upstream, maxTokens: 8192 } });
  const body = build({
    max_tokens: 64000,
    temperature: 0.3,
    top_p: 0.9,
    top_k: 40,
    stop_sequences: ["a", "b", "c", "d", "e", "f"],
    messages: [{ role: "user", content: "hi" }],
  }, c);
  assert.deepEqual(body.generationConfig, {
    maxOutputTokens: 8192,
    temperature: 0.3,
    topP: 0.9,
    topK: 40,
    stopSequences: ["a", "b", "c", "d", "e"],
  });
  const titleRequest = claudeCode("claude-code-small-model-request.json");
  const title = build(titleRequest);
  assert.equal(title.generationConfig.responseMimeType, "application/json");
  assert.deepEqual(
    title.generationConfig.responseJsonSchema,
    titleRequest.output_config!.format!.schema,
  );
  const older = build(titleRequest, ctx({ model: "gemini-2.0-flash" }));
  assert.deepEqual(older.generationConfig.responseSchema, {
    type: "OBJECT",
    properties: { title: { type: "STRING" } },
    required: ["title"],
  });
});

const STRUCTURED = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: {
    priority: { type: "integer", enum: [1, 2, 3] },
    data: { type: "object", description: "anything" },
  },
  required: ["priority", "data"],
  additionalProperties: false,
};

function structuredRequest(c: CallContext): Any {
  return build({
    messages: [{ role: "user", content: "rate it" }],
    output_config: { format: { type: "json_schema", schema: STRUCTURED } },
  }, c);
}

Deno.test("structured output: 2.5 and later get the client's JSON Schema as responseJsonSchema", () => {
  const c = ctx({ stream: false });
  const body = structuredRequest(c);
  assert.equal(checkGeminiRequest(body), undefined);
  const { $schema: _, ...plain } = STRUCTURED;
  assert.deepEqual(body.generationConfig, {
    maxOutputTokens: 1024,
    responseMimeType: "application/json",
    responseJsonSchema: plain,
  });
  const answer = '{"priority": 2, "data": {"k": 1}}';
  const msg = geminiProvider.parseResponse(
    chunk([textPart(answer)], { finishReason: "STOP", usage: usageMetadata(5, 9) }),
    c,
  );
  assert.deepEqual(msg.content, [{ type: "text", text: answer, citations: null }]);
});

Deno.test("structured output: older models' JSON-text values are decoded in the answer, streamed or not", () => {
  const c = ctx({ model: "gemini-2.0-flash", stream: false });
  const body = structuredRequest(c);
  assert.equal(checkGeminiRequest(body), undefined);
  assert.equal(body.generationConfig.responseJsonSchema, undefined);
  assert.equal(body.generationConfig.responseSchema.properties.priority.type, "STRING");
  const written = '{"priority": "2", "data": "{\\"k\\": [1]}"}';
  const expected = '{"priority":2,"data":{"k":[1]}}';
  const msg = geminiProvider.parseResponse(
    chunk([textPart(written)], { finishReason: "STOP", usage: usageMetadata(5, 9) }),
    c,
  );
  assert.deepEqual(msg.content, [{ type: "text", text: expected, citations: null }]);
  assert.deepEqual(JSON.parse((msg.content[0] as Any).text), { priority: 2, data: { k: [1] } });

  const s = ctx({ model: "gemini-2.0-flash" });
  structuredRequest(s);
  const pieces = [written.slice(0, 5), written.slice(5, 20), written.slice(20)];
  const sse = pieces.map((piece, i) =>
    sseEvent(chunk(
      [textPart(piece)],
      i === 2 ? { finishReason: "STOP", usage: usageMetadata(5, 9) } : {},
    ))
  ).join("");
  assert.deepEqual(summary(stream(sse, s)), [
    "message_start",
    "ping",
    "start 0 text",
    `text_delta 0 ${expected}`,
    "stop 0",
    "message_delta end_turn",
    "message_stop",
  ]);
  // An answer cut short is not JSON: it is passed on as Gemini wrote it.
  const cut = sseEvent(chunk([textPart('{"priority": "2", "da')], {
    finishReason: "MAX_TOKENS",
    usage: usageMetadata(5, 9),
  }));
  assert.deepEqual(summary(stream(cut, s)).slice(3, 5), [
    'text_delta 0 {"priority": "2", "da',
    "stop 0",
  ]);
});

Deno.test("thinking: enabled, adaptive and disabled per model family", () => {
  const msg = [{ role: "user" as const, content: "hi" }];
  const cfg = (thinking: Any, model: string) =>
    build({ thinking, messages: msg }, ctx({ model })).generationConfig?.thinkingConfig;
  assert.deepEqual(cfg({ type: "enabled", budget_tokens: 4000 }, "gemini-2.5-flash"), {
    includeThoughts: true,
    thinkingBudget: 4000,
  });
  assert.deepEqual(cfg({ type: "enabled", budget_tokens: 60000 }, "gemini-2.5-flash"), {
    includeThoughts: true,
    thinkingBudget: 24576,
  });
  assert.deepEqual(cfg({ type: "adaptive" }, "gemini-3-pro-preview"), {
    includeThoughts: true,
    thinkingBudget: -1,
  });
  assert.deepEqual(cfg({ type: "disabled" }, "gemini-2.5-flash"), { thinkingBudget: 0 });
  assert.equal(cfg({ type: "disabled" }, "gemini-2.5-pro"), undefined, "pro cannot turn it off");
  assert.equal(cfg({ type: "adaptive" }, "gemini-2.0-flash"), undefined, "no thinking on 2.0");
});

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
  const server = build({
    tools: [{ type: "web_search_20250305", name: "web_search" }],
    tool_choice: { type: "any" },
    messages: msg,
  });
  assert.deepEqual(server.tools, [{ googleSearch: {} }], "web search is Gemini's own search");
  assert.equal(server.toolConfig, undefined, "no function calling mode without functions");
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

// ---------------------------------------------------------------------------------------------
// Streams.

Deno.test("stream: plain text", () => {
  const events = stream(fixture("text_stream.sse"));
  assert.deepEqual(summary(events), [
    "message_start",
    "ping",
    "start 0 text",
    "text_delta 0 Hello",
    "text_delta 0  there, how can",
    "text_delta 0  I help?",
    "stop 0",
    "message_delta end_turn",
    "message_stop",
  ]);
  assert.deepEqual(events.at(-2)!.data.usage, {
    input_tokens: 12,
    output_tokens: 7,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
    output_tokens_details: { thinking_tokens: 0 },
    server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
  });
});

Deno.test("stream: without usage metadata the output is estimated from the text, not 0", () => {
  const text = "An answer of some sixty characters, streamed without usage.";
  const events = stream(
    `data: ${JSON.stringify(chunk([{ text }], { finishReason: "STOP" }))}\r\n\r\n`,
  );
  const usage = events.at(-2)!.data.usage;
  assert.equal(usage.output_tokens, Math.ceil(text.length / 4));
});

Deno.test("stream: thoughts, then text; the answer ends on its text block", () => {
  const c = ctx({ model: "gemini-3-pro-preview" });
  build({ thinking: { type: "adaptive" }, messages: [{ role: "user", content: "hi" }] }, c);
  const events = stream(fixture("thinking_text.sse"), c);
  assert.deepEqual(summary(events), [
    "message_start",
    "ping",
    "start 0 thinking",
    "thinking_delta 0 **Planning the reply**\n\nThe user greets me.",
    "thinking_delta 0  I will greet back.",
    "signature 0",
    "stop 0",
    "start 1 text",
    "text_delta 1 Hi! What are we",
    "text_delta 1  building today?",
    "stop 1",
    "message_delta end_turn",
    "message_stop",
  ]);
  const blocks = clientBlocks(events);
  assert.ok(blocks[0].signature.startsWith(SIGNATURE_PREFIX));
  // Clients (Claude Code's -p result) read the last block as the answer: it must be the text.
  assert.equal(blocks.at(-1).type, "text");
  // prompt 5400 of which 4096 cached; output = candidates + thoughts.
  assert.deepEqual(events.at(-2)!.data.usage, {
    input_tokens: 1304,
    output_tokens: 70,
    cache_read_input_tokens: 4096,
    cache_creation_input_tokens: 0,
    output_tokens_details: { thinking_tokens: 61 },
    server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
  });
});

Deno.test("stream: parallel calls arrive whole, each its own tool_use with a unique id", () => {
  const events = stream(fixture("parallel_calls.sse"));
  assert.deepEqual(summary(events), [
    "message_start",
    "ping",
    "start 0 thinking",
    "thinking_delta 0 **Checking the files**\n\nI need to read two files.",
    "signature 0",
    "stop 0",
    "start 1 text",
    "text_delta 1 Let me read both files.",
    "stop 1",
    "start 2 tool_use Read",
    'input_json_delta 2 {"file_path":"/tmp/a.txt"}',
    "stop 2",
    "start 3 tool_use Read",
    'input_json_delta 3 {"file_path":"/tmp/b.txt","limit":20}',
    "stop 3",
    "message_delta tool_use",
    "message_stop",
  ]);
  const blocks = clientBlocks(events);
  const [a, b] = [blocks[2].id, blocks[3].id];
  assert.notEqual(a, b);
  for (const id of [a, b]) assert.match(id, /^[a-zA-Z0-9_-]+$/);
  assert.equal(parseToolId(a)?.signature, SIGS.S2, "the first call's signature is in its id");
  assert.equal(parseToolId(b)?.signature, undefined);
  assert.equal(blocks[0].signature, `${SIGNATURE_PREFIX}{}`, "a thinking block is always signed");
});

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

Deno.test("stream: an error chunk mid-stream ends with an error event, the block left open", () => {
  const c = ctx();
  const writer = new AnthropicStreamWriter({ id: "m", model: "x", inputTokens: 0 });
  const translator = geminiProvider.createStreamTranslator(c, writer);
  const decoder = createSseDecoder((ev) => translator.push(ev));
  decoder.feed(new TextEncoder().encode(fixture("midstream_error.sse")));
  decoder.flush();
  translator.end();
  assert.deepEqual(summary(parseFrames(writer.take())), [
    "message_start",
    "ping",
    "start 0 text",
    "text_delta 0 Working on",
    "text_delta 0  it",
    "error overloaded_error: The model is overloaded. Please try again later.",
  ]);
  assert.equal(writer.failure?.keyFault, "transient");
});

Deno.test("stream: an error Gemini writes without data: before any content fails over like an HTTP error", () => {
  const cases = [
    [rateLimitBody("31s"), "rate_limit_error", "rate_limit", 31_000],
    [errorBody(503, "UNAVAILABLE", "The model is overloaded."), "overloaded_error", "transient"],
    [errorBody(400, "INVALID_ARGUMENT", "Bad schema."), "invalid_request_error", undefined],
  ] as const;
  for (const [body, type, keyFault, retryAfterMs] of cases) {
    // Compact or pretty-printed, cut anywhere: the SDK looks at every raw chunk for it.
    const text = JSON.stringify(body, null, 2);
    for (const pieces of [[JSON.stringify(body)], [text.slice(0, 9), text.slice(9)]]) {
      const writer = new AnthropicStreamWriter({ id: "m", model: "x", inputTokens: 0 });
      const events = streamTo(writer, pieces);
      assert.equal(writer.contentStarted, false);
      assert.equal(writer.failure?.type, type);
      assert.equal(writer.failure?.keyFault, keyFault);
      assert.equal(writer.failure?.retryAfterMs, retryAfterMs);
      assert.equal(events.at(-1)!.data.error.type, type);
    }
  }
});

Deno.test("stream: after partial text, an error without data: ends the stream with its own type", () => {
  const writer = new AnthropicStreamWriter({ id: "m", model: "x", inputTokens: 0 });
  const sse = `data:${JSON.stringify(chunk([textPart("Partial ans")]))}\r\n\r\n` +
    JSON.stringify(rateLimitBody("31s"));
  assert.deepEqual(summary(streamTo(writer, sse)), [
    "message_start",
    "ping",
    "start 0 text",
    "text_delta 0 Partial ans",
    "error rate_limit_error: You exceeded your current quota, please check your plan and billing details.",
  ]);
  assert.equal(writer.failure?.retryAfterMs, 31_000);
});

Deno.test("stream: a body that ends without a finish reason is an error", () => {
  const cut = summary(stream(fixture("cut_stream.sse")));
  assert.ok(cut.at(-2)!.startsWith("text_delta 0"), cut.at(-2));
  assert.equal(cut.at(-1), "error api_error: upstream stream ended unexpectedly");
  assert.deepEqual(summary(stream("")), [
    "message_start",
    "ping",
    "error api_error: upstream stream ended unexpectedly",
  ]);
});

Deno.test("stream: STOP with nothing at all is a retryable failure, not an empty answer", () => {
  const sse = sseEvent(chunk([], { finishReason: "STOP", usage: usageMetadata(10, 0) }));
  const writer = new AnthropicStreamWriter({ id: "m", model: "x", inputTokens: 0 });
  const translator = geminiProvider.createStreamTranslator(ctx(), writer);
  createSseDecoder((ev) => translator.push(ev)).feed(new TextEncoder().encode(sse));
  translator.end();
  assert.equal(writer.contentStarted, false);
  assert.equal(writer.failure?.type, "api_error");
  assert.equal(writer.failure?.keyFault, "transient");
});

// ---------------------------------------------------------------------------------------------
// Non-streaming answers.

Deno.test("non-stream: thoughts, text and parallel calls in one message", () => {
  const c = ctx({ stream: false });
  const msg = geminiProvider.parseResponse(JSON.parse(fixture("parallel_calls.json")), c);
  assert.equal(msg.model, "claude-sonnet-4-5");
  assert.equal(msg.stop_reason, "tool_use");
  assert.deepEqual(msg.content.map((b) => b.type), ["thinking", "text", "tool_use", "tool_use"]);
  const [thinking, text, a, b] = msg.content as Any[];
  assert.equal(thinking.thinking, "**Checking the files**\n\nI need to read two files.");
  assert.ok(thinking.signature.length > 0);
  assert.equal(text.text, "Let me read both files.");
  assert.deepEqual(a.input, { file_path: "/tmp/a.txt" });
  assert.deepEqual(b.input, { file_path: "/tmp/b.txt", limit: 20 });
  assert.equal(parseToolId(a.id)?.signature, SIGS.S2);
  // Every field Anthropic's usage has, the ones that do not apply as it sends them.
  assert.deepEqual(msg.usage, {
    input_tokens: 6075,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 2048,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: 271,
    output_tokens_details: { thinking_tokens: 230 },
    server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
    service_tier: "standard",
    inference_geo: "not_available",
    speed: "standard",
  });
});

Deno.test("non-stream: a failure in a 200 keeps whose fault it is, so another key is tried", () => {
  const c = ctx({ stream: false });
  const faultOf = (json: unknown) => {
    try {
      geminiProvider.parseResponse(json, c);
    } catch (err) {
      if (err instanceof ProxyError) return failureOf(err);
      throw err;
    }
    assert.fail("no failure");
  };
  // The stream path retries these on another key; a non-stream request must too.
  assert.equal(faultOf({ candidates: [{ finishReason: "STOP" }] }).keyFault, "transient");
  const limited = faultOf({ error: rateLimitBody("7s").error });
  assert.equal(limited.keyFault, "rate_limit");
  assert.equal(limited.retryAfterMs, 7000);
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

// ---------------------------------------------------------------------------------------------
// thoughtSignature round trip.

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

Deno.test({
  name: "end to end against the strict fake: a tool round trip on a thinking model",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, async () => {
  const fake = await startFakeGemini({ thinkingModel: true, requireKey: ["key-a"] });
  try {
    const upstream = { ...ctx().upstream, baseUrl: fake.url };
    const send = async (body: MessagesRequest, c: CallContext) => {
      const req = geminiProvider.buildRequest(body, c, "");
      const res = await fetch(req.url, { method: "POST", headers: req.headers, body: req.body });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      return stream(text, c);
    };
    const base = claudeCode("claude-code-main-request.json");
    const first: MessagesRequest = {
      ...base,
      messages: [{ role: "user", content: 'use tool Read with {"file_path":"/etc/hosts"}' }],
    };
    const c1 = ctx({ upstream });
    const events = await send(first, c1);
    assert.equal(events.at(-2)!.data.delta.stop_reason, "tool_use");
    const blocks = clientBlocks(events);
    const call = blocks.find((b) => b.type === "tool_use");
    assert.deepEqual(call.input, { file_path: "/etc/hosts" });

    const second: MessagesRequest = {
      ...base,
      messages: [
        ...first.messages,
        { role: "assistant", content: blocks },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: call.id, content: "127.0.0.1 localhost" }],
        },
      ],
    };
    const answer = clientBlocks(await send(second, ctx({ upstream })));
    assert.match(
      answer.find((b) => b.type === "text").text,
      /^Tool result received: \{"output":"127\.0\.0\.1/,
    );
    assert.equal(
      fake.requests[1].body.contents[1].parts.at(-1).thoughtSignature,
      parseToolId(call.id)?.signature,
    );

    // The text answer ends on its text; the next turn replays the call's signature still.
    assert.equal(answer.at(-1).type, "text");
    const third: MessagesRequest = {
      ...base,
      messages: [
        ...second.messages,
        { role: "assistant", content: answer },
        { role: "user", content: "thanks" },
      ],
    };
    await send(third, ctx({ upstream }));
    const replayed = fake.requests[2].body.contents[3];
    assert.equal(replayed.role, "model");
    assert.match(replayed.parts.at(-1).text, /^Tool result received/);
  } finally {
    await fake.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Errors and token counting.

Deno.test("errors: a bad key is the key's fault, not the client's", () => {
  const f = geminiProvider.parseError(400, fixture("error_api_key_invalid.json"), new Headers());
  assert.equal(f.keyFault, "auth");
  assert.equal(f.type, "authentication_error");
  assert.match(f.message, /API key not valid/);
  const forbidden = geminiProvider.parseError(
    403,
    '{"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED"}}',
    new Headers(),
  );
  assert.equal(forbidden.keyFault, "auth");
});

Deno.test("errors: per-minute quota waits RetryInfo, per-day quota waits until the reset", () => {
  const minute = geminiProvider.parseError(
    429,
    fixture("error_rate_limit_minute.json"),
    new Headers(),
  );
  assert.equal(minute.keyFault, "rate_limit");
  assert.equal(minute.type, "rate_limit_error");
  assert.equal(minute.retryAfterMs, 12_000);
  const day = geminiProvider.parseError(429, fixture("error_rate_limit_day.json"), new Headers());
  assert.equal(day.keyFault, "rate_limit");
  assert.ok(day.retryAfterMs! >= 3_600_000 && day.retryAfterMs! <= 86_400_000);
  // 01:00 in California (PST): the daily quota resets in 23 hours; at 23:30, wait the 1 h floor.
  const dayError = JSON.parse(fixture("error_rate_limit_day.json")).error;
  const at = (iso: string) => geminiFailure(429, dayError, new Headers(), "", Date.parse(iso));
  assert.equal(at("2026-01-15T09:00:00Z").retryAfterMs, 23 * 3_600_000);
  assert.equal(at("2026-01-16T07:30:00Z").retryAfterMs, 3_600_000);
  assert.equal(at("2026-07-15T08:00:00Z").retryAfterMs, 23 * 3_600_000, "PDT is UTC-7");
  const bare = geminiProvider.parseError(
    429,
    '[{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}]',
    new Headers({ "retry-after": "7" }),
  );
  assert.equal(bare.retryAfterMs, 7000);
  assert.equal(bare.message, "Resource has been exhausted");
});

Deno.test("errors: overload is transient, a bad request is the client's own", () => {
  const busy = geminiProvider.parseError(
    503,
    '{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}',
    new Headers(),
  );
  assert.equal(busy.keyFault, "transient");
  assert.equal(busy.type, "overloaded_error");
  const bad = geminiProvider.parseError(
    400,
    '{"error":{"code":400,"message":"* GenerateContentRequest.contents: contents is not specified\\n","status":"INVALID_ARGUMENT"}}',
    new Headers(),
  );
  assert.equal(bad.keyFault, undefined);
  assert.equal(bad.type, "invalid_request_error");
  assert.match(bad.message, /contents is not specified/);
  const html = geminiProvider.parseError(502, "<html>Bad Gateway</html>", new Headers());
  assert.equal(html.message, "<html>Bad Gateway</html>");
});

Deno.test({
  name: "count tokens: the generateContentRequest wrapper with system and tools",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  const req = claudeCode("count-tokens-request-with-tools.json");
  const r = geminiProvider.countTokensRequest!(req, ctx({ model: "gemini-2.5-flash" }), "");
  assert.equal(
    r.url,
    "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:countTokens",
  );
  const body = upstreamJson(r);
  assert.deepEqual(Object.keys(body), ["generateContentRequest"]);
  assert.equal(body.generateContentRequest.model, "models/gemini-2.5-flash");
  assert.equal(checkGeminiRequest(body.generateContentRequest), undefined);
  assert.ok(body.generateContentRequest.tools[0].functionDeclarations.length > 0);
  assert.equal(geminiProvider.parseCountTokens!({ totalTokens: 4242 }), 4242);
});

const WEB_SEARCH_TOOL = { type: "web_search_20250305", name: "web_search", max_uses: 8 };

/** Gemini's grounding, as it comes on the last candidate of a googleSearch answer. */
const GROUNDING = {
  searchEntryPoint: { renderedContent: "<style>.container{}</style><div>…</div>" },
  groundingChunks: [
    {
      web: {
        uri: "https://vertexaisearch.cloud.google.com/grounding-api-redirect/AbC1",
        title: "uefa.com",
      },
    },
    {
      web: {
        uri: "https://vertexaisearch.cloud.google.com/grounding-api-redirect/DeF2",
        title: "bbc.co.uk",
      },
    },
  ],
  groundingSupports: [{
    segment: { startIndex: 0, endIndex: 34, text: "Spain won Euro 2024 against England." },
    groundingChunkIndices: [0, 1],
    confidenceScores: [0.97, 0.91],
  }],
  webSearchQueries: ["who won euro 2024"],
};

Deno.test("web search: the server tool becomes googleSearch, alone or not at all", () => {
  const ask = {
    messages: [{ role: "user" as const, content: "Perform a web search for: euro 2024" }],
  };
  const alone = build({ ...ask, tools: [WEB_SEARCH_TOOL] as Any });
  assert.deepEqual(alone.tools, [{ googleSearch: {} }]);
  assert.equal(alone.toolConfig, undefined);
  assert.equal(alone.systemInstruction, undefined);

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

Deno.test("web search: streamed grounding is told after the text, and counted in the usage", () => {
  const c = ctx();
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
  const last = JSON.parse(
    sseEvent(chunk([textPart(" against England.")], {
      finishReason: "STOP",
      usage: usageMetadata(20, 9),
    })).slice(6),
  );
  last.candidates[0].groundingMetadata = GROUNDING;
  const events = stream(sseEvent(chunk([textPart("Spain won Euro 2024")])) + sseEvent(last), c);
  assert.deepEqual(summary(events), [
    "message_start",
    "ping",
    "start 0 text",
    "text_delta 0 Spain won Euro 2024",
    "text_delta 0  against England.",
    "stop 0",
    "start 1 server_tool_use",
    'input_json_delta 1 {"query":"who won euro 2024"}',
    "stop 1",
    "start 2 web_search_tool_result",
    "stop 2",
    "message_delta end_turn",
    "message_stop",
  ]);
  const result = events.find((e) => e.data.content_block?.type === "web_search_tool_result")!;
  assert.equal(result.data.content_block.content.length, 2);
  assert.deepEqual(events.at(-2)!.data.usage.server_tool_use, {
    web_search_requests: 1,
    web_fetch_requests: 0,
  });
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
  assert.equal(declared.length, 11);
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

Deno.test("an image URL whose extension is a built-in member name gets the default type", () => {
  const body = build({
    messages: [{
      role: "user",
      content: [
        { type: "image", source: { type: "url", url: "https://x.test/a.constructor" } },
        { type: "image", source: { type: "url", url: "https://x.test/b.toString?x=1" } },
      ],
    }],
  });
  assert.equal(checkGeminiRequest(body), undefined);
  assert.deepEqual(body.contents[0].parts, [
    { fileData: { mimeType: "image/jpeg", fileUri: "https://x.test/a.constructor" } },
    { fileData: { mimeType: "image/jpeg", fileUri: "https://x.test/b.toString?x=1" } },
  ]);
});

Deno.test("a text document's data is read in linear time, whatever the client put in it", () => {
  // Not base64 at all: a long run of padding before the end once took a quadratic regex.
  const data = "=".repeat(100_000) + "x";
  const started = performance.now();
  const body = build({
    messages: [{
      role: "user",
      content: [{ type: "document", source: { type: "base64", media_type: "text/plain", data } }],
    }],
  } as Any);
  const ms = performance.now() - started;
  assert.ok(ms < 500, `took ${Math.round(ms)} ms`);
  assert.deepEqual(body.contents[0].parts, [{ inlineData: { mimeType: "text/plain", data } }]);
});
