// Anthropic Messages ⇄ OpenAI Chat Completions, for api.openai.com and compatible servers.
import {
  type ContentBlock,
  type Message,
  type MessageResponse,
  type MessagesRequest,
  newId,
  outputFormat,
  type ResponseBlock,
  sanitizeToolId,
  searchResultText,
  type StopReason,
  type Tool,
  type Usage,
  type WebSearchResult,
} from "../anthropic.ts";
import {
  answerMessage,
  textBlock,
  toolUseBlock,
  webSearchBlocks,
  webSearchResult,
} from "../answer_shape.ts";
import { flat } from "../flat_string.ts";
import { jsonBytes, withEncodedMember } from "../json_bytes.ts";
import { oncePerSharedTools, sharedTools } from "../parse_body.ts";
import { countOr0, isObject } from "../json_value.ts";
import { nothingToSend, ProxyError } from "../errors.ts";
import type { SseMessage } from "../sse.ts";
import { type Piece, splitThinkTags, ThinkTagSplitter } from "./think_tags.ts";
import { withoutBillingLine } from "./billing_line.ts";
import { streamCutShort } from "./failure.ts";
import { openaiErrorFailure, openaiInlineFailure } from "./openai_errors.ts";
import { jsonCompletion, ObjectPrefix } from "./partial_json.ts";
import { openaiContextOverflow } from "./openai_context_overflow.ts";
import { openaiOutputLimitHint } from "./openai_output_limits.ts";
import { UpstreamError } from "./upstream_error.ts";
import type { AnthropicStreamWriter } from "./stream_writer.ts";
import { wantsWebSearch, WEB_SEARCH_UNAVAILABLE } from "./web_search.ts";
import type { CallContext, Provider, StreamTranslator, UpstreamRequest } from "./types.ts";

/**
 * The signature of thinking blocks made from `reasoning_content`. Clients echo it back verbatim;
 * it means nothing upstream, and a recognisable value lets an Anthropic upstream path strip it.
 */
export const OPENAI_THINKING_SIGNATURE = "gateway-openai-reasoning";

const DEFAULT_BASE_URL = "https://api.openai.com";
const NOTE_OPEN = "<system-reminder>\n";
const NOTE_CLOSE = "\n</system-reminder>";
const TOOL_NAME_RE = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX_TOOL_ID = 40; // api.openai.com rejects longer tool_call ids
const MAX_USER = 64;
const MAX_STOPS = 4;

// deno-lint-ignore no-explicit-any
type Json = any;
type Kind = "openai" | "custom";
type Part = Record<string, unknown>;
type ChatMessage = Record<string, unknown>;

/** What parsing an answer needs from its request: kept per call, since providers are stateless. */
interface CallState {
  stops: string[];
  /** Shortened upstream tool name → the client's name. */
  names: Map<string, string>;
  /** The client's web search ran as a search model's own: its citations are told as a search. */
  webSearch?: { query: string };
}

const callStates = new WeakMap<CallContext, CallState>();

function stateFor(ctx: CallContext): CallState {
  return callStates.get(ctx) ?? { stops: [], names: new Map() };
}

/** A stable 64-bit hex digest (cyrb53-style); synchronous, since buildRequest is. */
function hashHex(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h2 >>> 0).toString(16).padStart(8, "0") + (h1 >>> 0).toString(16).padStart(8, "0");
}

/**
 * The upstream name of a tool: unchanged when valid, otherwise cleaned, cut and suffixed with a hash
 * of the original so distinct names stay distinct and the same name always maps the same way.
 */
export function openaiToolName(name: string): string {
  if (TOOL_NAME_RE.test(name)) return name;
  const clean = name.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 55);
  return flat(clean, "_", hashHex(name).slice(0, 8));
}

