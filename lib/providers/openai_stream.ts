// A streamed Chat Completions answer as Anthropic stream events, written as its chunks arrive.
import { newId, sanitizeToolId, type WebSearchResult } from "../anthropic.ts";
import type { SseMessage } from "../sse.ts";
import { type Piece, ThinkTagSplitter } from "./think_tags.ts";
import { streamCutShort, upstreamFault } from "./failure.ts";
import type { CallState } from "./openai_call_state.ts";
import { callSignature, withSignature } from "./openai_thought_signatures.ts";
import { bodyFailure, choiceFailure, openaiInlineFailure } from "./openai_errors.ts";
import {
  citedPages,
  contentParts,
  firstChoice,
  mapUsage,
  matchedStop,
  parseToolArguments,
  reportedStop,
  stopReasonFor,
} from "./openai_answer_fields.ts";
import { jsonCompletion, ObjectPrefix } from "./partial_json.ts";
import { carrySignature, ReasoningDetails } from "./openai_reasoning_carry.ts";
import { StopScanner } from "../stop_sequences.ts";
import { PrefillEcho } from "../prefill_echo.ts";
import type { AnthropicStreamWriter } from "./stream_writer.ts";
import type { StreamTranslator } from "./types.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

interface ToolCall {
  index?: number;
  rawId?: string;
  name?: string;
  state: "pending" | "open" | "closed";
  /** Arguments received before the block could open. */
  buffer: string;
  /** Arguments forwarded so far, kept only to tell when an interleaved call is complete. */
  args: string;
  /** The arguments received so far, a server's resent ones once. */
  received: string;
  /** How much of the arguments the client can parse as the object they should be. */
  shape: ObjectPrefix;
  /** Arguments that are no object at all, held to be sent at the end as the object they make. */
  raw?: string;
  checkedLength: number;
  complete: boolean;
  /** Gemini's thought signature for the call (its OpenAI endpoint), carried in the client's id. */
  signature?: string;
}

/**
 * The common chunk, a text delta and nothing else, matched without parsing the whole chunk: that
 * parse was most of a stream's translation. Its JSON string literal goes out as it came, so it
 * must be one JSON takes: no raw control character, no escape JSON does not have.
 */
const TEXT_CHUNK =
  // deno-lint-ignore no-control-regex
  /"choices":\[\{"index":0,"delta":\{"content":("(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))+")\},"logprobs":null,"finish_reason":null\}\]/;

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

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f]/;
// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x1f]/g;

/** A chunk's JSON; control characters a server left raw in its strings (Ollama's) are read as text. */
function parseChunk(data: string): Json {
  try {
    return JSON.parse(data);
  } catch {
    if (!CONTROL.test(data)) return undefined;
  }
  try {
    return JSON.parse(data.replace(CONTROLS, (c) => JSON.stringify(c).slice(1, -1)));
  } catch {
    return undefined;
  }
}

export class OpenAIStreamTranslator implements StreamTranslator {
  private finishReason: string | null = null;
  private sawDone = false;
  private usage: Json = null;
  private byIndex = new Map<number, ToolCall>();
  private byId = new Map<string, ToolCall>();
  private last: ToolCall | null = null;
  /** A finished call's name sent again alone: a repeat, or the next call's if arguments follow. */
  private namedAgain: { call: ToolCall; name: string } | undefined;
  /** Calls that cannot open yet (no name, or another call still streaming), in arrival order. */
  private pending: ToolCall[] = [];
  private current: ToolCall | null = null;
  private readonly usedIds: Set<string>;
  private toolUsed = false;
  private refused = false;
  private tail = "";
  /** The stop string the server named with its finish reason, if it names one. */
  private stopNamed: string | null = null;
  private readonly maxStop: number;
  /** The stop sequences the upstream does not apply, applied here. */
  private readonly stops?: StopScanner;
  /** The prefill the model may write again before its answer, taken off. */
  private readonly echo?: PrefillEcho;
  private thinkTags = new ThinkTagSplitter();
  private pages = new Map<string, WebSearchResult>();
  /** Reasoning the open thinking block's signature carries back (see openai_reasoning_carry.ts). */
  private carriedText = "";
  /** Some piece of an answer came (a role alone is none). */
  private answered = false;
  private details = new ReasoningDetails();

