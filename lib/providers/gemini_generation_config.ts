// The request's sampling, output limit, thinking and answer format as Gemini's generationConfig.
import type { MessagesRequest } from "../anthropic.ts";
import { outputFormat } from "../anthropic.ts";
import { countOr0, isObject } from "../json_value.ts";
import { localStops } from "../stop_sequences.ts";
import { modelName, type RequestState } from "./gemini_call.ts";
import { cleanGeminiSchema } from "./gemini_schema.ts";
import type { CallContext } from "./types.ts";

type Obj = Record<string, unknown>;
/** Output tokens kept for the answer after a thinking budget, as for Anthropic upstreams. */
const ANSWER_ROOM = 1024;
/** Stop sequences Gemini takes in one request. */
const MAX_STOPS = 5;
/** Models before 2.5 (and Gemma): no thinking, no JSON Schema for the answer. */
const BEFORE_2_5 = /gemini-(1\.|2\.0)|gemma/i;
/**
 * Gemini 3 and later: they take an answer's JSON Schema beside function declarations (2.x refuse
 * it) and a thinking level.
 */
const GEMINI_3_ON = /gemini-(?:[3-9]|\d{2,})/i;

function thinkingConfig(body: MessagesRequest, model: string): Obj | undefined {
  // Older models have no thinking at all and reject the field.
  if (BEFORE_2_5.test(model)) return undefined;
  const t = body.thinking;
  // A low effort asks for less thinking, asked with thinking or without (Gemini 2.5 and 3 think
  // by default): Gemini 3's lowest level every model of it takes, or a small budget. Higher
  // efforts keep Gemini's own dynamic thinking, which is its high.
  const low = body.output_config?.effort === "low";
  if (!t || !isObject(t)) return low ? lowThinking(model, false) : undefined;
  const pro = /pro/i.test(model);
  if (t.type === "enabled") {
    const budget = Math.floor(countOr0(t.budget_tokens)) || 1024;
    const clamped = pro ? Math.min(Math.max(budget, 128), 32768) : Math.min(budget, 24576);
    return { includeThoughts: t.display !== "omitted", thinkingBudget: clamped };
  }
  if (t.type === "adaptive") {
    const includeThoughts = t.display !== "omitted";
    return low ? lowThinking(model, includeThoughts) : { includeThoughts, thinkingBudget: -1 };
  }
  if (t.type === "disabled" && !pro) return { thinkingBudget: 0 };
  return undefined;
}

function lowThinking(model: string, includeThoughts: boolean): Obj {
  return GEMINI_3_ON.test(model)
    ? { includeThoughts, thinkingLevel: "low" }
    : { includeThoughts, thinkingBudget: /pro/i.test(model) ? 1024 : 512 };
}

export function generationConfig(
  body: MessagesRequest,
  ctx: CallContext,
  hasTools: boolean,
  state: RequestState,
): Obj {
  const gc: Obj = {};
  const cap = countOr0(ctx.upstream.maxTokens);
  const max = countOr0(body.max_tokens);
  if (max > 0) gc.maxOutputTokens = cap > 0 ? Math.min(max, cap) : max;
  else if (cap > 0) gc.maxOutputTokens = cap;
  if (typeof body.temperature === "number") gc.temperature = body.temperature;
  if (typeof body.top_p === "number") gc.topP = body.top_p;
  if (typeof body.top_k === "number") gc.topK = body.top_k;
  const stops = (body.stop_sequences ?? []).filter((s) => typeof s === "string" && s);
  // Gemini takes five stop sequences at most; the answer meets the others in the proxy.
  if (stops.length) gc.stopSequences = stops.slice(0, MAX_STOPS);
  if (stops.length > MAX_STOPS) state.localStops = localStops(stops.slice(MAX_STOPS));
  const model = modelName(ctx.model);
  const thinking = thinkingConfig(body, model);
  if (thinking) {
    // Thoughts count in maxOutputTokens: a budget as large leaves the answer no room (an empty
    // MAX_TOKENS), once a cap or a learned limit brought maxOutputTokens under it.
    const out = gc.maxOutputTokens as number | undefined;
    const budget = thinking.thinkingBudget as number | undefined;
    if (out !== undefined && budget !== undefined && budget > 0 && budget >= out - ANSWER_ROOM) {
      thinking.thinkingBudget = Math.max(/pro/i.test(model) ? 128 : 0, out - ANSWER_ROOM);
    }
    gc.thinkingConfig = thinking;
  }
  const format = outputFormat(body);
  if (
    isObject(format) && format.type === "json_schema" && (!hasTools || GEMINI_3_ON.test(model))
  ) {
    gc.responseMimeType = "application/json";
    if (!BEFORE_2_5.test(model)) {
      // Standard JSON Schema, so the answer has the client's types (the subset has no integer
      // enums or free-form objects); only the dialect URI goes, as for parametersJsonSchema.
      if (isObject(format.schema)) {
        const { $schema: _, ...schema } = format.schema;
        gc.responseJsonSchema = schema;
      }
    } else {
      const { schema, jsonPaths } = cleanGeminiSchema(format.schema);
      if (schema && !jsonPaths.some((p) => p.length === 0)) {
        gc.responseSchema = schema;
        if (jsonPaths.length) state.answerPaths = jsonPaths;
      }
    }
  }
  return gc;
}
