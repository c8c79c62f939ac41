// Anthropic Messages ⇄ Gemini generateContent / streamGenerateContent (Developer API, v1beta).
import type {
  MessageResponse,
  MessagesRequest,
  ResponseBlock,
  StopReason,
  Usage,
  WebSearchResult,
} from "../anthropic.ts";
import { newId, outputFormat, searchResultText } from "../anthropic.ts";
import {
  answerMessage,
  textBlock,
  toolUseBlock,
  webSearchBlocks,
  webSearchResult,
} from "../answer_shape.ts";
import { b64urlToText, toB64url } from "../base64url.ts";
import { flat } from "../flat_string.ts";
import { jsonBytes, withEncodedMember } from "../json_bytes.ts";
import { countOr0, isObject } from "../json_value.ts";
import { oncePerSharedTools, sharedTools } from "../parse_body.ts";
import { nothingToSend } from "../errors.ts";
import { shortHash } from "../short_hash.ts";
import { UpstreamError } from "./upstream_error.ts";
import { withoutBillingLine } from "./billing_line.ts";
import { streamCutShort } from "./failure.ts";
import { geminiErrorFailure, geminiFailure } from "./gemini_errors.ts";
import { modelName } from "./gemini_model_name.ts";
import {
  type Carry,
  fingerprint,
  ID_HEAD,
  mintToolId,
  parseToolId,
  readCarry,
  SIGNATURE_PREFIX,
  SKIP_SIGNATURE,
} from "./gemini_thought_signatures.ts";
import { openaiContextOverflow } from "./openai_context_overflow.ts";
import { openaiOutputLimitHint } from "./openai_output_limits.ts";
import {
  type CleanedSchema,
  cleanGeminiSchema,
  cleanToolParameters,
  decodeJsonPaths,
  decodeJsonText,
  encodeJsonPaths,
  type JsonPath,
} from "./gemini_schema.ts";
import type { AnthropicStreamWriter, UpstreamFailure } from "./stream_writer.ts";
import { wantsWebSearch, WEB_SEARCH_UNAVAILABLE } from "./web_search.ts";
import type { SseMessage } from "../sse.ts";
import type { CallContext, Provider, StreamTranslator, UpstreamRequest } from "./types.ts";

type Obj = Record<string, unknown>;
type Part = Obj;
/** Client content blocks, read defensively: clients send shapes the types do not list. */
type Block = Obj;
interface Content {
  role: "user" | "model";
  parts: Part[];
}

const REFUSAL_REASONS = new Set([
  "SAFETY",
  "RECITATION",
  "PROHIBITED_CONTENT",
  "BLOCKLIST",
  "SPII",
  "LANGUAGE",
  "IMAGE_SAFETY",
  "IMAGE_PROHIBITED_CONTENT",
  "IMAGE_RECITATION",
]);
const FAILED_CALL_REASONS = new Set(["MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL"]);
/** Models before 2.5 (and Gemma): no thinking, no JSON Schema for the answer. */
const BEFORE_2_5 = /gemini-(1\.|2\.0)|gemma/i;

// ---------------------------------------------------------------------------------------------
// Per-request state: what the response needs from the request (names, JSON-text paths).

interface RequestState {
  /** Gemini function name → the client's tool name. */
  names: Map<string, string>;
  /** Gemini function name → argument paths Gemini writes as JSON text. */
  jsonPaths: Map<string, JsonPath[]>;
  /** Signatures of text parts are only worth carrying when the client asked for thinking. */
  carryText: boolean;
  /** The client's web search tool became Gemini's googleSearch: grounding is told as searches. */
  webSearch?: boolean;
  /** Where an older model's structured answer holds JSON text standing for other values. */
  answerPaths?: JsonPath[];
}

// The pipeline hands the same context object to buildRequest and to the response side.
const states = new WeakMap<CallContext, RequestState>();

function stateFor(ctx: CallContext): RequestState {
  return states.get(ctx) ?? { names: new Map(), jsonPaths: new Map(), carryText: false };
}

/** The API root (`…/v1beta`), whether or not the configured base URL already names a version. */
export function geminiApiRoot(baseUrl: string | undefined): string {
  const base = (baseUrl || geminiProvider.defaultBaseUrl).replace(/\/+$/, "");
  return /\/v1(alpha|beta\d*)?$/.test(base) ? base : `${base}/v1beta`;
}

function methodUrl(ctx: CallContext, method: string): string {
  return `${geminiApiRoot(ctx.upstream.baseUrl)}/models/${
    encodeURIComponent(modelName(ctx.model))
  }:${method}`;
}