  constructor(private readonly out: AnthropicStreamWriter, private readonly state: CallState) {
    this.maxStop = state.stops.reduce((m, s) => Math.max(m, s.length), 0);
    // Ids the conversation already has count as used: a repeated one is replaced.
    this.usedIds = new Set(state.historyIds);
    if (state.localStops.length) this.stops = new StopScanner(state.localStops);
    if (state.prefill) this.echo = new PrefillEcho(state.prefill);
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
      this.end();
      return;
    }
    // Text beside a call goes the long way: blank, it is no block (see content()).
    const literal = this.thinkTags.settled && !this.maxStop && !this.stops && !this.echo &&
        !this.current && !this.pending.length
      ? textLiteral(data)
      : undefined;
    if (literal !== undefined) {
      this.answered = true;
      this.openWaiting();
      this.closeThinking();
      this.leaveTool();
      this.out.textJson(literal);
      return;
    }
    const chunk = parseChunk(data);
    // Read past, it could hide a piece of the answer and end it as if whole.
    if (!chunk || typeof chunk !== "object") {
      this.out.error(upstreamFault("upstream sent an unreadable stream event"));
      return;
    }
    const failure = bodyFailure(chunk);
    if (failure) {
      this.out.error(failure);
      return;
    }
    if (chunk.usage && typeof chunk.usage === "object") this.usage = chunk.usage;
    const choice = Array.isArray(chunk.choices) ? firstChoice(chunk.choices) : undefined;
    if (!choice) {
      // The usage chunk, choices empty, is the last OpenAI sends: the answer is whole even from a
      // server that then sends neither [DONE] nor the body's end.
      if (this.usage && this.finishReason) this.complete();
      return;
    }
    const failed = choiceFailure(choice);
    if (failed) {
      this.out.error(failed);
      return;
    }
    // Moonshot's Kimi puts the usage in the finishing choice.
    if (!this.usage && choice.usage && typeof choice.usage === "object") this.usage = choice.usage;
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
    // [DONE] alone, before anything of an answer, is none: a server's fault, tried again.
    if (this.finishReason || (this.sawDone && this.answered)) this.complete();
    else this.out.error(streamCutShort());
  }

  private delta(delta: Json): void {
    if (
      delta.content || delta.tool_calls || delta.function_call || delta.refusal ||
      delta.reasoning_content || delta.reasoning
    ) this.answered = true;
    if (Array.isArray(delta.reasoning_details) && delta.reasoning_details.length) {
      this.answered = true;
      this.reasoningDetails(delta.reasoning_details);
    }
    const reasoning = typeof delta.reasoning_content === "string" && delta.reasoning_content
      ? delta.reasoning_content
      : typeof delta.reasoning === "string"
      ? delta.reasoning
      : "";
    if (reasoning) this.thinking(reasoning);
    if (typeof delta.content === "string" && delta.content) this.content(delta.content);
    else if (Array.isArray(delta.content)) {
      for (const [kind, text] of contentParts(delta.content)) {
        if (kind === "thinking") this.thinking(text);
        else this.content(text);
      }
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

  private content(text: string): void {
    // Blank text beside a call is no text: between pieces of its arguments it would close the call
    // half made, and between two calls it is a block of only whitespace, which Anthropic refuses
    // when the conversation comes back to it.
    if (!text.trim() && (this.current || this.pending.length)) return;
    if (this.thinkTags.settled) this.text(text);
    else for (const piece of this.thinkTags.push(text)) this.piece(piece);
  }

  private piece([kind, text]: Piece): void {
    if (kind === "text") return this.text(text);
    this.thinking(text);
  }

  private thinking(text: string): void {
    if (this.state.noThinking) return;
    this.releaseText();
    this.openWaiting();
    this.leaveTool();
    if (this.state.omitThinking) {
      this.out.thinkingOmitted(text.length);
      if (this.state.carryText) this.carriedText += text;
    } else this.out.thinking(text);
  }

  /**
   * OpenRouter's details go in the thinking block they came with, or open one when nothing else
   * is open. Those that come after text go in a block of their own before the next call; with no
   * call after them they are let go, as Gemini's translator lets a text's signature go: clients
   * take the last block as the answer, and only calls need their signature back.
   */
  private reasoningDetails(details: Json[]): void {
    this.details.push(details);
    if (this.out.openBlock === null && !this.current && !this.pending.length) {
      this.out.openThinking();
    }
  }

  private text(text: string): void {
    if (this.echo) text = this.echo.push(text);
    this.scanned(text);
  }

  private scanned(text: string): void {
    if (!text) return;
    if (this.stops) {
      text = this.stops.push(text);
      if (this.stops.hit !== null) {
        if (text) this.sendText(text);
        // The answer ends there, as Anthropic's would: what the upstream sends after is dropped.
        this.pending = [];
        this.complete();
        return;
      }
      if (!text) return;
    }
    this.sendText(text);
  }

  private sendText(text: string): void {
    this.openWaiting();
    this.closeThinking();
    this.leaveTool();
    this.out.text(text);
    if (this.maxStop) this.tail = (this.tail + text).slice(-this.maxStop);
  }

  /** Text held back as the possible start of a stop sequence goes once other output follows. */
  private releaseText(): void {
    const echoed = this.echo?.release();
    if (echoed) this.scanned(echoed);
    const held = this.stops?.release();
    if (held) this.sendText(held);
  }

  private closeThinking(held = false): void {
    if (this.out.openBlock !== "thinking" && !(held && this.details.size)) return;
    this.out.signature(carrySignature({ text: this.carriedText, details: this.details.take() }));
    this.carriedText = "";
  }

  /**
   * The open tool block is about to be closed by another block, or by the answer's end (`cut`: at
   * the output limit); late fragments are dropped.
   */
  private leaveTool(cut = false): void {
    const call = this.current;
    if (!call) return;
    call.state = "closed";
    this.current = null;
    if (call.raw !== undefined) {
      this.out.toolArgs(JSON.stringify(parseToolArguments(call.raw)));
      return;
    }
    // The client parses the block's fragments joined at its stop (none at all: the writer's `{}`).
    if (!call.args || this.looksComplete(call)) return;
    // Arguments the output limit broke off stay broken, as Anthropic's do: completed, they would
    // be a call the model never made (a file written half), and Claude Code runs a call even when
    // the answer stopped at max_tokens. Unparsed, it is refused and the model asked again.
    if (cut) return;
    const suffix = jsonCompletion(call.args);
    if (suffix) this.out.toolArgs(suffix);
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
    if (!this.thinkTags.settled) {
      // Held text goes before the call, as it came; blank lines are no text (Anthropic refuses a
      // text block of only whitespace when the conversation comes back to it).
      for (const piece of this.thinkTags.settle()) if (piece[1].trim()) this.piece(piece);
    }
    const id = typeof tc.id === "string" && tc.id ? tc.id : undefined;
    const index = typeof tc.index === "number" ? tc.index : undefined;
    const fn = tc.function;
    let name = typeof fn?.name === "string" ? fn.name : "";
    let args = fn?.arguments;
    if (args && typeof args === "object") args = JSON.stringify(args);
    if (typeof args !== "string") args = "";
    let call = this.findCall(index, id);
    const namedAgain = this.namedAgain;
    this.namedAgain = undefined;
    if (call && !id && name && call.name) {
      // The name alone again under a finished call's index: a server repeating it with every
      // fragment, unless arguments follow (Ollama's next call, all under index 0).
      if (!args && index === call.index && name === call.name && this.looksComplete(call)) {
        this.namedAgain = { call, name };
        return;
      }
      if (this.nextCall(call, name)) call = undefined;
    } else if (call && !id && !name && args && namedAgain?.call === call) {
      call = undefined;
      name = namedAgain.name;
    }
    if (!call) {
      call = {
        state: "pending",
        buffer: "",
        args: "",
        received: "",
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
    call.signature ??= callSignature(tc);
    this.last = call;
    if (name) {
      if (!call.name) call.name = name;
      // Some servers (Gemini's OpenAI endpoint) send a name in pieces, others send it whole with
      // every fragment: a piece before the arguments that does not end the name continues it.
      else if (call.state === "pending" && !call.buffer && !call.name.endsWith(name)) {
        call.name += name;
      }
    }
    if (args) {
      if (this.resent(call, args)) args = args.slice(call.received.length);
      call.received += args;
    }
    if (call.state === "open") {
      if (args) this.forward(call, args);
    } else if (call.state === "pending") {
      call.buffer += args;
      this.advance();
    }
  }

  /**
   * Whether a fragment is the arguments so far sent again with more (DeepSeek's and Baidu
   * Qianfan's servers send them so with each fragment): it starts with all that came before and
   * could begin an object by itself. A continuation that merely starts so (a nested object with
   * the same first key, `{"a":` then `{"a":1}}`) closes more than it opens.
   */
  private resent(call: ToolCall, args: string): boolean {
    const before = call.received;
    return before !== "" && args.length > before.length && args.startsWith(before) &&
      jsonCompletion(args) !== undefined;
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
      // Its name may still be coming in pieces until its arguments or another call begin.
      if (!this.pending[0].buffer && this.pending.length === 1) return;
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
    if (this.state.singleCall && this.toolUsed) {
      call.state = "closed";
      return;
    }
    this.releaseText();
    this.leaveTool();
    this.closeThinking(true);
    let id = sanitizeToolId(call.rawId);
    if (this.usedIds.has(id)) id = newId("toolu");
    this.usedIds.add(id);
    const name = call.name!;
    this.out.toolStart(withSignature(id, call.signature), this.state.names.get(name) ?? name);
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
    const part = call.shape.pass(args);
    // More after the object's end (a server sending the arguments twice) leaves it whole.
    // Refused before the object began: the arguments are taken whole at the call's end.
    if (call.shape.refused && !call.shape.ended && !call.shape.started) {
      call.raw = call.shape.refused;
    }
    if (!part) return;
    this.out.toolArgs(part);
    call.args += part;
  }

  /** The answer is over: every waiting call is sent whole, in order; nameless ones cannot be. */
  private flushTools(): void {
    for (const call of this.pending.splice(0)) if (call.name) this.open(call);
  }

  /**
   * Other output follows: calls still waiting (arguments empty, or behind a call with empty
   * arguments) came before it. Those without a name yet wait on.
   */
  private openWaiting(): void {
    if (!this.pending.length) return;
    const waiting = this.pending;
    this.pending = [];
    for (const call of waiting) {
      if (call.name) this.open(call);
      else this.pending.push(call);
    }
  }

  private complete(): void {
    if (this.out.done) return;
    if ((this.stops?.hit ?? null) === null) {
      for (const piece of this.thinkTags.flush()) this.piece(piece);
      this.releaseText();
      // The held text met a stop sequence: the answer was completed there.
      if (this.out.done) return;
    }
    const hit = this.stops?.hit ?? null;
    this.flushTools();
    this.leaveTool(this.finishReason === "length");
    this.closeThinking();
    // The pages are known once the answer is: the search is told after the text it fed.
    if (this.state.webSearch) {
      this.out.webSearch(newId("srvtoolu"), this.state.webSearch.query, [...this.pages.values()]);
    }
    // A call made before the stop sequence is run: the answer ends on it, as tool_use.
    const stopSequence = this.toolUsed
      ? null
      : hit ?? (this.finishReason === "stop"
        ? matchedStop(this.tail, this.state.stops) ?? this.stopNamed
        : null);
    const stop = stopSequence
      ? "stop_sequence"
      : stopReasonFor(this.finishReason, this.toolUsed, this.refused);
    // Without the usage chunk (some servers omit it) the writer estimates the count.
    const usage = this.usage ? mapUsage(this.usage) : { output_tokens: 0 };
    this.out.finish(stop, usage, stopSequence);
  }
}
