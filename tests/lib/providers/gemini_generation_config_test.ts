import assert from "node:assert/strict";
import { HAVE_CLAUDE_CODE_FIXTURES } from "../../helpers/fixtures.ts";
import { geminiProvider } from "../../../lib/providers/gemini.ts";
import type { CallContext } from "../../../lib/providers/types.ts";
import {
  checkGeminiRequest,
  chunk,
  sseEvent,
  textPart,
  usageMetadata,
} from "../../fakes/gemini_upstream.ts";
import { type Any, build, claudeCode, ctx, stream, summary } from "../../helpers/gemini_calls.ts";

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
  assert.deepEqual(msg.content, [{ type: "text", text: answer }]);
});

Deno.test("structured output with tools: Gemini 3 gets both, 2.x only the tools (it refuses the two together)", () => {
  const withTools = (model: string) =>
    build({
      messages: [{ role: "user", content: "rate it" }],
      tools: [{ name: "lookup", input_schema: { type: "object", properties: {} } }],
      output_config: { format: { type: "json_schema", schema: STRUCTURED } },
    }, ctx({ model, stream: false }));
  const three = withTools("gemini-3-pro-preview");
  assert.equal(checkGeminiRequest(three), undefined);
  assert.equal(three.generationConfig.responseMimeType, "application/json");
  assert.ok(three.generationConfig.responseJsonSchema);
  assert.ok(three.tools?.[0]?.functionDeclarations?.length);
  const two = withTools("gemini-2.5-flash");
  assert.equal(two.generationConfig.responseMimeType, undefined);
  assert.equal(two.generationConfig.responseJsonSchema, undefined);
  // …and is told the schema in words, so that the answer still parses as the client expects.
  const system = two.systemInstruction.parts[0].text;
  assert.match(system, /Answer with a single JSON object/);
  assert.ok(system.includes(JSON.stringify(STRUCTURED)));
  assert.equal(three.systemInstruction, undefined);
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
  assert.deepEqual(msg.content, [{ type: "text", text: expected }]);
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
    build({ max_tokens: 64000, thinking, messages: msg }, ctx({ model })).generationConfig
      ?.thinkingConfig;
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
  // Thoughts the client asked not to see are not asked for.
  assert.deepEqual(cfg({ type: "adaptive", display: "omitted" }, "gemini-3-pro-preview"), {
    includeThoughts: false,
    thinkingBudget: -1,
  });
  assert.deepEqual(
    cfg({ type: "enabled", budget_tokens: 4000, display: "omitted" }, "gemini-2.5-flash"),
    { includeThoughts: false, thinkingBudget: 4000 },
  );
  assert.deepEqual(cfg({ type: "disabled" }, "gemini-2.5-flash"), { thinkingBudget: 0 });
  assert.equal(cfg({ type: "disabled" }, "gemini-2.5-pro"), undefined, "pro cannot turn it off");
  assert.equal(cfg({ type: "adaptive" }, "gemini-2.0-flash"), undefined, "no thinking on 2.0");
  // A low effort thinks less: Gemini 3 by its level, 2.5 by a small budget; higher ones as Gemini likes.
  const effort = (level: string, model: string) =>
    build(
      {
        max_tokens: 64000,
        thinking: { type: "adaptive" },
        output_config: { effort: level },
        messages: msg,
      },
      ctx({ model }),
    )
      .generationConfig?.thinkingConfig;
  assert.deepEqual(effort("low", "gemini-3-pro-preview"), {
    includeThoughts: true,
    thinkingLevel: "low",
  });
  assert.deepEqual(effort("low", "gemini-2.5-flash"), {
    includeThoughts: true,
    thinkingBudget: 512,
  });
  assert.deepEqual(effort("low", "gemini-2.5-pro"), {
    includeThoughts: true,
    thinkingBudget: 1024,
  });
  assert.deepEqual(effort("max", "gemini-3-pro-preview"), {
    includeThoughts: true,
    thinkingBudget: -1,
  });
  // Effort applies without thinking too (Gemini thinks by default); no thoughts are shown then.
  const effortOnly = (level: string, model: string) =>
    build({ max_tokens: 8000, output_config: { effort: level }, messages: msg }, ctx({ model }))
      .generationConfig?.thinkingConfig;
  assert.deepEqual(effortOnly("low", "gemini-3-flash-preview"), {
    includeThoughts: false,
    thinkingLevel: "low",
  });
  assert.deepEqual(effortOnly("low", "gemini-2.5-flash"), {
    includeThoughts: false,
    thinkingBudget: 512,
  });
  assert.equal(effortOnly("high", "gemini-3-pro-preview"), undefined);
  assert.equal(effortOnly("low", "gemini-2.0-flash"), undefined, "no thinking on 2.0");
});

Deno.test("thinking: a budget stays under a capped maxOutputTokens, leaving the answer room", () => {
  const body = {
    max_tokens: 32000,
    thinking: { type: "enabled" as const, budget_tokens: 24000 },
    messages: [{ role: "user" as const, content: "hi" }],
  };
  const gc = (model: string, maxTokens?: number) =>
    build(body, ctx({ model, upstream: { ...ctx().upstream, maxTokens } })).generationConfig;
  assert.equal(gc("gemini-2.5-flash").thinkingConfig.thinkingBudget, 24000, "room enough");
  const capped = gc("gemini-2.5-flash", 16384);
  assert.equal(capped.maxOutputTokens, 16384);
  assert.equal(capped.thinkingConfig.thinkingBudget, 15360);
  assert.equal(
    gc("gemini-2.5-pro", 1000).thinkingConfig.thinkingBudget,
    128,
    "pro cannot go lower",
  );
  assert.equal(gc("gemini-2.5-flash", 1000).thinkingConfig.thinkingBudget, 0);
});