/** Gemini function names: a letter or `_` first, then `[A-Za-z0-9_.:-]`, 64 at most. */
export function geminiFunctionName(name: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/.test(name)) return name;
  let clean = name.replace(/[^A-Za-z0-9_.:-]/g, "_");
  if (!/^[A-Za-z_]/.test(clean)) clean = `_${clean}`;
  // A hash keeps two names that clean to the same text apart.
  return flat(clean.slice(0, 55), "_", shortHash(name));
}

// ---------------------------------------------------------------------------------------------
// Request.

function blocksOf(content: unknown): Block[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  return Array.isArray(content) ? content.filter(isObject) : [];
}

function systemText(body: MessagesRequest): string {
  const pieces: string[] = [];
  const add = (raw: unknown) => {
    if (typeof raw !== "string") return;
    const text = withoutBillingLine(raw);
    if (text.trim()) pieces.push(text);
  };
  for (const b of blocksOf(body.system)) if (b.type === "text") add(b.text);
  for (const m of body.messages ?? []) {
    if (m.role !== "system") continue;
    for (const b of blocksOf(m.content)) if (b.type === "text") add(b.text);
  }
  return pieces.join("\n\n");
}

const MIME_BY_EXT: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  heic: "image/heic",
  heif: "image/heif",
  pdf: "application/pdf",
  txt: "text/plain",
};

function guessMime(url: string, fallback: string): string {
  const ext = /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(url)?.[1]?.toLowerCase();
  return (ext && Object.hasOwn(MIME_BY_EXT, ext) && MIME_BY_EXT[ext]) || fallback;
}

/** An image or document block as parts (inline data, a file URI, or its text). */
function mediaParts(block: Block): Part[] {
  const source = isObject(block.source) ? block.source : undefined;
  if (!source) return [];
  if (block.type === "image") {
    if (source.type === "base64" && typeof source.data === "string" && source.data) {
      return [{
        inlineData: { mimeType: String(source.media_type || "image/png"), data: source.data },
      }];
    }
    if (source.type === "url" && typeof source.url === "string") {
      return [{ fileData: { mimeType: guessMime(source.url, "image/jpeg"), fileUri: source.url } }];
    }
    return [{ text: "[An image was attached here but could not be forwarded.]" }];
  }
  if (block.type !== "document") return [];
  const title = typeof block.title === "string" && block.title ? `${block.title}\n\n` : "";
  if (source.type === "base64" && typeof source.data === "string" && source.data) {
    const mimeType = String(source.media_type || "application/pdf");
    if (mimeType.startsWith("text/")) {
      try {
        return textParts(flat(title, b64urlToText(toB64url(source.data))));
      } catch { /* not base64 after all: send it as data */ }
    }
    return [{ inlineData: { mimeType, data: source.data } }];
  }
  if (source.type === "text" && typeof source.data === "string") {
    return textParts(title + source.data);
  }
  if (source.type === "url" && typeof source.url === "string") {
    return [{
      fileData: { mimeType: guessMime(source.url, "application/pdf"), fileUri: source.url },
    }];
  }
  if (source.type === "content") {
    const parts: Part[] = textParts(title);
    for (const b of blocksOf(source.content)) {
      parts.push(...(b.type === "text" ? textParts(b.text) : mediaParts(b)));
    }
    return parts;
  }
  return [];
}

/** Gemini rejects empty text: a blank string gives no part at all. */
function textParts(text: unknown): Part[] {
  return typeof text === "string" && text.trim() ? [{ text }] : [];
}

interface ToolResult {
  toolUseId: string;
  text: string;
  isError: boolean;
}

/** A tool_result's text (blocks joined in order) and its images and documents as extra parts. */
function toolResultOf(block: Block): [ToolResult, Part[]] {
  const texts: string[] = [];
  const extras: Part[] = [];
  const content = block.content;
  if (typeof content === "string") texts.push(content);
  else {
    for (const b of blocksOf(content)) {
      if (b.type === "text" && typeof b.text === "string") texts.push(b.text);
      else if (b.type === "image" || b.type === "document") extras.push(...mediaParts(b));
      else if (b.type === "search_result") texts.push(searchResultText(b));
      else if (typeof b.text === "string") texts.push(b.text);
    }
  }
  return [{
    toolUseId: String(block.tool_use_id ?? ""),
    text: texts.join("\n"),
    isError: block.is_error === true,
  }, extras];
}

interface Call {
  id: string;
  name: string;
  geminiId?: string;
}

interface Turn {
  role: "user" | "model";
  parts: Part[];
  calls: Call[];
  results: ToolResult[];
  extras: Part[];
}

interface HistoryOptions {
  fp: string;
  jsonPaths: Map<string, JsonPath[]>;
}

