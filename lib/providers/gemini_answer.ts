// Gemini's answer as Anthropic's: one assembler for both paths, writing to a sink (the stream
// writer or a collector), and the stop reason, or the failure, it ends on.
import type { StopReason, Usage, WebSearchResult } from "../anthropic.ts";
import { newId } from "../anthropic.ts";
import { webSearchResult } from "../answer_shape.ts";
import { countOr0, isObject } from "../json_value.ts";
import type { RequestState } from "./gemini_call.ts";
import { decodeJsonPaths, decodeJsonText } from "./gemini_schema.ts";
import { type Carry, ID_HEAD, mintToolId, SIGNATURE_PREFIX } from "./gemini_thought_signatures.ts";
import type { UpstreamFailure } from "./types.ts";
import { StopScanner } from "../stop_sequences.ts";

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

export interface Sink {
  readonly openBlock: "text" | "thinking" | "tool" | null;
  webSearch(id: string, query: string, results: WebSearchResult[]): void;
  text(delta: string): void;
  thinking(delta: string): void;
  signature(signature: string): void;
  tool(id: string, name: string, input: unknown): void;
  closeBlock(): void;
}

type Outcome = { stop: StopReason; sequence?: string } | { failure: UpstreamFailure };

export class Assembler {
  /** Signatures waiting for the next thinking block's signature. */
  private pending: Carry = {};
  /** Text or tool calls were emitted (thoughts alone do not answer anything). */
  private visible = false;
  private calls = 0;
  /** A structured answer with JSON text in it, kept whole to be decoded at the end. */
  private held = "";

  /** The stop sequences Gemini was not asked to apply, applied here. */
  private stops?: StopScanner;

  constructor(private sink: Sink, private state: RequestState, private fp: string) {
    if (state.localStops?.length) this.stops = new StopScanner(state.localStops);
  }

  /** The answer met a stop sequence: nothing after it belongs to it. */
  get stopped(): boolean {
    return this.stops !== undefined && this.stops.hit !== null;
  }

  parts(parts: unknown): void {
    if (!Array.isArray(parts)) return;
    for (const p of parts) {
      if (this.stopped) return;
      if (!isObject(p)) continue;
      const sig = typeof p.thoughtSignature === "string" && p.thoughtSignature
        ? p.thoughtSignature
        : undefined;
      if (isObject(p.functionCall)) {
        this.releaseText();
        this.call(p.functionCall, sig);
        continue;
      }
      if (sig && this.state.carryText) this.pending.t = sig;
      if (typeof p.text !== "string" || !p.text) continue;
      if (p.thought === true) {
        this.releaseText();
        this.sink.thinking(p.text);
      } else {
        this.flush(false);
        if (this.state.answerPaths) this.held += p.text;
        else this.text(p.text);
        this.visible = true;
      }
    }
  }

  private call(fc: Obj, sig: string | undefined): void {
    const geminiName = typeof fc.name === "string" ? fc.name : "";
    // A call to no tool cannot run, and its empty name in the history would be refused next turn.
    if (!geminiName || (this.state.singleCall && this.calls > 0)) return;
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

  private text(text: string): void {
    const now = this.stops ? this.stops.push(text) : text;
    if (now) this.sink.text(now);
  }

  /** Text held back as the possible start of a stop sequence goes once other output follows. */
  private releaseText(): void {
    const held = this.stops?.release();
    if (held) this.sink.text(held);
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
    this.releaseText();
    if (this.stopped) {
      this.flush(false);
      // A call made before the stop sequence is run: the answer ends on it.
      return this.calls > 0
        ? { stop: "tool_use" }
        : { stop: "stop_sequence", sequence: this.stops!.hit! };
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
      // The model's doing (Gemini 2.5 does it after some tool results), not the key's: no other
      // key is tried nor set aside, and clients retry a 502 themselves.
      return {
        failure: {
          status: 502,
          type: "api_error",
          message: finishReason === undefined
            ? `Gemini returned an empty answer (no candidate)${detail}`
            : `Gemini returned an empty answer (finishReason: ${reason})${detail}`,
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
        this.sink.text(
          reason === "LANGUAGE"
            ? `Gemini stopped this answer: it does not answer in this language (finishReason: ${reason}).`
            : reason.endsWith("RECITATION")
            ? `Gemini stopped this answer: it was reciting a source (finishReason: ${reason}).`
            : `Gemini stopped this answer for safety reasons (finishReason: ${reason}).`,
        );
      }
      return { stop: "refusal" };
    }
    if (reason === "MAX_TOKENS") return { stop: "max_tokens" };
    if (this.calls > 0) return { stop: "tool_use" };
    return { stop: "end_turn" };
  }
}

/** `input_tokens` excludes cached tokens; thoughts count as output, as Anthropic bills them. */
export function usageFromGemini(meta: unknown): Partial<Usage> {
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
