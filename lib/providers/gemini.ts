// Anthropic Messages ⇄ Gemini generateContent / streamGenerateContent (Developer API, v1beta).
import type {
  MessageResponse,
  MessagesRequest,
  ResponseBlock,
  StopReason,
  Usage,
  WebSearchResult,
} from "../anthropic.ts";
import { newId } from "../anthropic.ts";
import {
  answerMessage,
  textBlock,
  toolUseBlock,
  webSearchBlocks,
  webSearchResult,
} from "../answer_shape.ts";
import { withEncodedMember } from "../json_bytes.ts";
import { countOr0, isObject } from "../json_value.ts";
import { UpstreamError } from "./upstream_error.ts";
import { streamCutShort } from "./failure.ts";
import { geminiErrorFailure, geminiFailure } from "./gemini_errors.ts";
import { modelName } from "./gemini_model_name.ts";
import { buildBody } from "./gemini_request.ts";
import type { RequestState } from "./gemini_request_state.ts";
import { decodeJsonPaths, decodeJsonText } from "./gemini_schema.ts";
import {
  type Carry,
  fingerprint,
  ID_HEAD,
  mintToolId,
  SIGNATURE_PREFIX,
} from "./gemini_thought_signatures.ts";
import { openaiContextOverflow } from "./openai_context_overflow.ts";
import { openaiOutputLimitHint } from "./openai_output_limits.ts";
import type { AnthropicStreamWriter, UpstreamFailure } from "./stream_writer.ts";
import type { SseMessage } from "../sse.ts";
import type { CallContext, Provider, StreamTranslator, UpstreamRequest } from "./types.ts";

type Obj = Record<string, unknown>;
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