function modelTurn(blocks: Block[], opts: HistoryOptions): Turn {
  const turn: Turn = { role: "model", parts: [], calls: [], results: [], extras: [] };
  const carry: Carry = {};
  for (const b of blocks) {
    if (b.type !== "thinking") continue;
    const c = readCarry(b.signature);
    if (!c || c.f !== opts.fp) continue;
    if (typeof c.t === "string") carry.t = c.t;
    if (isObject(c.c)) carry.c = { ...carry.c, ...c.c };
  }
  for (const b of blocks) {
    if (b.type === "text") turn.parts.push(...textParts(b.text));
    else if (b.type === "tool_use" && typeof b.name === "string") {
      const id = String(b.id ?? "");
      const name = geminiFunctionName(b.name);
      const info = parseToolId(id);
      const call: Call = { id, name };
      if (info?.geminiId) call.geminiId = info.geminiId;
      const fc: Obj = { name, args: argsOf(b.input, opts.jsonPaths.get(name)) };
      if (call.geminiId) fc.id = call.geminiId;
      const part: Part = { functionCall: fc };
      // The carry was checked against this model and key already; the id's own part is here.
      const sig = info?.signature && info.fp === opts.fp
        ? info.signature
        : info && carry.c?.[info.head];
      if (sig) part.thoughtSignature = sig;
      turn.parts.push(part);
      turn.calls.push(call);
    } else if (b.type === "image" || b.type === "document") turn.parts.push(...mediaParts(b));
  }
  if (carry.t) {
    // A text part's signature goes back on the last text part; never on a call, where it is wrong.
    for (let i = turn.parts.length - 1; i >= 0; i--) {
      const p = turn.parts[i];
      if (typeof p.text === "string") {
        if (!p.thoughtSignature) p.thoughtSignature = carry.t;
        break;
      }
    }
  }
  return turn;
}

function argsOf(input: unknown, paths: JsonPath[] | undefined): Obj {
  let args: unknown = input;
  if (typeof args === "string") {
    try {
      args = JSON.parse(args);
    } catch { /* not JSON */ }
  }
  if (!isObject(args)) return {};
  return paths?.length ? encodeJsonPaths(args, paths) as Obj : args;
}

function userTurn(blocks: Block[]): Turn {
  const turn: Turn = { role: "user", parts: [], calls: [], results: [], extras: [] };
  for (const b of blocks) {
    if (b.type === "text") turn.parts.push(...textParts(b.text));
    else if (b.type === "tool_result") {
      const [result, extras] = toolResultOf(b);
      turn.results.push(result);
      turn.extras.push(...extras);
    } else if (b.type === "image" || b.type === "document") turn.parts.push(...mediaParts(b));
    else if (b.type !== "thinking" && b.type !== "redacted_thinking") {
      // Server-tool results and the like: their text is all Gemini could use.
      turn.parts.push(...textParts(b.type === "search_result" ? searchResultText(b) : b.text));
    }
  }
  return turn;
}

function isEmpty(t: Turn): boolean {
  return t.parts.length === 0 && t.calls.length === 0 && t.results.length === 0 &&
    t.extras.length === 0;
}

function responsePart(name: string, result: ToolResult | undefined, geminiId?: string): Part {
  const fr: Obj = {
    name,
    response: !result
      ? { error: "No result was provided for this tool call." }
      : result.isError
      ? { error: result.text }
      : { output: result.text },
  };
  if (geminiId) fr.id = geminiId;
  return { functionResponse: fr };
}

function orphanText(r: ToolResult): Part[] {
  return textParts(
    flat("[Result of tool call ", r.toolUseId, r.isError ? " (error)" : "", "]\n", r.text),
  );
}

/**
 * Messages → contents: strict user/model alternation starting with user, no empty parts, and
 * every model turn with N calls answered by the next user turn with N responses (results first).
 */
function buildContents(body: MessagesRequest, opts: HistoryOptions): Content[] {
  const turns: Turn[] = [];
  for (const m of body.messages ?? []) {
    if (m.role === "system") continue;
    const blocks = blocksOf(m.content);
    const turn = m.role === "assistant" ? modelTurn(blocks, opts) : userTurn(blocks);
    if (isEmpty(turn)) continue;
    const prev = turns[turns.length - 1];
    if (prev && prev.role === turn.role) {
      prev.parts.push(...turn.parts);
      prev.calls.push(...turn.calls);
      prev.results.push(...turn.results);
      prev.extras.push(...turn.extras);
    } else turns.push(turn);
  }

  const contents: Content[] = [];
  for (let i = 0; i < turns.length; i++) {
    const turn = turns[i];
    if (turn.role === "model") {
      const first = turn.parts.find((p) => p.functionCall);
      if (first && !first.thoughtSignature) first.thoughtSignature = SKIP_SIGNATURE;
      contents.push({ role: "model", parts: turn.parts });
      if (turn.calls.length && turns[i + 1]?.role !== "user") {
        // Calls nobody answered (the history ends here): Gemini still wants a response each.
        turns.splice(i + 1, 0, { role: "user", parts: [], calls: [], results: [], extras: [] });
      }
      continue;
    }
    const prev = turns[i - 1];
    const calls = prev?.role === "model" ? prev.calls : [];
    const pending = [...turn.results];
    const responses = calls.map((call) => {
      const at = pending.findIndex((r) => r.toolUseId === call.id);
      const result = at >= 0 ? pending.splice(at, 1)[0] : undefined;
      return responsePart(call.name, result, call.geminiId);
    });
    const parts = [...responses, ...pending.flatMap(orphanText), ...turn.extras, ...turn.parts];
    if (parts.length) contents.push({ role: "user", parts });
  }
  if (contents[0]?.role === "model") {
    contents.unshift({ role: "user", parts: [{ text: "(conversation continues)" }] });
  }
  return contents;
}

