// An Anthropic Messages request as a Chat Completions request: messages, tools, sampling, max
// tokens, reasoning effort, structured output and web search, as each server takes them.
import type { MessagesRequest, Tool } from "../anthropic.ts";
import { nothingToSend } from "../errors.ts";
import { flat } from "../flat_string.ts";
import { jsonBytes, withEncodedMember } from "../json_bytes.ts";
import { sharedTools } from "../parse_body.ts";
import { dropFields } from "../refused_fields.ts";
import { localStops } from "../stop_sequences.ts";
import { prefillOf } from "../prefill_echo.ts";
import { IMAGES, JSON_MODE, toolLimitOf } from "./openai_refused_fields.ts";
import { strictCompatible, withArrayItems } from "./openai_schema.ts";
import { type CallState, callStates } from "./openai_call_state.ts";
import { functionToolOf } from "./client_tool_schemas.ts";
import { loadedFor, MAX_FUNCTIONS, offered, oncePerOfferedTools } from "./deferred_tools.ts";
import { convertMessages } from "./openai_messages.ts";
import { hashHex, openaiToolName } from "./openai_names.ts";
import {
  authHeaders,
  chatCompletionsUrl,
  isDeepSeekApi,
  isGoogle,
  isMistral,
  isMistralApi,
  type Kind,
  kindOf,
  takesReasoningDetails,
  wantsReasoningBack,
} from "./openai_server.ts";
import { absentTools, serverToolsNotice, unrunnableToolName } from "./server_tool_notice.ts";
import { outputSchema, structuredOutputNotice } from "./structured_output_notice.ts";
import { wantsWebSearch, WEB_SEARCH_UNAVAILABLE } from "./web_search.ts";
import type { CallContext, UpstreamRequest } from "./types.ts";

const MAX_USER = 64;
const MAX_STOPS = 4;

// deno-lint-ignore no-explicit-any
type Json = any;

/** The client's tools as functions; `unrunnable` gets the names of the server tools left out. */
function convertTools(
  tools: Tool[] | undefined,
  names: Map<string, string>,
  unrunnable: string[],
  loaded: ReadonlySet<string>,
): Json[] {
  const out: Json[] = [];
  if (!Array.isArray(tools)) return out;
  for (const tool of tools) {
    if (!offered(tool, loaded)) continue;
    const t = functionToolOf(tool);
    if (!t) {
      const name = unrunnableToolName(tool);
      if (name) unrunnable.push(name);
      continue;
    }
    if (typeof t.name !== "string" || !t.name) continue;
    const name = openaiToolName(t.name);
    names.set(name, t.name);
    const fn: Json = { name };
    if (typeof t.description === "string" && t.description) fn.description = t.description;
    fn.parameters = withArrayItems(t.input_schema ?? { type: "object", properties: {} });
    out.push({ type: "function", function: fn });
  }
  return out;
}

/**
 * The tools a request most needs offered, in the client's names: the one `tool_choice` names,
 * those a tool search loaded (a model asked for them just now) and those the conversation called.
 */
function wantedTools(body: MessagesRequest): Set<string> {
  const wanted = new Set(loadedFor(body.tools, body));
  const choice = body.tool_choice as Json;
  if (choice?.type === "tool" && typeof choice.name === "string") wanted.add(choice.name);
  for (const m of body.messages) {
    if (m.role !== "assistant" || !Array.isArray(m.content)) continue;
    for (const b of m.content as Json[]) {
      if (b?.type === "tool_use" && typeof b.name === "string") wanted.add(b.name);
    }
  }
  return wanted;
}

/** `limit` functions, those `wanted` first, then in order; and the client's names of the others. */
function withinLimit(
  tools: Json[],
  limit: number,
  wanted: Set<string>,
  names: Map<string, string>,
): { tools: Json[]; beyond: string[] } {
  const clientName = (t: Json) => names.get(t.function.name) ?? t.function.name;
  const first = tools.filter((t) => wanted.has(clientName(t)));
  const ordered = [...first, ...tools.filter((t) => !wanted.has(clientName(t)))];
  const kept = new Set(ordered.slice(0, limit));
  return {
    // The client's order, among those kept.
    tools: tools.filter((t) => kept.has(t)),
    beyond: tools.filter((t) => !kept.has(t)).map(clientName),
  };
}