function toolCallId(id: unknown): string {
  const raw = typeof id === "string" && id ? id : "call_missing";
  return raw.length <= MAX_TOOL_ID ? raw : flat(raw.slice(0, 31), "_", hashHex(raw).slice(0, 8));
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const MISTRAL_TOOL_ID = /^[a-zA-Z0-9]{9}$/;

/**
 * A tool call id as Mistral takes it: exactly 9 letters and digits. Claude Code's `toolu_…` ids
 * (and any other upstream's) are mapped by a hash, the same way on the call and on its result.
 */
function mistralToolCallId(id: unknown): string {
  const raw = typeof id === "string" ? id : "";
  if (MISTRAL_TOOL_ID.test(raw)) return raw;
  let n = BigInt(`0x${hashHex(raw)}`);
  let out = "";
  for (let i = 0; i < 9; i++, n /= 62n) out += BASE62[Number(n % 62n)];
  return out;
}

/**
 * `{base}/v1/chat/completions`, without doubling a version path or a full endpoint; a query
 * (Azure's `?api-version=`) stays at the end, and an Azure deployment's path takes no version.
 */
export function chatCompletionsUrl(baseUrl: string | undefined): string {
  const full = baseUrl?.trim() || DEFAULT_BASE_URL;
  const q = full.indexOf("?");
  const query = q === -1 ? "" : full.slice(q);
  const base = (q === -1 ? full : full.slice(0, q)).replace(/\/+$/, "");
  if (/\/chat\/completions$/i.test(base)) return base + query;
  if (/\/v\d+(?:alpha|beta)?\d*$/i.test(base) || /\/openai\/deployments\/[^/]+$/i.test(base)) {
    return `${base}/chat/completions${query}`;
  }
  return `${base}/v1/chat/completions${query}`;
}

/** Azure OpenAI takes its keys in `api-key`; a bearer token there must be an Entra ID token. */
function authHeaders(
  ctx: Pick<CallContext, "apiKey" | "upstream">,
  headers: Record<string, string>,
): Record<string, string> {
  if (!ctx.apiKey) return headers;
  if (AZURE_HOST.test(hostOf(ctx))) headers["api-key"] = ctx.apiKey;
  else headers.authorization = `Bearer ${ctx.apiKey}`;
  return headers;
}

const AZURE_HOST =
  /\.(openai\.azure\.com|cognitiveservices\.azure\.com|services\.ai\.azure\.com)(:|$)/;

function kindOf(ctx: CallContext): Kind {
  return ctx.upstream.serviceType === "openai" ? "openai" : "custom";
}

function hostOf(ctx: Pick<CallContext, "upstream">): string {
  return /^[a-z]+:\/\/([^/?#]*)/i.exec(ctx.upstream.baseUrl ?? "")?.[1].toLowerCase() ?? "";
}

/** DeepSeek, by its host or by a model name that says so (behind a router or a proxy). */
function isDeepSeek(ctx: CallContext): boolean {
  return /deepseek/i.test(ctx.model) || hostOf(ctx).includes("deepseek");
}

/**
 * Servers that need the reasoning of earlier tool-call turns back, or refuse the turn: DeepSeek
 * and Moonshot's Kimi (K2.5 on: "reasoning_content is missing in assistant tool call message").
 * Groq and Cerebras, which host such models too, refuse the field itself.
 */
function wantsReasoningBack(ctx: CallContext): boolean {
  const host = hostOf(ctx);
  if (/(^|\.)(groq\.com|cerebras\.ai)(:|$)/.test(host)) return false;
  return isDeepSeek(ctx) || /kimi/i.test(ctx.model) || /moonshot|kimi\.com/.test(host);
}

/** Mistral's own API, which refuses (422) any field outside its list: `stream_options`, `user`… */
function isMistralApi(ctx: CallContext): boolean {
  return /(^|\.)mistral\.ai(:|$)/.test(hostOf(ctx));
}

/**
 * A Mistral model, on Mistral's API or another server (vLLM checks its messages with
 * mistral-common too): tool call ids of 9 letters and digits, no user turn right after a result.
 */
function isMistral(ctx: CallContext): boolean {
  return isMistralApi(ctx) ||
    /mistral|devstral|magistral|codestral|ministral|mixtral|pixtral/i.test(ctx.model);
}

// ---------------------------------------------------------------------------------------------
// Request

/** A system prompt or message as one text, without Claude Code's billing line. */
function systemText(system: unknown): string {
  if (typeof system === "string") return withoutBillingLine(system);
  if (!Array.isArray(system)) return "";
  const texts: string[] = [];
  for (const b of system) {
    if (b?.type !== "text" || typeof b.text !== "string") continue;
    const text = withoutBillingLine(b.text);
    if (text.trim()) texts.push(text);
  }
  return texts.join("\n");
}

function imagePart(source: Json): Part | null {
  if (source?.type === "base64" && source.data) {
    return {
      type: "image_url",
      image_url: { url: flat("data:", source.media_type || "image/png", ";base64,", source.data) },
    };
  }
  if (source?.type === "url" && source.url) {
    return { type: "image_url", image_url: { url: source.url } };
  }
  return null;
}

function textPart(text: string): Part | null {
  return text ? { type: "text", text } : null;
}

/** User-side parts for one content block; blocks with no Chat Completions form are dropped. */
function pushParts(block: Json, parts: Part[], kind: Kind): void {
  let part: Part | null = null;
  switch (block?.type) {
    case "text":
      part = typeof block.text === "string" ? textPart(block.text) : null;
      break;
    case "image":
      part = imagePart(block.source);
      break;
    case "search_result":
      part = textPart(searchResultText(block));
      break;
    case "document": {
      const src = block.source ?? {};
      const title = typeof block.title === "string" && block.title ? block.title : "";
      if (
        src.type === "base64" && src.data &&
        (src.media_type ?? "application/pdf") === "application/pdf"
      ) {
        // Compatible servers (vLLM, Ollama, llama.cpp, DeepSeek, Groq) refuse file parts outright.
        part = kind === "openai"
          ? {
            type: "file",
            file: {
              filename: title || "document.pdf",
              file_data: flat("data:application/pdf;base64,", src.data),
            },
          }
          : textPart(
            flat(
              "[PDF document",
              title ? ` "${title}"` : "",
              " omitted: the upstream does not accept files]",
            ),
          );
      } else if (src.type === "text" && typeof src.data === "string") {
        part = textPart(title && src.data ? flat(title, "\n\n", src.data) : src.data);
      } else if (src.type === "content") {
        if (typeof src.content === "string") part = textPart(src.content);
        else if (Array.isArray(src.content)) {
          for (const b of src.content) pushParts(b, parts, kind);
        }
      } else if (src.type === "url" && src.url) {
        part = textPart(flat("[document", title ? ` "${title}"` : "", ": ", src.url, "]"));
      }
      break;
    }
  }
  if (part) parts.push(part);
}

/** A tool message is text only: images in a result travel in a following user message. */
function toolResultText(block: Json, images: Part[], kind: Kind): string {
  const texts: string[] = [];
  let imageCount = 0;
  if (typeof block.content === "string") texts.push(block.content);
  else if (Array.isArray(block.content)) {
    for (const b of block.content) {
      if (b?.type === "image") {
        const img = imagePart(b.source);
        if (img) {
          images.push(img);
          imageCount++;
        }
      } else if (b?.type === "text") {
        if (typeof b.text === "string" && b.text) texts.push(b.text);
      } else {
        const parts: Part[] = [];
        pushParts(b, parts, kind);
        for (const p of parts) {
          if (p.type === "text") texts.push(p.text as string);
          else {
            images.push(p);
            imageCount++;
          }
        }
      }
    }
  }
  if (imageCount) {
    texts.push(`[${imageCount} attachment(s) from this result follow in the next message]`);
  }
  let text = texts.join("\n");
  if (!text) text = "(no output)";
  return block.is_error ? flat("Error: ", text) : text;
}

function userContent(parts: Part[]): string | Part[] {
  // Strings suit every compatible server; parts only when something isn't text.
  if (parts.every((p) => p.type === "text")) return parts.map((p) => p.text).join("\n");
  return parts;
}

/**
 * A system message met mid-conversation, as user text: chat templates (Qwen, Llama, Gemma, Mistral
 * on vLLM, llama.cpp, Ollama) refuse any system message but the first. Claude Code's own prompt
 * tells the model that this tag carries the system's words.
 */
function systemNote(text: string): ContentBlock {
  return {
    type: "text",
    text: text.startsWith("<system-reminder>") ? text : flat(NOTE_OPEN, text, NOTE_CLOSE),
  };
}

function blocksOf(m: Message): ContentBlock[] {
  if (typeof m.content === "string") return [{ type: "text", text: m.content }];
  return Array.isArray(m.content) ? m.content : [];
}

/**
 * The turns as Anthropic reads them: consecutive messages of one role are one turn, so results
 * split over two user messages still answer the calls before them. With `foldSystem`, system
 * messages become user text in the neighbouring user turn (roles keep alternating), and those
 * before any turn join the leading system message. The client's own array when nothing changes.
 */
export function turnsOf(
  messages: Message[],
  foldSystem: boolean,
): { turns: Message[]; lead: string[] } {
  let change = false;
  for (let i = 0; i < messages.length && !change; i++) {
    const role = messages[i].role;
    change = (foldSystem && role === "system") || (i > 0 && role === messages[i - 1].role);
  }
  if (!change) return { turns: messages, lead: [] };
  const turns: Message[] = [];
  const lead: string[] = [];
  // The blocks of the last turn when it is our copy, open to more.
  let merged: ContentBlock[] | undefined;
  for (const m of messages) {
    let role = m.role;
    let blocks: ContentBlock[];
    if (foldSystem && role === "system") {
      const text = systemText(m.content);
      if (!text) continue;
      if (!turns.length) {
        lead.push(text);
        continue;
      }
      role = "user";
      blocks = [systemNote(text)];
    } else blocks = blocksOf(m);
    const last = turns[turns.length - 1];
    if (last?.role !== role) {
      turns.push(role === m.role ? m : { role, content: blocks });
      merged = undefined;
      continue;
    }
    if (!merged) {
      merged = [...blocksOf(last)];
      turns[turns.length - 1] = { role, content: merged };
    }
    for (const b of blocks) merged.push(b);
  }
  return { turns, lead };
}

/** Two user contents as one, for servers that refuse two user messages in a row. */
function joinContent(a: string | Part[], b: string | Part[]): string | Part[] {
  if (typeof a === "string" && typeof b === "string") return flat(a, "\n", b);
  const parts = (c: string | Part[]) => typeof c === "string" ? [{ type: "text", text: c }] : c;
  return [...parts(a), ...parts(b)];
}

interface Conversion {
  kind: Kind;
  /** DeepSeek needs the reasoning of earlier turns back; others (Groq, Cerebras) refuse the field. */
  reasoningBack: boolean;
  /** Mistral's rules: its tool call ids, and no user message straight after a tool message. */
  mistral: boolean;
  /** Filled with upstream tool name → the client's name. */
  names: Map<string, string>;
  notice?: string;
}

/**
 * An assistant turn as one message (undefined when it holds neither text nor a call), its call
 * ids put in `ids`, each once.
 */
function assistantMessage(
  blocks: Json[],
  c: Conversion,
  callId: (id: unknown) => string,
  ids: string[],
): ChatMessage | undefined {
  const texts: string[] = [];
  const reasoning: string[] = [];
  let thought = false;
  const calls: Json[] = [];
  for (const b of blocks) {
    if (b?.type === "text") {
      if (typeof b.text === "string" && b.text) texts.push(b.text);
    } else if (b?.type === "tool_use") {
      const name = String(b.name ?? "");
      const short = openaiToolName(name);
      c.names.set(short, name);
      const id = typeof b.id === "string" ? b.id : "";
      if (ids.includes(id)) continue;
      ids.push(id);
      calls.push({
        id: callId(id),
        type: "function",
        function: {
          name: short,
          arguments: typeof b.input === "string" ? b.input : JSON.stringify(b.input ?? {}),
        },
      });
    } else if (b?.type === "thinking") {
      thought = true;
      if (typeof b.thinking === "string") reasoning.push(b.thinking);
    }
  }
  if (!texts.length && !calls.length) return undefined;
  const m: ChatMessage = { role: "assistant", content: texts.length ? texts.join("\n") : null };
  // Kimi refuses a tool-call turn without the field, even when the client kept no thinking.
  if (c.reasoningBack && (thought || calls.length)) m.reasoning_content = reasoning.join("");
  if (calls.length) m.tool_calls = calls;
  return m;
}

/**
 * Appends a message. Turns left empty (thinking only, stray results) would leave two user or two
 * assistant messages in a row, which strict chat templates refuse: such neighbours are joined.
 */
function appendMessage(out: ChatMessage[], m: ChatMessage, mistral: boolean): void {
  const prev = out[out.length - 1];
  if (mistral && prev?.role === "tool" && m.role === "user") {
    // Text after a result (Claude Code's reminders) is read with it; images need a turn between.
    if (typeof m.content === "string") {
      prev.content = flat(prev.content as string, "\n", m.content);
      return;
    }
    out.push({ role: "assistant", content: "(tool results received)" });
  }
  if (prev?.role === "user" && m.role === "user") {
    prev.content = joinContent(prev.content as string | Part[], m.content as string | Part[]);
  } else if (prev?.role === "assistant" && m.role === "assistant" && !prev.tool_calls) {
    if (prev.content === null) prev.content = m.content;
    else if (m.content !== null) {
      prev.content = flat(prev.content as string, "\n", m.content as string);
    }
    if (m.tool_calls) prev.tool_calls = m.tool_calls;
    if (m.reasoning_content !== undefined) {
      prev.reasoning_content = flat(
        String(prev.reasoning_content ?? ""),
        m.reasoning_content as string,
      );
    }
  } else out.push(m);
}

function convertMessages(body: MessagesRequest, c: Conversion) {
  const { kind } = c;
  const callId = c.mistral ? mistralToolCallId : toolCallId;
  const out: ChatMessage[] = [];
  const { turns, lead } = turnsOf((body.messages ?? []) as Message[], kind === "custom");
  const texts = [systemText(body.system), ...lead, c.notice ?? ""].filter(Boolean);
  if (texts.length) out.push({ role: "system", content: texts.join("\n\n") });

  // Calls of the last assistant message not answered yet, by the client's id.
  let pending: string[] = [];
  // System messages met between a call and its results: OpenAI needs the results first.
  let deferred: ChatMessage[] = [];
  const settle = (answers: ChatMessage[], answered: Set<string>) => {
    out.push(...answers);
    for (const id of pending) {
      if (!answered.has(id)) {
        out.push({
          role: "tool",
          tool_call_id: callId(id),
          content: "(no result: the call was interrupted)",
        });
      }
    }
    pending = [];
    out.push(...deferred);
    deferred = [];
  };
  const none = new Set<string>();

  for (const msg of turns) {
    const blocks: Json[] = blocksOf(msg);

    if (msg.role === "system") {
      const text = systemText(blocks);
      if (!text) continue;
      (pending.length ? deferred : out).push({ role: "system", content: text });
      continue;
    }

    if (msg.role === "assistant") {
      settle([], none);
      const ids: string[] = [];
      const m = assistantMessage(blocks, c, callId, ids);
      if (!m) continue;
      appendMessage(out, m, c.mistral);
      pending = ids;
      continue;
    }

    // user
    const answers: ChatMessage[] = [];
    const answered = new Set<string>();
    const images: Part[] = [];
    const parts: Part[] = [];
    for (const b of blocks) {
      if (b?.type === "tool_result") {
        const id = typeof b.tool_use_id === "string" ? b.tool_use_id : "";
        // A result for no call of the previous assistant turn would be rejected: dropped.
        if (!pending.includes(id) || answered.has(id)) continue;
        answered.add(id);
        answers.push({
          role: "tool",
          tool_call_id: callId(id),
          content: toolResultText(b, images, kind),
        });
      } else {
        pushParts(b, parts, kind);
      }
    }
    settle(answers, answered);
    if (images.length) {
      parts.unshift(
        { type: "text", text: "Attachments from the tool result(s) above:" },
        ...images,
      );
    }
    if (parts.length) appendMessage(out, { role: "user", content: userContent(parts) }, c.mistral);
  }
  settle([], none);
  return out;
}

function convertTools(tools: Tool[] | undefined, names: Map<string, string>): Json[] {
  const out: Json[] = [];
  if (!Array.isArray(tools)) return out;
  for (const t of tools) {
    // Server and versioned tools (web_search_…, bash_…) run on Anthropic's side only.
    if (t.type && t.type !== "custom") continue;
    if (typeof t.name !== "string" || !t.name) continue;
    const name = openaiToolName(t.name);
    names.set(name, t.name);
    const fn: Json = { name };
    if (typeof t.description === "string" && t.description) fn.description = t.description;
    fn.parameters = t.input_schema ?? { type: "object", properties: {} };
    out.push({ type: "function", function: fn });
  }
  return out;
}

interface ConvertedTools {
  count: number;
  /** `tools` as UTF-8 JSON. */
  json: Uint8Array;
  names: Map<string, string>;
}

const convertSharedTools = oncePerSharedTools((tools): ConvertedTools => {
  const names = new Map<string, string>();
  const out = convertTools(tools as Tool[], names);
  return { count: out.length, json: jsonBytes(out), names };
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
  if (thinking?.type === "enabled") return effortFromBudget(thinking.budget_tokens);
  if (thinking?.type !== "adaptive" || kind !== "openai") return undefined;
  const effort = body.output_config?.effort;
  if (effort === "low" || effort === "medium" || effort === "high") return effort;
  if (effort === "xhigh" || effort === "max") return "high";
  return undefined;
}

/** OpenAI strict mode needs closed objects with every property required. */
function strictCompatible(schema: Json): boolean {
  if (!schema || typeof schema !== "object") return true;
  if (Array.isArray(schema)) return schema.every(strictCompatible);
  if (schema.type === "object" || schema.properties) {
    if (schema.additionalProperties !== false) return false;
    const keys = Object.keys(schema.properties ?? {});
    const required: unknown[] = Array.isArray(schema.required) ? schema.required : [];
    if (!keys.every((k) => required.includes(k))) return false;
  }
  for (const [k, v] of Object.entries(schema)) {
    if (k === "properties" || k === "$defs" || k === "definitions") {
      if (!Object.values(v as object).every(strictCompatible)) return false;
    } else if (k === "items" || k === "anyOf" || k === "oneOf" || k === "allOf") {
      if (!strictCompatible(v)) return false;
    }
  }
  return true;
}

/** The schema of the structured output the client asks for, if it asks for one. */
function outputSchema(body: MessagesRequest): Json | undefined {
  const format = outputFormat(body);
  return format?.type === "json_schema" && format.schema ? format.schema : undefined;
}

/**
 * DeepSeek has JSON mode but no schemas ("This response_format type is unavailable now"): the
 * schema goes to the model in words, which JSON mode also needs ("json" in the prompt).
 */
function jsonModeNotice(schema: Json): string {
  return flat(
    "Answer with a single JSON object and nothing else. It must follow this JSON schema:\n",
    JSON.stringify(schema),
  );
}

function responseFormat(schema: Json, jsonModeOnly: boolean): Json {
  if (jsonModeOnly) return { type: "json_object" };
  const jsonSchema: Json = { name: "output", schema };
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

/** Search models cite the pages they used as `url_citation` annotations on the answer. */
function citedPages(annotations: unknown, into: Map<string, WebSearchResult>): void {
  if (!Array.isArray(annotations)) return;
  for (const a of annotations) {
    const c = a?.type === "url_citation" ? a.url_citation ?? a : undefined;
    if (typeof c?.url !== "string" || !c.url || into.has(c.url)) continue;
    into.set(c.url, webSearchResult(c.url, c.title));
  }
}

/** Anthropic's `tool_choice` as OpenAI's `tool_choice` and `parallel_tool_calls`. */
function setToolChoice(upstream: Json, choice: Json): void {
  if (choice?.type === "auto") upstream.tool_choice = "auto";
  else if (choice?.type === "any") upstream.tool_choice = "required";
  else if (choice?.type === "none") upstream.tool_choice = "none";
  else if (choice?.type === "tool" && typeof choice.name === "string") {
    upstream.tool_choice = { type: "function", function: { name: openaiToolName(choice.name) } };
  }
  if (choice?.disable_parallel_tool_use === true && choice.type !== "none") {
    upstream.parallel_tool_calls = false;
  }
}

/** The client's max_tokens within the upstream's cap, under the field name the upstream takes. */
function setMaxTokens(upstream: Json, maxTokens: number, ctx: CallContext, kind: Kind): void {
  const field = ctx.upstream.maxTokensField ??
    (kind === "openai" ? "max_completion_tokens" : "max_tokens");
  const cap = ctx.upstream.maxTokens;
  // 0 only pre-warms Anthropic's cache; elsewhere it is invalid, and 1 is the cheapest stand-in.
  let max = Math.max(1, Math.floor(maxTokens));
  if (typeof cap === "number" && cap > 0) max = Math.min(max, cap);
  upstream[field] = max;
}

function buildRequest(body: MessagesRequest, ctx: CallContext): UpstreamRequest {
  const kind = kindOf(ctx);
  const names = new Map<string, string>();
  const stops = Array.isArray(body.stop_sequences)
    ? body.stop_sequences.filter((s) => typeof s === "string" && s !== "").slice(0, MAX_STOPS)
    : [];
  const state: CallState = { stops, names };
  callStates.set(ctx, state);
  // OpenAI's search models search by themselves; the others cannot search at all.
  const searchModel = kind === "openai" && /search/i.test(ctx.model);
  const search = wantsWebSearch(body.tools);
  if (search && searchModel) state.webSearch = { query: lastUserText(body).slice(0, 500) };
  const schema = outputSchema(body);
  const jsonModeOnly = schema !== undefined && kind === "custom" && isDeepSeek(ctx);
  const notices = [
    search && !searchModel ? WEB_SEARCH_UNAVAILABLE : "",
    jsonModeOnly ? jsonModeNotice(schema) : "",
  ].filter(Boolean);
  const mistralApi = kind === "custom" && isMistralApi(ctx);

  const upstream: Json = {
    model: ctx.model,
    messages: convertMessages(body, {
      kind,
      names,
      notice: notices.length ? notices.join("\n\n") : undefined,
      reasoningBack: kind === "custom" && wantsReasoningBack(ctx),
      mistral: kind === "custom" && isMistral(ctx),
    }),
  };
  if (!upstream.messages.length) throw nothingToSend();
  if (state.webSearch) upstream.web_search_options = webSearchOptions(body.tools);
  const shared = sharedTools(body.tools) ? convertSharedTools(body.tools) : undefined;
  if (shared) { for (const [k, v] of shared.names) names.set(k, v); }
  else {
    const tools = convertTools(body.tools, names);
    if (tools.length) upstream.tools = tools;
  }
  if (upstream.tools || shared?.count) setToolChoice(upstream, body.tool_choice);
  if (typeof body.max_tokens === "number") setMaxTokens(upstream, body.max_tokens, ctx, kind);
  // OpenAI's reasoning and search models refuse sampling settings and stop sequences outright.
  const reasoningModel = kind === "openai" &&
    (OPENAI_REASONING_MODEL.test(ctx.model) || state.webSearch !== undefined);
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

  const headers = authHeaders(ctx, { "content-type": "application/json" });
  const json = JSON.stringify(upstream);
  return {
    url: chatCompletionsUrl(ctx.upstream.baseUrl),
    method: "POST",
    headers,
    body: shared?.count ? withEncodedMember(json, "tools", shared.json) : json,
  };
}

// ---------------------------------------------------------------------------------------------
// Responses

function mapUsage(u: Json): Usage {
  const prompt = countOr0(u?.prompt_tokens);
  const cached = countOr0(u?.prompt_tokens_details?.cached_tokens) ||
    countOr0(u?.prompt_cache_hit_tokens);
  const reasoning = u?.completion_tokens_details?.reasoning_tokens;
  return {
    input_tokens: Math.max(0, prompt - cached),
    output_tokens: countOr0(u?.completion_tokens),
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
    output_tokens_details: typeof reasoning === "number"
      ? { thinking_tokens: countOr0(reasoning) }
      : null,
  };
}

function stopReasonFor(finish: unknown, toolUsed: boolean, refused: boolean): StopReason {
  // A cut answer may end inside a call's arguments: the client must not run it.
  if (finish === "length") return "max_tokens";
  if (toolUsed) return "tool_use";
  if (finish === "content_filter" || refused) return "refusal";
  // "tool_calls" with no call at all: nothing for the client to run, so the turn is over.
  return "end_turn";
}

function matchedStop(text: string, stops: string[]): string | null {
  for (const s of stops) if (text.endsWith(s)) return s;
  return null;
}

/**
 * The stop string a server says ended the answer (vLLM's `stop_reason`, SGLang's
 * `matched_stop`; a number there is a token id, no stop sequence). OpenAI says nothing, and
 * leaves the string out of the text, so through it a hit stop sequence reads as end_turn.
 */
function reportedStop(choice: Json, stops: string[]): string | null {
  for (const v of [choice?.stop_reason, choice?.matched_stop]) {
    if (typeof v === "string" && stops.includes(v)) return v;
  }
  return null;
}

/**
 * Tool arguments as an object, cut-off JSON completed. Other unparsable text is kept as
 * `{"_raw": text}` rather than `{}`, so the client's validation error shows the model (and the
 * logs) what it actually sent.
 */
function parseToolArguments(args: unknown): Record<string, unknown> {
  if (args && typeof args === "object" && !Array.isArray(args)) {
    return args as Record<string, unknown>;
  }
  if (typeof args !== "string" || !args.trim()) return {};
  const suffix = jsonCompletion(args);
  if (suffix !== undefined) {
    const v = JSON.parse(suffix ? flat(args, suffix) : args);
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
    // A call without arguments, as some servers write it.
    if (v === null) return {};
  }
  return { _raw: args };
}

function messageText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((p) => (typeof p?.text === "string" ? p.text : "")).join("");
  }
  return "";
}

function parseResponse(json: unknown, ctx: CallContext): MessageResponse {
  const res = json as Json;
  const state = stateFor(ctx);
  const choice = Array.isArray(res?.choices) ? res.choices[0] : undefined;
  if (!choice) {
    if (res?.error) throw new UpstreamError(openaiInlineFailure(res.error));
    throw new ProxyError(502, "upstream returned no choices", "api_error");
  }
  // A filtered answer may come without its message; any other is a broken answer, not an empty one.
  if (!isObject(choice.message) && choice.finish_reason !== "content_filter") {
    throw new ProxyError(502, "upstream returned a choice without a message", "api_error");
  }
  const msg = choice.message ?? {};
  const content: ResponseBlock[] = [];
  const reasoning = typeof msg.reasoning_content === "string" && msg.reasoning_content
    ? msg.reasoning_content
    : typeof msg.reasoning === "string"
    ? msg.reasoning
    : "";
  if (reasoning) {
    content.push({ type: "thinking", thinking: reasoning, signature: OPENAI_THINKING_SIGNATURE });
  }
  let text = messageText(msg.content);
  if (!reasoning && text.trimStart().startsWith("<think>")) {
    const split = splitThinkTags(text);
    text = split.text;
    if (split.thinking) {
      content.push({
        type: "thinking",
        thinking: split.thinking,
        signature: OPENAI_THINKING_SIGNATURE,
      });
    }
  }
  const refused = !text && typeof msg.refusal === "string" && msg.refusal !== "";
  if (refused) text = msg.refusal;
  const calls: Json[] = Array.isArray(msg.tool_calls) ? [...msg.tool_calls] : [];
  if (msg.function_call?.name) calls.push({ function: msg.function_call });
  const stopped = choice.finish_reason === "stop" && !calls.length;
  const stopInText = stopped ? matchedStop(text, state.stops) : null;
  // Anthropic's text never includes the matched stop sequence.
  if (stopInText) text = text.slice(0, text.length - stopInText.length);
  const stopSequence = stopInText ?? (stopped ? reportedStop(choice, state.stops) : null);
  if (text) content.push(textBlock(text));
  const used = new Set<string>();
  for (const call of calls) {
    const name = call?.function?.name;
    if (typeof name !== "string" || !name) continue;
    let id = sanitizeToolId(call.id);
    if (used.has(id)) id = newId("toolu");
    used.add(id);
    content.push(
      toolUseBlock(id, state.names.get(name) ?? name, parseToolArguments(call.function.arguments)),
    );
  }
  const toolUsed = content.some((b) => b.type === "tool_use");
  const usage = mapUsage(res.usage);
  if (state.webSearch) {
    const pages = new Map<string, WebSearchResult>();
    citedPages(msg.annotations, pages);
    const id = newId("srvtoolu");
    content.unshift(...webSearchBlocks(id, state.webSearch.query, [...pages.values()]));
    usage.server_tool_use = { web_search_requests: 1 };
  }
  return answerMessage(
    ctx.requestedModel,
    content,
    stopSequence ? "stop_sequence" : stopReasonFor(choice.finish_reason, toolUsed, refused),
    stopSequence,
    usage,
  );
}

// ---------------------------------------------------------------------------------------------
// Streaming

interface ToolCall {
  index?: number;
  rawId?: string;
  name?: string;
  state: "pending" | "open" | "closed";
  /** Arguments received before the block could open. */
  buffer: string;
  /** Arguments forwarded so far, kept only to tell when an interleaved call is complete. */
  args: string;
  /** How much of the arguments the client can parse as the object they should be. */
  shape: ObjectPrefix;
  /** Arguments that are no object at all, held to be sent at the end as the object they make. */
  raw?: string;
  /** Arguments after the object's end were dropped: not what the model meant to run. */
  cut?: boolean;
  checkedLength: number;
  complete: boolean;
}

/**
 * The common chunk, a text delta and nothing else, matched without parsing the whole chunk: that
 * parse was most of a stream's translation. Its JSON string literal goes out as it came.
 */
const TEXT_CHUNK =
  /"choices":\[\{"index":0,"delta":\{"content":("(?:[^"\\]|\\.)+")\},"logprobs":null,"finish_reason":null\}\]/;

const USAGE_OR_ERROR = /"(?:usage":\{|error")/;

/**
 * The text literal of a chunk that is only a text delta. Outside string literals every `"` is
 * structural, so a usage or error member elsewhere in the chunk would show as written here.
 */
function textLiteral(data: string): string | undefined {
  const m = TEXT_CHUNK.exec(data);
  if (!m || USAGE_OR_ERROR.test(data)) return undefined;
  return m[1];
}

class OpenAIStreamTranslator implements StreamTranslator {
  private finishReason: string | null = null;
  private sawDone = false;
  private usage: Json = null;
  private byIndex = new Map<number, ToolCall>();
  private byId = new Map<string, ToolCall>();
  private last: ToolCall | null = null;
  /** Calls that cannot open yet (no name, or another call still streaming), in arrival order. */
  private pending: ToolCall[] = [];
  private current: ToolCall | null = null;
  private usedIds = new Set<string>();
  private toolUsed = false;
  /** A call whose arguments no suffix could make whole: the client must not run it. */
  private brokenCall = false;
  private refused = false;
  private tail = "";
  /** The stop string the server named with its finish reason, if it names one. */
  private stopNamed: string | null = null;
  private readonly maxStop: number;
  private thinkTags = new ThinkTagSplitter();
  private pages = new Map<string, WebSearchResult>();

  constructor(private readonly out: AnthropicStreamWriter, private readonly state: CallState) {
    this.maxStop = state.stops.reduce((m, s) => Math.max(m, s.length), 0);
  }

  push(event: SseMessage): void {
    if (this.out.done) return;
    const data = event.data.trim();
    if (event.event === "error") {
      let err: Json = data;
      try {
        const parsed = JSON.parse(data);
        err = parsed?.error ?? parsed;
      } catch {
        // plain text error
      }
      this.out.error(openaiInlineFailure(err || "upstream stream error"));
      return;
    }
    if (!data) return;
    if (data === "[DONE]") {
      this.sawDone = true;
      this.complete();
      return;
    }
    const literal = this.thinkTags.settled && !this.maxStop ? textLiteral(data) : undefined;
    if (literal !== undefined) {
      this.closeThinking();
      this.leaveTool();
      this.out.textJson(literal);
      return;
    }
    let chunk: Json;
    try {
      chunk = JSON.parse(data);
    } catch {
      return; // not an event we understand; a broken stream shows at end()
    }
    if (!chunk || typeof chunk !== "object") return;
    if (chunk.error) {
      this.out.error(openaiInlineFailure(chunk.error));
      return;
    }
    if (chunk.usage && typeof chunk.usage === "object") this.usage = chunk.usage;
    const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
    if (!choice) return;
    const delta = choice.delta;
    if (delta && typeof delta === "object") this.delta(delta);
    if (choice.finish_reason && !this.finishReason) {
      this.finishReason = choice.finish_reason;
      this.stopNamed = reportedStop(choice, this.state.stops);
      this.flushTools();
    }
  }

  end(): void {
    if (this.out.done) return;
    if (this.finishReason || this.sawDone) this.complete();
    else this.out.error(streamCutShort());
  }

  private delta(delta: Json): void {
    const reasoning = typeof delta.reasoning_content === "string" && delta.reasoning_content
      ? delta.reasoning_content
      : typeof delta.reasoning === "string"
      ? delta.reasoning
      : "";
    if (reasoning) {
      this.leaveTool();
      this.out.thinking(reasoning);
    }
    if (typeof delta.content === "string" && delta.content) {
      if (this.thinkTags.settled) this.text(delta.content);
      else for (const piece of this.thinkTags.push(delta.content)) this.piece(piece);
    }
    if (typeof delta.refusal === "string" && delta.refusal) {
      this.refused = true;
      this.text(delta.refusal);
    }
    if (this.state.webSearch) citedPages(delta.annotations, this.pages);
    if (Array.isArray(delta.tool_calls)) {
      for (const tc of delta.tool_calls) if (tc && typeof tc === "object") this.toolDelta(tc);
    } else if (delta.function_call && typeof delta.function_call === "object") {
      this.toolDelta({ index: 0, function: delta.function_call });
    }
  }

  private piece([kind, text]: Piece): void {
    if (kind === "text") return this.text(text);
    this.leaveTool();
    this.out.thinking(text);
  }

  private text(text: string): void {
    this.closeThinking();
    this.leaveTool();
    this.out.text(text);
    if (this.maxStop) this.tail = (this.tail + text).slice(-this.maxStop);
  }

  private closeThinking(): void {
    if (this.out.openBlock === "thinking") this.out.signature(OPENAI_THINKING_SIGNATURE);
  }

  /** The open tool block is about to be closed by another block; late fragments are dropped. */
  private leaveTool(): void {
    const call = this.current;
    if (!call) return;
    call.state = "closed";
    this.current = null;
    if (call.raw !== undefined) {
      const input = parseToolArguments(call.raw);
      if ("_raw" in input) this.brokenCall = true;
      this.out.toolArgs(JSON.stringify(input));
      return;
    }
    if (call.cut) this.brokenCall = true;
    // The client parses the block's fragments joined at its stop (none at all: the writer's `{}`).
    if (!call.args || this.looksComplete(call)) return;
    const suffix = jsonCompletion(call.args);
    if (suffix === undefined) this.brokenCall = true;
    else if (suffix) this.out.toolArgs(suffix);
  }

  /**
   * Which call a fragment belongs to. Index when present and consistent; a new id on a known index
   * is a new call (Ollama numbers every call 0); no index at all continues the latest call.
   */
  private findCall(index: number | undefined, id: string | undefined): ToolCall | undefined {
    if (index !== undefined) {
      const known = this.byIndex.get(index);
      if (known && (!id || !known.rawId || known.rawId === id)) return known;
      // An id seen before continues that call, unless it came under another index: some servers
      // reuse one id for every call.
      const byId = id ? this.byId.get(id) : undefined;
      return byId && (byId.index === undefined || byId.index === index) ? byId : undefined;
    }
    if (id) return this.byId.get(id) ?? (this.last && !this.last.rawId ? this.last : undefined);
    return this.last ?? undefined;
  }

  private toolDelta(tc: Json): void {
    const id = typeof tc.id === "string" && tc.id ? tc.id : undefined;
    const index = typeof tc.index === "number" ? tc.index : undefined;
    const fn = tc.function;
    const name = typeof fn?.name === "string" ? fn.name : "";
    let call = this.findCall(index, id);
    if (call && !id && name && call.name && this.nextCall(call, name)) call = undefined;
    if (!call) {
      call = {
        state: "pending",
        buffer: "",
        args: "",
        shape: new ObjectPrefix(),
        checkedLength: -1,
        complete: false,
      };
      this.pending.push(call);
    }
    if (index !== undefined) {
      this.byIndex.set(index, call);
      call.index ??= index;
    }
    if (id && !call.rawId) {
      call.rawId = id;
      this.byId.set(id, call);
    }
    this.last = call;
    if (name && !call.name) call.name = name;
    let args = fn?.arguments;
    if (args && typeof args === "object") args = JSON.stringify(args);
    if (typeof args !== "string") args = "";

    if (call.state === "open") {
      if (args) this.forward(call, args);
    } else if (call.state === "pending") {
      call.buffer += args;
      this.advance();
    }
  }

  /**
   * Whether a named fragment without id starts a call after `call` (Ollama sends each call whole,
   * under index 0 or none). A server that names every fragment of one call does so before its
   * arguments are whole, and under the same name.
   */
  private nextCall(call: ToolCall, name: string): boolean {
    if (!call.args && !call.buffer) return false;
    return name !== call.name || this.looksComplete(call);
  }

  /** Opens waiting calls in order, as long as the one streaming now is evidently complete. */
  private advance(): void {
    while (this.pending.length && this.pending[0].name) {
      if (this.current && !this.looksComplete(this.current)) return;
      this.open(this.pending.shift()!);
    }
  }

  /** Whether the arguments so far (sent, or waiting to be) are a whole object or array. */
  private looksComplete(call: ToolCall): boolean {
    // One of the two is empty: arguments wait in `buffer` until the block opens.
    const args = call.args || call.buffer;
    if (call.complete || args.length === call.checkedLength) return call.complete;
    call.checkedLength = args.length;
    try {
      const v = JSON.parse(args);
      call.complete = v !== null && typeof v === "object";
    } catch {
      call.complete = false;
    }
    return call.complete;
  }

  private open(call: ToolCall): void {
    this.closeThinking();
    this.leaveTool();
    let id = sanitizeToolId(call.rawId);
    if (this.usedIds.has(id)) id = newId("toolu");
    this.usedIds.add(id);
    const name = call.name!;
    this.out.toolStart(id, this.state.names.get(name) ?? name);
    this.toolUsed = true;
    call.state = "open";
    this.current = call;
    if (call.buffer) {
      const buffer = call.buffer;
      call.buffer = "";
      this.forward(call, buffer);
    }
  }

  /** Sends what continues the call's object; what cannot is held (no object yet) or dropped. */
  private forward(call: ToolCall, args: string): void {
    if (call.raw !== undefined) {
      call.raw += args;
      return;
    }
    const n = call.shape.accept(args);
    const part = n < args.length ? args.slice(0, n) : args;
    if (n < args.length) {
      if (call.shape.started) call.cut = true;
      else call.raw = args.slice(n);
    }
    if (!part) return;
    this.out.toolArgs(part);
    call.args += part;
  }

  /** The answer is over: every waiting call is sent whole, in order; nameless ones cannot be. */
  private flushTools(): void {
    for (const call of this.pending.splice(0)) if (call.name) this.open(call);
  }

  private complete(): void {
    if (this.out.done) return;
    for (const piece of this.thinkTags.flush()) this.piece(piece);
    this.flushTools();
    this.leaveTool();
    this.closeThinking();
    // The pages are known once the answer is: the search is told after the text it fed.
    if (this.state.webSearch) {
      this.out.webSearch(newId("srvtoolu"), this.state.webSearch.query, [...this.pages.values()]);
    }
    const stopSequence = this.finishReason === "stop" && !this.toolUsed
      ? matchedStop(this.tail, this.state.stops) ?? this.stopNamed
      : null;
    const stop = stopSequence
      ? "stop_sequence"
      : stopReasonFor(this.finishReason, this.toolUsed && !this.brokenCall, this.refused);
    // Without the usage chunk (some servers omit it) an estimate beats a zero.
    const usage = this.usage
      ? mapUsage(this.usage)
      : { output_tokens: Math.ceil(this.out.sentChars / 4) };
    this.out.finish(stop, usage, stopSequence);
  }
}

export const openaiProvider: Provider = {
  kinds: ["openai", "custom"],
  label: "OpenAI Chat Completions",
  defaultBaseUrl: DEFAULT_BASE_URL,
  buildRequest,
  parseResponse,
  createStreamTranslator(ctx, out) {
    return new OpenAIStreamTranslator(out, stateFor(ctx));
  },
  parseError: openaiErrorFailure,
  outputLimitHint: openaiOutputLimitHint,
  contextOverflow: openaiContextOverflow,

  modelsRequest(ctx) {
    const headers = authHeaders(ctx, {});
    const url = chatCompletionsUrl(ctx.upstream.baseUrl).replace(
      /\/chat\/completions(?=\?|$)/i,
      "/models",
    );
    return { url, method: "GET", headers };
  },

  parseModels(json) {
    const data = (json as Json)?.data;
    if (!Array.isArray(data)) return [];
    return data.filter((m) => typeof m?.id === "string").map((m) => ({
      type: "model" as const,
      id: m.id,
      display_name: m.id,
      created_at: new Date(countOr0(m.created) * 1000).toISOString(),
    }));
  },
};
