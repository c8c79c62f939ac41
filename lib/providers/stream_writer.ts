// Builds the Anthropic event stream for translated upstreams: owns the block index, so blocks open
// and close in order 0, 1, 2…, no empty text block is emitted, and every stream ends properly.
import type { MessageResponse, StopReason, Usage, WebSearchResult } from "../anthropic.ts";
import { PING_FRAME, sseFrame } from "../sse.ts";
import {
  DELTA_REST,
  DIRECT_CALLER,
  START_MESSAGE_MIDDLE,
  START_USAGE_REST,
} from "../answer_shape.ts";
import { streamErrorJson } from "../errors.ts";
import type { UpstreamFailure } from "./types.ts";

type OpenBlock = "text" | "thinking" | "tool" | null;

export interface StreamMeta {
  id: string;
  model: string;
  inputTokens: number;
  /** The proxy's id of the request, which Anthropic repeats in an error event. */
  requestId?: string;
  /** Masks the secrets an upstream may quote in an error (its key): the client sees the text. */
  redact?: (text: string) => string;
}

export class AnthropicStreamWriter {
  private buf: string;
  private index = -1;
  private open: OpenBlock = null;
  private toolArgsSent = false;
  /** True once any content block was started: past that point a failure cannot be retried. */
  contentStarted = false;
  /** Set when the stream ended, normally or with an error. */
  done = false;
  /** The upstream error met in the stream, if any. */
  failure: UpstreamFailure | undefined;
  stopReason: StopReason | null = null;
  usage: Usage = { input_tokens: 0, output_tokens: 0 };
  /** Characters of text, thinking and tool arguments written: a cut answer's output estimate. */
  sentChars = 0;
  private webSearches = 0;
  private redact: (text: string) => string;
  private requestId: string | null;

  constructor(meta: StreamMeta) {
    this.redact = meta.redact ?? ((text) => text);
    this.requestId = meta.requestId ?? null;
    this.usage.input_tokens = meta.inputTokens;
    this.buf = sseFrame(
      "message_start",
      `{"type":"message_start","message":{"id":${
        JSON.stringify(meta.id)
      },"type":"message","role":"assistant","model":${
        JSON.stringify(meta.model)
      }${START_MESSAGE_MIDDLE}${meta.inputTokens}${START_USAGE_REST}`,
    ) + PING_FRAME;
  }

  /** Returns what was written since the last call, and forgets it. */
  take(): string {
    const out = this.buf;
    this.buf = "";
    return out;
  }

  get openBlock(): OpenBlock {
    return this.open;
  }

  text(delta: string): void {
    if (delta) this.#textDelta(JSON.stringify(delta), delta.length);
  }

  /** A text delta given as a JSON string literal, as the upstream wrote it (not `""`). */
  textJson(literal: string): void {
    this.#textDelta(literal, literal.length - 2);
  }