function toolsBeyondNotice(limit: number, beyond: string[]): string {
  return `This upstream takes at most ${limit} tools; these of yours are not available in this ` +
    `conversation: ${beyond.join(", ")}.`;
}

interface ConvertedTools {
  count: number;
  /** `tools` as UTF-8 JSON. */
  json: Uint8Array;
  names: Map<string, string>;
  unrunnable: string[];
}

const convertSharedTools = oncePerOfferedTools((tools, loaded): ConvertedTools => {
  const names = new Map<string, string>();
  const unrunnable: string[] = [];
  const out = convertTools(tools as Tool[], names, unrunnable, loaded);
  return { count: out.length, json: jsonBytes(out), names, unrunnable };
});

function effortFromBudget(budget: unknown): string {
  const n = typeof budget === "number" ? budget : 8192;
  return n < 4096 ? "low" : n < 16384 ? "medium" : "high";
}

/** OpenAI's models that take `reasoning_effort`; the others (gpt-4o, gpt-4.1…) reject it. */
const OPENAI_REASONING_MODEL = /^(o\d|gpt-5|gpt-oss|codex)/i;

function reasoningEffort(body: MessagesRequest, kind: Kind, model: string): string | undefined {
  const thinking = body.thinking as Json;
  if (kind === "openai" && !OPENAI_REASONING_MODEL.test(model)) return undefined;
  // Anthropic's effort weighs all of an answer's tokens, thinking or not, as OpenAI's reasoning
  // models reason either way; asked for, it says more than a budget. Thinking turned off beside
  // an effort (Claude Code's subagents) contradicts it: the model's default is left alone.
  if (thinking?.type === "disabled") return undefined;
  // Elsewhere the effort goes with adaptive thinking (Claude Code's): a model there may not reason
  // at all, and one that does (Claude or Gemini behind OpenRouter) is told to only so.
  if (kind === "openai" || thinking?.type === "adaptive") {
    const effort = body.output_config?.effort;
    if (effort === "low" || effort === "medium" || effort === "high") return effort;
    if (effort === "xhigh" || effort === "max") return "high";
  }
  if (thinking?.type === "enabled") return effortFromBudget(thinking.budget_tokens);
  return undefined;
}

function responseFormat(schema: Json, jsonModeOnly: boolean): Json {
  if (jsonModeOnly) return { type: "json_object" };
  const jsonSchema: Json = { name: "output", schema: withArrayItems(schema) };
  if (strictCompatible(schema)) jsonSchema.strict = true;
  return { type: "json_schema", json_schema: jsonSchema };
}

function lastUserText(body: MessagesRequest): string {
  for (let i = body.messages.length - 1; i >= 0; i--) {
    const m = body.messages[i];
    if (m.role !== "user") continue;
    if (typeof m.content === "string") return m.content;
    return m.content.map((b) => b.type === "text" ? (b as { text: string }).text : "").join("\n");
  }
  return "";
}

/** Anthropic's `user_location` in OpenAI's `web_search_options`. */
function webSearchOptions(tools: unknown): Json {
  const tool = (tools as Json[]).find((t) => String(t?.type).startsWith("web_search_"));
  const where = tool?.user_location;
  if (!where || typeof where !== "object") return {};
  const approximate: Json = {};
  for (const k of ["city", "region", "country", "timezone"]) {
    if (typeof where[k] === "string" && where[k]) approximate[k] = where[k];
  }
  return Object.keys(approximate).length
    ? { user_location: { type: "approximate", approximate } }
    : {};
}