function thinkingConfig(body: MessagesRequest, model: string): Obj | undefined {
  const t = body.thinking;
  if (!t || !isObject(t)) return undefined;
  // Older models have no thinking at all and reject the field.
  if (BEFORE_2_5.test(model)) return undefined;
  const pro = /pro/i.test(model);
  if (t.type === "enabled") {
    const budget = Math.floor(countOr0(t.budget_tokens)) || 1024;
    const clamped = pro ? Math.min(Math.max(budget, 128), 32768) : Math.min(budget, 24576);
    return { includeThoughts: true, thinkingBudget: clamped };
  }
  if (t.type === "adaptive") {
    return { includeThoughts: t.display !== "omitted", thinkingBudget: -1 };
  }
  if (t.type === "disabled" && !pro) return { thinkingBudget: 0 };
  return undefined;
}

interface Declared {
  tools?: Obj[];
  /** `tools` as UTF-8 JSON, when the client's tools are the ones it sends every time. */
  toolsJson?: Uint8Array;
  toolConfig?: Obj;
  state: RequestState;
}

/**
 * Cleaned parameter schemas by their JSON: a client whose tools change a little between requests
 * still has most of them cleaned once (cleaning Claude Code's 24 schemas cost 0.3 ms a request).
 */
const cleanedSchemas = new Map<string, CleanedSchema>();
const MAX_CLEANED_SCHEMAS = 512;

function cleanedParameters(schema: unknown): CleanedSchema {
  if (!isObject(schema)) return cleanToolParameters(schema);
  // Taken before cleaning, which may rewrite parts of the schema it is given.
  const key = JSON.stringify(schema);
  let cleaned = cleanedSchemas.get(key);
  if (!cleaned) {
    cleaned = cleanToolParameters(schema);
    if (cleanedSchemas.size >= MAX_CLEANED_SCHEMAS) cleanedSchemas.clear();
    cleanedSchemas.set(key, cleaned);
  }
  return cleaned;
}

interface Declarations {
  decls: Obj[];
  names: Map<string, string>;
  jsonPaths: Map<string, JsonPath[]>;
  /** `[{ functionDeclarations: decls }]` as UTF-8 JSON, for shared tools. */
  json?: Uint8Array;
}

function declarations(tools: readonly unknown[] | undefined): Declarations {
  const out: Declarations = { decls: [], names: new Map(), jsonPaths: new Map() };
  for (const tool of tools ?? []) {
    // Server tools (web_search_2025…, bash_…) have no Gemini counterpart.
    if (!isObject(tool) || typeof tool.name !== "string" || (tool.type && tool.type !== "custom")) {
      continue;
    }
    const name = geminiFunctionName(tool.name);
    if (out.names.has(name)) continue;
    out.names.set(name, tool.name);
    const { schema, jsonPaths } = cleanedParameters(tool.input_schema);
    if (jsonPaths.length) out.jsonPaths.set(name, jsonPaths);
    const decl: Obj = { name };
    if (typeof tool.description === "string" && tool.description) {
      decl.description = tool.description;
    }
    if (schema) decl.parameters = schema;
    out.decls.push(decl);
  }
  return out;
}

const declarationsOfShared = oncePerSharedTools((tools): Declarations => {
  const done = declarations(tools);
  done.json = jsonBytes([{ functionDeclarations: done.decls }]);
  return done;
});

