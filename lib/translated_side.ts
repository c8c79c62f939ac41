// The translating side of a stream: upstream events go through the provider's translator into an
// Anthropic event stream, sent as the writer has it.
import type { ErrorType } from "./anthropic.ts";
import { newId } from "./anthropic.ts";
import type { Piece } from "./body_read.ts";
import { encodeCarved } from "./byte_slab.ts";
import { upstreamFault } from "./providers/failure.ts";
import { AnthropicStreamWriter } from "./providers/stream_writer.ts";
import type {
  CallContext,
  Provider,
  StreamTranslator,
  UpstreamFailure,
} from "./providers/types.ts";
import type { MessagesCall } from "./proxy.ts";
import type { RequestRecord } from "./request_record.ts";
import { createSseDecoder, overlongLine, type SseDecoder } from "./sse.ts";
import { COMPLETE, type Ctrl, type ResponseCapture, SENT, type StreamSide } from "./stream_side.ts";
import { firstInputEstimate } from "./token_estimate.ts";

export class TranslatedSide implements StreamSide {
  readonly pingable = true;
  #writer: AnthropicStreamWriter;
  #decoder: SseDecoder;
  #translator: StreamTranslator;
  #capture: ResponseCapture | undefined;

  constructor(
    provider: Provider,
    ctx: CallContext,
    call: MessagesCall,
    redact: (text: string) => string,
    capture: ResponseCapture | undefined,
  ) {
    const writer = this.#writer = new AnthropicStreamWriter({
      id: newId("msg"),
      model: ctx.requestedModel,
      inputTokens: firstInputEstimate(call.body, call.raw),
      requestId: call.requestId,
      redact,
    });
    const translator = this.#translator = provider.createStreamTranslator(ctx, writer);
    this.#decoder = createSseDecoder(
      (ev) => translator.push(ev),
      translator.pushJson?.bind(translator),
    );
    this.#capture = capture;
  }

  hold(chunk: Piece): boolean {
    this.#feed(chunk);
    return this.#writer.contentStarted || this.#writer.done;
  }

  holdEnded(): undefined {
    this.#endInput();
  }

  retryable(): UpstreamFailure | undefined {
    const writer = this.#writer;
    return writer.failure && !writer.contentStarted ? writer.failure : undefined;
  }

  start(ctrl: Ctrl): boolean {
    this.#emit(ctrl);
    return this.#writer.done;
  }

  relay(ctrl: Ctrl, chunk: Piece): number {
    this.#feed(chunk);
    const sent = this.#emit(ctrl) ? SENT : 0;
    return this.#writer.done ? sent | COMPLETE : sent;
  }

  end(ctrl: Ctrl): undefined {
    this.#endInput();
    this.#emit(ctrl);
  }

  errorFrame(failure: UpstreamFailure, type: ErrorType, message: string): string {
    this.#writer.error({ ...failure, type, message });
    return this.#writer.take();
  }

  record(rec: RequestRecord): void {
    const writer = this.#writer;
    rec.stopReason = writer.stopReason;
    rec.usage = writer.usage;
    // Cut before the upstream's count came (the client left, the upstream broke): what was sent
    // is still output the upstream charges for.
    if (writer.stopReason === null && writer.usage.output_tokens === 0 && writer.sentChars > 0) {
      rec.usage = { ...writer.usage, output_tokens: Math.ceil(writer.sentChars / 4) };
    }
  }

  failure(): UpstreamFailure | undefined {
    return this.#writer.failure;
  }

  #feed(chunk: Piece): void {
    this.#decoder.feed(chunk);
    const overlong = overlongLine(this.#decoder);
    if (overlong && !this.#writer.done) this.#writer.error(upstreamFault(overlong));
  }

  #endInput(): void {
    this.#decoder.flush();
    this.#translator.end();
  }

  /** Sends what the writer has; whether there was anything. */
  #emit(ctrl: Ctrl): boolean {
    const out = this.#writer.take();
    if (!out) return false;
    this.#capture?.add(out);
    ctrl.enqueue(encodeCarved(out));
    return true;
  }
}
