// Gemini's streamed answer as Anthropic's stream: each chunk's parts go through the assembler,
// and the answer ends once the finish reason and the final usage are in.
import type { Usage } from "../anthropic.ts";
import { isObject } from "../json_value.ts";
import type { SseMessage } from "../sse.ts";
import { streamCutShort, upstreamFault } from "./failure.ts";
import { type Assembler, type Sink, usageFromGemini } from "./gemini_answer.ts";
import { geminiFailure } from "./gemini_errors.ts";
import type { AnthropicStreamWriter } from "./stream_writer.ts";
import type { StreamTranslator } from "./types.ts";

export function writerSink(out: AnthropicStreamWriter): Sink {
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

/** One streamed answer: chunks go through the assembler; their finish, block and usage are kept. */
export class GeminiStreamTranslator implements StreamTranslator {
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
      this.out.error(upstreamFault("Gemini sent an unreadable stream event"));
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
    // A stop sequence the proxy applies ends the answer there, whatever Gemini sends after.
    if (this.asm.stopped) return this.finalize();
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
    // Without usage metadata (some gateways omit it) the writer estimates the count.
    else this.out.finish(outcome.stop, { output_tokens: 0, ...this.usage }, outcome.sequence);
  }
}