function declareTools(body: MessagesRequest): Declared {
  const declared = sharedTools(body.tools)
    ? declarationsOfShared(body.tools)
    : declarations(body.tools);
  const state: RequestState = {
    names: new Map(declared.names),
    jsonPaths: new Map(declared.jsonPaths),
    carryText: false,
  };
  if (!declared.decls.length) {
    if (!wantsWebSearch(body.tools)) return { state };
    // Gemini grounds in Google Search itself; 2.x models refuse it beside function calling.
    state.webSearch = true;
    return { tools: [{ googleSearch: {} }], state };
  }
  const out: Declared = { tools: [{ functionDeclarations: declared.decls }], state };
  if (declared.json) out.toolsJson = declared.json;
  const choice = body.tool_choice;
  if (isObject(choice)) {
    const mode = choice.type === "none"
      ? "NONE"
      : choice.type === "any" || choice.type === "tool"
      ? "ANY"
      : "AUTO";
    const config: Obj = { mode };
    if (choice.type === "tool" && typeof choice.name === "string") {
      const name = geminiFunctionName(choice.name);
      if (state.names.has(name)) config.allowedFunctionNames = [name];
    }
    out.toolConfig = { functionCallingConfig: config };
  }
  return out;
}

function generationConfig(
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
  // Gemini takes five stop sequences at most.
  if (stops.length) gc.stopSequences = stops.slice(0, 5);
  const model = modelName(ctx.model);
  const thinking = thinkingConfig(body, model);
  if (thinking) gc.thinkingConfig = thinking;
  const format = outputFormat(body);
  // JSON mode together with function calling is refused by 2.x models.
  if (isObject(format) && format.type === "json_schema" && !hasTools) {
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

interface GeminiBody {
  contents: Content[];
  systemInstruction?: { parts: Part[] };
  tools?: Obj[];
  toolConfig?: Obj;
  generationConfig?: Obj;
}

function buildBody(
  body: MessagesRequest,
  ctx: CallContext,
): [GeminiBody, RequestState, Uint8Array | undefined] {
  const declared = declareTools(body);
  const state = declared.state;
  state.carryText = body.thinking?.type === "enabled" || body.thinking?.type === "adaptive";
  const out: GeminiBody = {
    contents: buildContents(body, { fp: fingerprint(ctx), jsonPaths: state.jsonPaths }),
  };
  if (!out.contents.length) throw nothingToSend();
  let system = systemText(body);
  if (!state.webSearch && wantsWebSearch(body.tools)) {
    system = system ? [system, WEB_SEARCH_UNAVAILABLE].join("\n\n") : WEB_SEARCH_UNAVAILABLE;
  }
  if (system) out.systemInstruction = { parts: [{ text: system }] };
  if (declared.tools) out.tools = declared.tools;
  if (declared.toolConfig) out.toolConfig = declared.toolConfig;
  const gc = generationConfig(body, ctx, !!declared.tools, state);
  if (Object.keys(gc).length) out.generationConfig = gc;
  return [out, state, declared.toolsJson];
}

// ---------------------------------------------------------------------------------------------
// Response: one assembler for both paths, writing to a sink (the stream writer or a collector).

interface Sink {
  readonly openBlock: "text" | "thinking" | "tool" | null;
  webSearch(id: string, query: string, results: WebSearchResult[]): void;
  text(delta: string): void;
  thinking(delta: string): void;
  signature(signature: string): void;
  tool(id: string, name: string, input: unknown): void;
  closeBlock(): void;
}

function writerSink(out: AnthropicStreamWriter): Sink {
  return {
    get openBlock() {
      return out.openBlock;
    },
    webSearch: (id, query, results) => out.webSearch(id, query, results),
    text: (d) => out.text(d),
    thinking: (d) => out.thinking(d),
    signature: (s) => out.signature(s),
    tool(id, name, input) {
      out.toolStart(id, name);
      out.toolArgs(JSON.stringify(input));
      out.closeBlock();
    },
    closeBlock: () => out.closeBlock(),
  };
}

class Collector implements Sink {
  blocks: ResponseBlock[] = [];
  openBlock: "text" | "thinking" | "tool" | null = null;
  searches = 0;

  /** Put first, where Anthropic puts a search: before the text written from its results. */
  webSearch(id: string, query: string, results: WebSearchResult[]): void {
    this.blocks.splice(this.searches * 2, 0, ...webSearchBlocks(id, query, results));
    this.searches++;
  }

  text(delta: string): void {
    if (!delta) return;
    const last = this.blocks[this.blocks.length - 1];
    if (this.openBlock === "text" && last?.type === "text") last.text += delta;
    else {
      this.blocks.push(textBlock(delta));
      this.openBlock = "text";
    }
  }

  thinking(delta: string): void {
    if (!delta) return;
    const last = this.blocks[this.blocks.length - 1];
    if (this.openBlock === "thinking" && last?.type === "thinking") last.thinking += delta;
    else {
      this.blocks.push({ type: "thinking", thinking: delta, signature: "" });
      this.openBlock = "thinking";
    }
  }

  signature(signature: string): void {
    const last = this.blocks[this.blocks.length - 1];
    if (this.openBlock === "thinking" && last?.type === "thinking") last.signature = signature;
    else {
      this.blocks.push({ type: "thinking", thinking: "", signature });
      this.openBlock = "thinking";
    }
  }

  tool(id: string, name: string, input: unknown): void {
    this.blocks.push(toolUseBlock(id, name, input));
    this.openBlock = null;
  }

  closeBlock(): void {
    this.openBlock = null;
  }
}

type Outcome = { stop: StopReason } | { failure: UpstreamFailure };

class Assembler {
  /** Signatures waiting for the next thinking block's signature. */
  private pending: Carry = {};
  /** Text or tool calls were emitted (thoughts alone do not answer anything). */
  private visible = false;
  private calls = 0;
  /** A structured answer with JSON text in it, kept whole to be decoded at the end. */
  private held = "";

  constructor(private sink: Sink, private state: RequestState, private fp: string) {}

  parts(parts: unknown): void {
    if (!Array.isArray(parts)) return;
    for (const p of parts) {
      if (!isObject(p)) continue;
      const sig = typeof p.thoughtSignature === "string" && p.thoughtSignature
        ? p.thoughtSignature
        : undefined;
      if (isObject(p.functionCall)) {
        this.call(p.functionCall, sig);
        continue;
      }
      if (sig && this.state.carryText) this.pending.t = sig;
      if (typeof p.text !== "string" || !p.text) continue;
      if (p.thought === true) this.sink.thinking(p.text);
      else {
        this.flush(false);
        if (this.state.answerPaths) this.held += p.text;
        else this.sink.text(p.text);
        this.visible = true;
      }
    }
  }

  private call(fc: Obj, sig: string | undefined): void {
    const geminiName = typeof fc.name === "string" ? fc.name : "";
    // A call to no tool cannot run, and its empty name in the history would be refused next turn.
    if (!geminiName) return;
    const name = this.state.names.get(geminiName) ?? geminiName;
    const args = decodeJsonPaths(
      isObject(fc.args) ? fc.args : {},
      this.state.jsonPaths.get(geminiName) ?? [],
    );
    const geminiId = typeof fc.id === "string" && fc.id ? fc.id : undefined;
    const [id, fits] = mintToolId(this.fp, sig, geminiId);
    if (sig && !fits) (this.pending.c ??= {})[ID_HEAD.exec(id)![0]] = sig;
    this.flush(this.pending.c !== undefined);
    this.sink.tool(id, name, args);
    this.visible = true;
    this.calls++;
  }

  /** Gemini's grounding (the queries it ran, the pages it used) as one web search. */
  grounding(meta: unknown): void {
    if (!this.state.webSearch || !isObject(meta)) return;
    const queries = Array.isArray(meta.webSearchQueries)
      ? meta.webSearchQueries.filter((q): q is string => typeof q === "string" && q !== "")
      : [];
    const results: WebSearchResult[] = [];
    for (const chunk of Array.isArray(meta.groundingChunks) ? meta.groundingChunks : []) {
      const web = isObject(chunk) && isObject(chunk.web) ? chunk.web : undefined;
      if (typeof web?.uri === "string" && web.uri) {
        results.push(webSearchResult(web.uri, web.title));
      }
    }
    if (!queries.length && !results.length) return;
    this.flush(false);
    this.sink.webSearch(newId("srvtoolu"), queries.join(" | "), results);
  }

  /** Closes an open thinking block with its signature; `force` opens one for pending signatures. */
  private flush(force: boolean): void {
    const hasPending = this.pending.t !== undefined || this.pending.c !== undefined;
    if (this.sink.openBlock !== "thinking" && !(force && hasPending)) return;
    const payload = hasPending ? { f: this.fp, ...this.pending } : {};
    this.pending = {};
    this.sink.signature(SIGNATURE_PREFIX + JSON.stringify(payload));
    this.sink.closeBlock();
  }

  /** Ends the answer: the stop reason, or a failure when Gemini gave nothing usable. */
  finish(finishReason: string | undefined, blockReason?: string, finishMessage?: string): Outcome {
    if (this.held) {
      this.flush(false);
      this.sink.text(decodeJsonText(this.held, this.state.answerPaths!));
      this.held = "";
    }
    const blocked = blockReason !== undefined && finishReason === undefined;
    const reason = finishReason ?? "STOP";
    const detail = finishMessage ? `: ${finishMessage}` : "";
    // A failed answer leaves its thinking block open: Claude Code asks again without streaming
    // when a stream errs inside a block, but takes a closed one as the finished answer.
    if (!blocked && FAILED_CALL_REASONS.has(reason)) {
      return {
        failure: {
          status: 502,
          type: "api_error",
          message: `Gemini could not produce a valid tool call (finishReason: ${reason})${detail}`,
        },
      };
    }
    if (
      !blocked && !REFUSAL_REASONS.has(reason) && reason !== "MAX_TOKENS" && this.calls === 0 &&
      !this.visible
    ) {
      return {
        failure: {
          status: 502,
          type: "api_error",
          message: `Gemini returned an empty answer (finishReason: ${reason})${detail}`,
          keyFault: "transient",
        },
      };
    }
    // A signature that came after the text would need a thinking block after it; clients take the
    // last block as the answer, and Gemini only requires signatures on function calls, so a
    // text-only signature without an open thinking block is let go.
    this.flush(this.pending.c !== undefined);
    if (blocked) {
      this.sink.text(`Gemini blocked this request (blockReason: ${blockReason}).`);
      return { stop: "refusal" };
    }
    if (REFUSAL_REASONS.has(reason)) {
      if (!this.visible) {
        this.sink.text(`Gemini stopped this answer for safety reasons (finishReason: ${reason}).`);
      }
      return { stop: "refusal" };
    }
    if (reason === "MAX_TOKENS") return { stop: "max_tokens" };
    if (this.calls > 0) return { stop: "tool_use" };
    return { stop: "end_turn" };
  }
}

/** One streamed answer: chunks go through the assembler; their finish, block and usage are kept. */
class GeminiStreamTranslator implements StreamTranslator {
  private usage: Partial<Usage> = {};
  private finishReason: string | undefined;
  private finishMessage: string | undefined;
  private blockReason: string | undefined;
  private groundingMeta: unknown;

  constructor(private readonly out: AnthropicStreamWriter, private readonly asm: Assembler) {}

  push(event: SseMessage): void {
    if (this.out.done || !event.data) return;
    let chunk: unknown;
    try {
      chunk = JSON.parse(event.data);
    } catch {
      this.out.error({
        status: 502,
        type: "api_error",
        message: "Gemini sent an unreadable stream event",
        keyFault: "transient",
      });
      return;
    }
    if (!isObject(chunk)) return;
    if (isObject(chunk.error)) {
      this.out.error(geminiFailure(0, chunk.error, new Headers()));
      return;
    }
    if (isObject(chunk.usageMetadata)) this.usage = usageFromGemini(chunk.usageMetadata);
    if (isObject(chunk.promptFeedback) && typeof chunk.promptFeedback.blockReason === "string") {
      this.blockReason = chunk.promptFeedback.blockReason;
    }
    const cand = Array.isArray(chunk.candidates) && isObject(chunk.candidates[0])
      ? chunk.candidates[0]
      : undefined;
    if (cand) {
      if (isObject(cand.content)) this.asm.parts(cand.content.parts);
      if (typeof cand.finishReason === "string") this.finishReason = cand.finishReason;
      if (typeof cand.finishMessage === "string") this.finishMessage = cand.finishMessage;
      if (isObject(cand.groundingMetadata)) this.groundingMeta = cand.groundingMetadata;
    }
    // The last chunk carries the finish reason with the final usage; don't wait for EOF.
    if ((this.finishReason && isObject(chunk.usageMetadata)) || (this.blockReason && !cand)) {
      this.finalize();
    }
  }

  pushJson(json: Record<string, unknown>): void {
    // An error that came after the 200 is written bare, without `data:`.
    if (!this.out.done && isObject(json.error)) {
      this.out.error(geminiFailure(0, json.error, new Headers()));
    }
  }

  end(): void {
    if (this.out.done) return;
    if (this.finishReason || this.blockReason) this.finalize();
    else this.out.error(streamCutShort());
  }

  private finalize(): void {
    // Grounding comes with the last chunks, after the text it supports.
    this.asm.grounding(this.groundingMeta);
    const outcome = this.asm.finish(this.finishReason, this.blockReason, this.finishMessage);
    if ("failure" in outcome) this.out.error(outcome.failure);
    // Without usage metadata (some gateways omit it) an estimate beats a zero, as for OpenAI.
    else if (this.usage.output_tokens !== undefined) this.out.finish(outcome.stop, this.usage);
    else {
      const estimate = Math.ceil(this.out.sentChars / 4);
      this.out.finish(outcome.stop, { ...this.usage, output_tokens: estimate });
    }
  }
}

/** `input_tokens` excludes cached tokens; thoughts count as output, as Anthropic bills them. */
function usageFromGemini(meta: unknown): Partial<Usage> {
  if (!isObject(meta)) return {};
  const cached = countOr0(meta.cachedContentTokenCount);
  return {
    input_tokens: Math.max(0, countOr0(meta.promptTokenCount) - cached) +
      countOr0(meta.toolUsePromptTokenCount),
    output_tokens: countOr0(meta.candidatesTokenCount) + countOr0(meta.thoughtsTokenCount),
    cache_read_input_tokens: cached,
    cache_creation_input_tokens: 0,
    output_tokens_details: { thinking_tokens: countOr0(meta.thoughtsTokenCount) },
  };
}

// ---------------------------------------------------------------------------------------------

export const geminiProvider: Provider = {
  kinds: ["gemini"],
  label: "Google Gemini",
  defaultBaseUrl: "https://generativelanguage.googleapis.com",

  buildRequest(body: MessagesRequest, ctx: CallContext): UpstreamRequest {
    const [gemini, state, toolsJson] = buildBody(body, ctx);
    states.set(ctx, state);
    if (toolsJson) delete gemini.tools;
    const json = JSON.stringify(gemini);
    const url = ctx.stream
      ? `${methodUrl(ctx, "streamGenerateContent")}?alt=sse`
      : methodUrl(ctx, "generateContent");
    return {
      url,
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": ctx.apiKey },
      body: toolsJson ? withEncodedMember(json, "tools", toolsJson) : json,
    };
  },

  parseResponse(json: unknown, ctx: CallContext): MessageResponse {
    const res = isObject(json) ? json : {};
    if (isObject(res.error)) throw new UpstreamError(geminiFailure(0, res.error, new Headers()));
    const sink = new Collector();
    const asm = new Assembler(sink, stateFor(ctx), fingerprint(ctx));
    const cand = Array.isArray(res.candidates) && isObject(res.candidates[0])
      ? res.candidates[0]
      : undefined;
    const feedback = isObject(res.promptFeedback) ? res.promptFeedback : {};
    asm.parts(isObject(cand?.content) ? cand.content.parts : undefined);
    asm.grounding(cand?.groundingMetadata);
    const outcome = asm.finish(
      cand ? String(cand.finishReason ?? "STOP") : undefined,
      typeof feedback.blockReason === "string" ? feedback.blockReason : undefined,
      typeof cand?.finishMessage === "string" ? cand.finishMessage : undefined,
    );
    if ("failure" in outcome) throw new UpstreamError(outcome.failure);
    const usage = usageFromGemini(res.usageMetadata);
    return answerMessage(ctx.requestedModel, sink.blocks, outcome.stop, null, {
      ...usage,
      input_tokens: usage.input_tokens ?? 0,
      output_tokens: usage.output_tokens ?? 0,
      server_tool_use: { web_search_requests: sink.searches },
    });
  },

  createStreamTranslator(ctx: CallContext, out: AnthropicStreamWriter): StreamTranslator {
    return new GeminiStreamTranslator(
      out,
      new Assembler(writerSink(out), stateFor(ctx), fingerprint(ctx)),
    );
  },

  parseError: geminiErrorFailure,

  // Gemini's own wordings are among these; gateways that speak Gemini's format (new-api,
  // one-api) may relay any server's words, as OpenAI-compatible ones do.
  outputLimitHint: openaiOutputLimitHint,
  contextOverflow: openaiContextOverflow,

  countTokensRequest(body: MessagesRequest, ctx: CallContext): UpstreamRequest {
    const [gemini] = buildBody(body, ctx);
    const inner: Obj = { model: `models/${modelName(ctx.model)}`, contents: gemini.contents };
    if (!gemini.contents.length) inner.contents = [{ role: "user", parts: [{ text: "." }] }];
    if (gemini.systemInstruction) inner.systemInstruction = gemini.systemInstruction;
    if (gemini.tools) inner.tools = gemini.tools;
    return {
      url: methodUrl(ctx, "countTokens"),
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": ctx.apiKey },
      body: JSON.stringify({ generateContentRequest: inner }),
    };
  },

  parseCountTokens(json: unknown): number {
    return isObject(json) ? countOr0(json.totalTokens) : 0;
  },

  modelsRequest(ctx) {
    return {
      url: `${geminiApiRoot(ctx.upstream.baseUrl)}/models?pageSize=1000`,
      method: "GET",
      headers: { "x-goog-api-key": ctx.apiKey },
    };
  },

  parseModels(json) {
    const models = isObject(json) && Array.isArray(json.models) ? json.models : [];
    return models.filter((m): m is Obj =>
      isObject(m) && typeof m.name === "string" &&
      // Embedding and other models cannot answer a conversation.
      (!Array.isArray(m.supportedGenerationMethods) ||
        m.supportedGenerationMethods.includes("generateContent"))
    ).map((m) => {
      const id = modelName(String(m.name));
      return {
        type: "model" as const,
        id,
        display_name: typeof m.displayName === "string" ? m.displayName : id,
        created_at: "1970-01-01T00:00:00.000Z",
      };
    });
  },
};
