// Types of the Anthropic Messages API, the one format every client speaks to the proxy.
import { flat } from "./flat_string.ts";

export type Role = "user" | "assistant" | "system";

export interface CacheControl {
  type: "ephemeral";
  ttl?: string;
}

export interface TextBlock {
  type: "text";
  text: string;
  cache_control?: CacheControl;
}

export interface ImageBlock {
  type: "image";
  source:
    | { type: "base64"; media_type: string; data: string }
    | { type: "url"; url: string }
    | { type: "file"; file_id: string };
}

export interface DocumentBlock {
  type: "document";
  source: { type: string; media_type?: string; data?: string; url?: string; content?: unknown };
  title?: string;
}

export interface ToolUseBlock {
  type: "tool_use";
  id: string;
  name: string;
  input: unknown;
}

export interface ToolResultBlock {
  type: "tool_result";
  tool_use_id: string;
  content?: string | Array<TextBlock | ImageBlock | DocumentBlock | { type: string }>;
  is_error?: boolean;
}

export interface ThinkingBlock {
  type: "thinking";
  thinking: string;
  signature?: string;
}

export interface RedactedThinkingBlock {
  type: "redacted_thinking";
  data: string;
}

export type ContentBlock =
  | TextBlock
  | ImageBlock
  | DocumentBlock
  | ToolUseBlock
  | ToolResultBlock
  | ThinkingBlock
  | RedactedThinkingBlock
  | { type: string; [key: string]: unknown };

export interface Message {
  role: Role;
  content: string | ContentBlock[];
}

export interface Tool {
  name: string;
  description?: string;
  input_schema?: Record<string, unknown>;
  type?: string;
  [key: string]: unknown;
}

export type ToolChoice =
  | { type: "auto"; disable_parallel_tool_use?: boolean }
  | { type: "any"; disable_parallel_tool_use?: boolean }
  | { type: "tool"; name: string; disable_parallel_tool_use?: boolean }
  | { type: "none" };

export type Thinking =
  | { type: "enabled"; budget_tokens: number; display?: string }
  | { type: "disabled" }
  | { type: "adaptive"; display?: string };

export interface MessagesRequest {
  model: string;
  max_tokens: number;
  messages: Message[];
  system?: string | TextBlock[];
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stream?: boolean;
  tools?: Tool[];
  tool_choice?: ToolChoice;
  thinking?: Thinking;
  metadata?: { user_id?: string };
  output_config?: { effort?: string; format?: OutputFormat };
  /** The structured-outputs beta's name for `output_config.format`, still sent by older SDKs. */
  output_format?: OutputFormat;
  [key: string]: unknown;
}

export interface OutputFormat {
  type: string;
  schema?: unknown;
}

/** The structured output a request asks for, under its current name or its beta one. */
export function outputFormat(body: MessagesRequest): OutputFormat | undefined {
  return body.output_config?.format ?? body.output_format;
}

export type StopReason =
  | "end_turn"
  | "max_tokens"
  | "stop_sequence"
  | "tool_use"
  | "pause_turn"
  | "refusal";

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation?: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number } | null;
  /** Of the output, what went to thinking, where the upstream says. */
  output_tokens_details?: { thinking_tokens: number } | null;
  server_tool_use?: { web_search_requests: number; web_fetch_requests?: number } | null;
  service_tier?: string | null;
  inference_geo?: string | null;
  speed?: string | null;
}

export interface WebSearchResult {
  type: "web_search_result";
  url: string;
  title: string;
  encrypted_content: string;
  page_age: string | null;
}

/** Who made a tool call: the model itself, for every call the proxy reports. */
type Caller = { type: "direct" };

export type ResponseBlock =
  | { type: "text"; text: string; citations?: null }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "redacted_thinking"; data: string }
  | { type: "tool_use"; id: string; name: string; input: unknown; caller?: Caller }
  | {
    type: "server_tool_use";
    id: string;
    name: "web_search";
    input: { query: string };
    caller?: Caller;
  }
  | {
    type: "web_search_tool_result";
    tool_use_id: string;
    content: WebSearchResult[];
    caller?: Caller;
  };

export interface MessageResponse {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: ResponseBlock[];
  stop_reason: StopReason;
  stop_sequence: string | null;
  stop_details: null;
  container: null;
  usage: Usage;
  diagnostics: null;
}

export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "api_error"
  | "overloaded_error"
  | "timeout_error";

const ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const random = new Uint8Array(4096);
let randomAt = random.length;

/** A random id in Anthropic's style, e.g. `newId("msg")` → `msg_01…`. */
export function newId(prefix: string, length = 24): string {
  // One getRandomValues call serves many ids: ids are minted several times per request.
  if (randomAt + length > random.length) {
    crypto.getRandomValues(random);
    randomAt = 0;
  }
  const codes = new Array<number>(length);
  for (let i = 0; i < length; i++) codes[i] = ID_ALPHABET.charCodeAt(random[randomAt++] % 62);
  return flat(prefix, "_01", String.fromCharCode(...codes));
}

/** Tool ids must match `^[a-zA-Z0-9_-]+$`; anything else is replaced, and an empty id minted. */
export function sanitizeToolId(id: unknown): string {
  // A server's id may be anything JSON holds; a number still names its call.
  if (typeof id !== "string" && typeof id !== "number") return newId("toolu");
  const clean = String(id).replace(/[^a-zA-Z0-9_-]/g, "_");
  return clean || newId("toolu");
}

/**
 * A `search_result` block (search results a client hands the model to cite) as plain text, for
 * upstreams that have no such block: its title, where it came from, then its text.
 */
export function searchResultText(block: { title?: unknown; source?: unknown; content?: unknown }) {
  const texts: string[] = [];
  if (Array.isArray(block.content)) {
    for (const b of block.content) {
      if (typeof b?.text === "string" && b.text) texts.push(b.text);
    }
  }
  const title = typeof block.title === "string" ? block.title : "";
  const source = typeof block.source === "string" ? block.source : "";
  const head = [title, source && `(${source})`].filter(Boolean).join(" ");
  return flat("[Search result", head ? `: ${head}` : "", "]\n", texts.join("\n"));
}