  #textDelta(literal: string, chars: number): void {
    if (this.done) return;
    if (this.open !== "text") this.startBlock("text", '{"type":"text","text":""}');
    this.sentChars += chars;
    this.buf += sseFrame(
      "content_block_delta",
      `{"type":"content_block_delta","index":${this.index},"delta":{"type":"text_delta","text":${literal}}}`,
    );
  }

  thinking(delta: string): void {
    if (!delta || this.done) return;
    this.#openThinking();
    this.sentChars += delta.length;
    this.buf += sseFrame(
      "content_block_delta",
      `{"type":"content_block_delta","index":${this.index},"delta":{"type":"thinking_delta","thinking":${
        JSON.stringify(delta)
      }}}`,
    );
  }

  /** A thinking block with no text yet (what it carries is in its signature). */
  openThinking(): void {
    if (!this.done) this.#openThinking();
  }

  #openThinking(): void {
    if (this.open !== "thinking") {
      this.startBlock("thinking", '{"type":"thinking","thinking":"","signature":""}');
    }
  }

  /** Thinking the client asked not to see (`display: "omitted"`): its block opens, empty. */
  thinkingOmitted(chars: number): void {
    if (!chars || this.done) return;
    this.#openThinking();
    this.sentChars += chars;
  }

  /** The signature of the open thinking block (opened empty if needed); sent just before its stop. */
  signature(signature: string): void {
    if (this.done) return;
    this.#openThinking();
    this.buf += sseFrame(
      "content_block_delta",
      `{"type":"content_block_delta","index":${this.index},"delta":{"type":"signature_delta","signature":${
        JSON.stringify(signature)
      }}}`,
    );
  }

  redactedThinking(data: string): void {
    if (this.done) return;
    this.startBlock(null, `{"type":"redacted_thinking","data":${JSON.stringify(data)}}`);
    this.closeBlock();
  }

  toolStart(id: string, name: string): void {
    if (this.done) return;
    this.startBlock(
      "tool",
      `{"type":"tool_use","id":${JSON.stringify(id)},"name":${
        JSON.stringify(name)
      },"input":{}${DIRECT_CALLER}}`,
    );
    this.toolArgsSent = false;
  }

  /** A search the upstream ran itself, told as Anthropic tells its web search: call, then results. */
  webSearch(id: string, query: string, results: WebSearchResult[]): void {
    if (this.done) return;
    this.startBlock(
      "tool",
      `{"type":"server_tool_use","id":${
        JSON.stringify(id)
      },"name":"web_search","input":{}${DIRECT_CALLER}}`,
    );
    this.toolArgs(JSON.stringify({ query }));
    this.closeBlock();
    this.startBlock(
      null,
      `{"type":"web_search_tool_result","tool_use_id":${JSON.stringify(id)},"content":${
        JSON.stringify(results)
      }${DIRECT_CALLER}}`,
    );
    this.closeBlock();
    this.webSearches++;
  }

  /** A fragment of the open tool block's JSON arguments, forwarded as it arrives. */
  toolArgs(partialJson: string): void {
    if (!partialJson || this.open !== "tool" || this.done) return;
    this.toolArgsSent = true;
    this.sentChars += partialJson.length;
    this.buf += sseFrame(
      "content_block_delta",
      `{"type":"content_block_delta","index":${this.index},"delta":{"type":"input_json_delta","partial_json":${
        JSON.stringify(partialJson)
      }}}`,
    );
  }

  closeBlock(): void {
    if (this.index < 0 || this.open === null && !this.pendingClose) return;
    if (this.open === "tool" && !this.toolArgsSent) {
      // Clients parse the concatenated fragments at the stop: none at all must still be an object.
      this.toolArgsSent = true;
      this.toolArgs("{}");
    }
    this.buf += sseFrame(
      "content_block_stop",
      `{"type":"content_block_stop","index":${this.index}}`,
    );
    this.open = null;
    this.pendingClose = false;
  }

  ping(): void {
    if (!this.done) this.buf += PING_FRAME;
  }

  /** Closes the open block and ends the message with its stop reason and final usage. */
  finish(stopReason: StopReason, usage: Partial<Usage>, stopSequence: string | null = null): void {
    if (this.done) return;
    this.closeBlock();
    this.stopReason = stopReason;
    const estimate = this.usage.input_tokens;
    Object.assign(this.usage, usage);
    const u = this.usage;
    // Counts an upstream left null or 0 are no count: the client keeps the estimate, not a zero
    // (its context meter, and the SDK's final usage, take the last figure).
    if (!u.input_tokens && !u.cache_read_input_tokens && !u.cache_creation_input_tokens) {
      u.input_tokens = estimate;
    }
    if (!u.output_tokens && this.sentChars) u.output_tokens = Math.ceil(this.sentChars / 4);
    const details = u.output_tokens_details;
    this.buf += sseFrame(
      "message_delta",
      `{"type":"message_delta","delta":{"stop_reason":"${stopReason}","stop_sequence":${
        JSON.stringify(stopSequence)
      }${DELTA_REST},"usage":{"input_tokens":${u.input_tokens},"cache_creation_input_tokens":${
        u.cache_creation_input_tokens ?? 0
      },"cache_read_input_tokens":${
        u.cache_read_input_tokens ?? 0
      },"output_tokens":${u.output_tokens},"output_tokens_details":${
        details ? `{"thinking_tokens":${details.thinking_tokens}}` : "null"
      },"server_tool_use":{"web_search_requests":${this.webSearches},"web_fetch_requests":0}}}`,
    ) + sseFrame("message_stop", '{"type":"message_stop"}');
    this.done = true;
  }

  /** Writes a whole message as its events, for upstreams that answered a stream with JSON. */
  replay(message: MessageResponse): void {
    for (const block of message.content) {
      if (block.type === "text") this.text(block.text);
      else if (block.type === "thinking") {
        this.thinking(block.thinking);
        this.signature(block.signature);
      } else if (block.type === "redacted_thinking") this.redactedThinking(block.data);
      else if (block.type === "tool_use") {
        this.toolStart(block.id, block.name);
        this.toolArgs(JSON.stringify(block.input ?? {}));
      } else if (block.type === "web_search_tool_result") {
        const call = message.content.find((b) =>
          b.type === "server_tool_use" && b.id === block.tool_use_id
        ) as { input?: { query?: string } } | undefined;
        this.webSearch(block.tool_use_id, call?.input?.query ?? "", block.content);
      }
    }
    this.finish(message.stop_reason, message.usage, message.stop_sequence);
  }

  /**
   * Ends the stream with an `event: error` frame; no `message_stop` follows an error. An open
   * block stays open, as Anthropic leaves it: Claude Code then asks again without streaming,
   * where a closed block would be taken as a finished answer (or a finished, cut-off tool call).
   */
  error(failure: UpstreamFailure): void {
    if (this.done) return;
    const message = this.redact(failure.message);
    this.failure = message === failure.message ? failure : { ...failure, message };
    this.buf += sseFrame("error", streamErrorJson(failure.type, message, this.requestId));
    this.done = true;
  }

  private pendingClose = false;

  private startBlock(kind: OpenBlock, contentBlock: string): void {
    this.closeBlock();
    this.index++;
    this.open = kind;
    this.pendingClose = kind === null;
    this.contentStarted = true;
    this.buf += sseFrame(
      "content_block_start",
      `{"type":"content_block_start","index":${this.index},"content_block":${contentBlock}}`,
    );
  }
}