/**
 * Anthropic's `tool_choice` as OpenAI's `tool_choice` and `parallel_tool_calls`. A named tool that
 * is not among the functions `offered` (upstream name → client name), a server tool, cannot be
 * forced, and servers refuse the name.
 */
function setToolChoice(upstream: Json, choice: Json, offered: Map<string, string>): void {
  if (choice?.type === "auto") upstream.tool_choice = "auto";
  else if (choice?.type === "any") upstream.tool_choice = "required";
  else if (choice?.type === "none") upstream.tool_choice = "none";
  else if (choice?.type === "tool" && typeof choice.name === "string") {
    const name = openaiToolName(choice.name);
    upstream.tool_choice = offered.has(name) ? { type: "function", function: { name } } : "auto";
  }
  if (choice?.disable_parallel_tool_use === true && choice.type !== "none") {
    upstream.parallel_tool_calls = false;
  }
}

/** The client's max_tokens within the upstream's cap, under the field name the upstream takes. */
function setMaxTokens(upstream: Json, maxTokens: number, ctx: CallContext, kind: Kind): void {
  let field = ctx.upstream.maxTokensField ??
    (kind === "openai" ? "max_completion_tokens" : "max_tokens");
  if (ctx.dropFields?.includes(field)) {
    field = field === "max_tokens" ? "max_completion_tokens" : "max_tokens";
  }
  const cap = ctx.upstream.maxTokens;
  // 0 only pre-warms Anthropic's cache; elsewhere it is invalid, and 1 is the cheapest stand-in.
  let max = Math.max(1, Math.floor(maxTokens));
  if (typeof cap === "number" && cap > 0) max = Math.min(max, cap);
  upstream[field] = max;
}

