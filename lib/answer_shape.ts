// The fields Anthropic sends in every answer beside what the answer holds, for the answers the
// proxy writes itself (OpenAI-style and Gemini upstreams). The SDKs type them as always present;
// left out, code written against the API reads undefined where it tests for null (`msg.container
// !== null`), so they carry the values Anthropic sends when they do not apply; a text block's
// `citations`, which Anthropic leaves out, stays out.
import {
  type MessageResponse,
  newId,
  type ResponseBlock,
  type StopReason,
  type Usage,
  type WebSearchResult,
} from "./anthropic.ts";

/** Marks a call the model made itself (not one made from code execution). */
const DIRECT = { type: "direct" } as const;

/**
 * Without `citations`: Anthropic leaves the field out of a text block that cites nothing, and
 * clients validate it as absent or a list (the Vercel AI SDK refuses null).
 */
export function textBlock(text: string): ResponseBlock {
  return { type: "text", text };
}

export function toolUseBlock(id: string, name: string, input: unknown): ResponseBlock {
  return { type: "tool_use", id, name, input, caller: DIRECT };
}

/** A page an upstream's own search used; one without a title is named by its address. */
export function webSearchResult(url: string, title: unknown): WebSearchResult {
  return {
    type: "web_search_result",
    url,
    title: typeof title === "string" && title ? title : url,
    encrypted_content: "",
    page_age: null,
  };
}

/** A search the upstream ran, as Anthropic tells its web search: the call, then its results. */
export function webSearchBlocks(
  id: string,
  query: string,
  results: WebSearchResult[],
): [ResponseBlock, ResponseBlock] {
  return [
    { type: "server_tool_use", id, name: "web_search", input: { query }, caller: DIRECT },
    { type: "web_search_tool_result", tool_use_id: id, content: results, caller: DIRECT },
  ];
}

/** The usage of a whole answer, with every field the API sends, in its order. */
function answerUsage(u: Usage): Usage {
  const created = u.cache_creation_input_tokens ?? 0;
  return {
    input_tokens: u.input_tokens,
    cache_creation_input_tokens: created,
    cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
    // Only the 5-minute cache is ever written through the proxy's own answers.
    cache_creation: { ephemeral_5m_input_tokens: created, ephemeral_1h_input_tokens: 0 },
    output_tokens: u.output_tokens,
    output_tokens_details: u.output_tokens_details ?? null,
    server_tool_use: {
      web_search_requests: u.server_tool_use?.web_search_requests ?? 0,
      web_fetch_requests: 0,
    },
    service_tier: "standard",
    inference_geo: "not_available",
    speed: "standard",
  };
}

/** A whole answer as the API sends it. */
export function answerMessage(
  model: string,
  content: ResponseBlock[],
  stopReason: StopReason,
  stopSequence: string | null,
  usage: Usage,
): MessageResponse {
  return {
    id: newId("msg"),
    type: "message",
    role: "assistant",
    model,
    content,
    stop_reason: stopReason,
    stop_sequence: stopSequence,
    stop_details: null,
    container: null,
    usage: answerUsage(usage),
    diagnostics: null,
  };
}

// The same fields in the stream, as constant text: the writer never re-serialises an event.

/** message_start's message after its model, up to its usage's input tokens. */
export const START_MESSAGE_MIDDLE =
  ',"content":[],"stop_reason":null,"stop_sequence":null,"stop_details":null,"container":null,"usage":{"input_tokens":';
/** message_start's usage after its input tokens (unknown at the start but for the input). */
export const START_USAGE_REST =
  ',"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":1,"output_tokens_details":null,"server_tool_use":null,"service_tier":"standard","inference_geo":"not_available","speed":"standard"},"diagnostics":null}}';
/** message_delta's delta after its stop sequence. */
export const DELTA_REST = ',"stop_details":null,"container":null}';
/** What follows a tool call's input in its content_block_start. */
export const DIRECT_CALLER = ',"caller":{"type":"direct"}';