export function buildRequest(body: MessagesRequest, ctx: CallContext): UpstreamRequest {
  const kind = kindOf(ctx);
  const names = new Map<string, string>();
  const allStops = Array.isArray(body.stop_sequences)
    ? body.stop_sequences.filter((s) => typeof s === "string" && s !== "")
    : [];
  // OpenAI's search models search by themselves; the others cannot search at all.
  const searchModel = kind === "openai" && /search/i.test(ctx.model);
  const search = wantsWebSearch(body.tools);
  // OpenAI's reasoning and search models refuse sampling settings and stop sequences outright.
  const reasoningModel = kind === "openai" &&
    (OPENAI_REASONING_MODEL.test(ctx.model) || (search && searchModel));
  const stops = reasoningModel || ctx.dropFields?.includes("stop")
    ? []
    : allStops.slice(0, MAX_STOPS);
  const historyIds = new Set<string>();
  const state: CallState = {
    stops,
    localStops: localStops(allStops.slice(stops.length)),
    names,
    historyIds,
  };
  const reasoningBack = wantsReasoningBack(ctx);
  const thinkingType = (body.thinking as Json)?.type;
  if (thinkingType !== "enabled" && thinkingType !== "adaptive") state.noThinking = true;
  else if ((body.thinking as Json)?.display === "omitted") {
    state.omitThinking = true;
    if (reasoningBack) state.carryText = true;
  }
  // OpenAI's own models take a prefill as a finished turn; compatible servers (llama.cpp, Ollama,
  // vLLM, Mistral's prefix) continue it, and a continuation may begin as the prefill did.
  const prefill = kind === "openai" ? prefillOf(body) : "";
  if (prefill) state.prefill = prefill;
  callStates.set(ctx, state);
  if (search && searchModel) state.webSearch = { query: lastUserText(body).slice(0, 500) };
  const schema = outputSchema(body);
  // DeepSeek's API has JSON mode but no schemas; another server that refused one is learned
  // (local servers of DeepSeek's models take schemas, and LM Studio refuses JSON mode).
  const jsonModeOnly = schema !== undefined &&
    ((kind === "custom" && isDeepSeekApi(ctx)) || ctx.dropFields?.includes(JSON_MODE) === true);
  // OpenAI's own API takes 128 functions; another server that refused more is held to its number.
  const limit = toolLimitOf(ctx.dropFields) ?? (kind === "openai" ? MAX_FUNCTIONS : 0);
  let shared = sharedTools(body.tools) ? convertSharedTools(body.tools, body) : undefined;
  if (shared && limit && shared.count > limit) shared = undefined;
  const unrunnable = shared ? shared.unrunnable : [];
  let tools = shared
    ? []
    : convertTools(body.tools, names, unrunnable, loadedFor(body.tools, body));
  let beyond: string[] = [];
  if (limit && tools.length > limit) {
    ({ tools, beyond } = withinLimit(tools, limit, wantedTools(body), names));
  }
  if (shared) { for (const [k, v] of shared.names) names.set(k, v); }
  const absent = absentTools(unrunnable, body.mcp_servers);
  const notices = [
    beyond.length ? toolsBeyondNotice(limit, beyond) : "",
    search && !searchModel ? WEB_SEARCH_UNAVAILABLE : "",
    absent.length ? serverToolsNotice(absent) : "",
    // In JSON mode the schema is said in the prompt ("This response_format type is unavailable").
    jsonModeOnly ? structuredOutputNotice(schema) : "",
  ].filter(Boolean);
  const mistralApi = kind === "custom" && isMistralApi(ctx);

  const upstream: Json = {
    model: ctx.model,
    messages: convertMessages(body, {
      kind,
      names,
      notice: notices.length ? notices.join("\n\n") : undefined,
      reasoningBack,
      reasoningDetailsBack: takesReasoningDetails(ctx),
      mistral: kind === "custom" && isMistral(ctx),
      noImages: ctx.dropFields?.includes(IMAGES),
      callIds: historyIds,
      google: isGoogle(ctx),
    }),
  };
  if (!upstream.messages.length) throw nothingToSend();
  if (state.webSearch) upstream.web_search_options = webSearchOptions(body.tools);
  if (tools.length) upstream.tools = tools;
  if (upstream.tools || shared?.count) {
    setToolChoice(upstream, body.tool_choice, names);
    if (upstream.parallel_tool_calls === false) state.singleCall = true;
  }
  if (typeof body.max_tokens === "number") setMaxTokens(upstream, body.max_tokens, ctx, kind);
  if (!reasoningModel) {
    if (typeof body.temperature === "number") upstream.temperature = body.temperature;
    if (typeof body.top_p === "number") upstream.top_p = body.top_p;
    if (stops.length) upstream.stop = stops;
  }
  // Mistral's API answers 422 to any field outside its own list, these among them.
  if (kind === "custom" && !mistralApi && typeof body.top_k === "number") {
    upstream.top_k = body.top_k;
  }
  const effort = mistralApi ? undefined : reasoningEffort(body, kind, ctx.model);
  if (effort) upstream.reasoning_effort = effort;
  // DeepSeek's API thinks unless told not to (V4 on): it is told whether the client asked to.
  if (isDeepSeekApi(ctx)) {
    upstream.thinking = { type: state.noThinking ? "disabled" : "enabled" };
  }
  if (schema !== undefined) upstream.response_format = responseFormat(schema, jsonModeOnly);
  const user = mistralApi ? undefined : body.metadata?.user_id;
  if (typeof user === "string" && user) {
    upstream.user = user.length <= MAX_USER
      ? user
      : flat("user_", hashHex(user), hashHex(`${user}#`));
  }
  if (ctx.stream) {
    upstream.stream = true;
    // Mistral sends usage on its last chunk unasked.
    if (!mistralApi) upstream.stream_options = { include_usage: true };
  }

  if (ctx.dropFields) dropFields(upstream, ctx.dropFields);
  const headers = authHeaders(ctx, { "content-type": "application/json" });
  const json = JSON.stringify(upstream);
  return {
    url: chatCompletionsUrl(ctx.upstream.baseUrl),
    method: "POST",
    headers,
    body: shared?.count ? withEncodedMember(json, "tools", shared.json) : json,
  };
}
