// The passthrough side of a stream: an Anthropic upstream's bytes go out as they came, whole
// frames at a time, while a side reader picks usage, the stop reason, the end and an error out.
import type { ErrorType } from "./anthropic.ts";
import { noteAnthropicEvent } from "./anthropic_answer.ts";
import { statusForErrorType, streamErrorJson } from "./errors.ts";
import type { Provider, UpstreamFailure } from "./providers/types.ts";
import type { RequestRecord } from "./request_record.ts";
import { createSseDecoder, type SseDecoder, type SseMessage } from "./sse.ts";
import { COMPLETE, type Ctrl, type ResponseCapture, SENT, type StreamSide } from "./stream_side.ts";

const encoder = new TextEncoder();
const utf8 = new TextDecoder();

export class PassthroughSide implements StreamSide {
  /** A ping goes out only between whole frames, and never before message_start. */
  pingable = false;
  #events = 0;
  #openingError: string | undefined;
  /** An error event the upstream ended its answer with, after other events. */
  #closingError: string | undefined;
  #stopped = false;
  #watch: SseDecoder;
  #frames = new WholeFrames();
  #first: Uint8Array[] = [];

  constructor(
    private readonly provider: Provider,
    private readonly headers: Headers,
    private readonly rec: RequestRecord,
    private readonly redact: (text: string) => string,
    private readonly requestId: string,
    private readonly capture: ResponseCapture | undefined,
  ) {
    this.#watch = createSseDecoder((ev) => this.#note(ev));
  }

  hold(chunk: Uint8Array): boolean {
    this.#watch.feed(chunk);
    this.#first.push(chunk);
    return this.#events > 0;
  }

  holdEnded(): UpstreamFailure | undefined {
    if (this.#events > 0) return undefined;
    return {
      status: 502,
      type: "api_error",
      message: this.#first.length
        ? "Upstream closed the stream before its first whole event"
        : "Upstream closed the stream without sending anything",
      keyFault: "transient",
    };
  }

  retryable(): UpstreamFailure | undefined {
    // An overload or rate limit said as the stream's first event: another key may answer.
    return this.#openingError === undefined ? undefined : this.#eventFailure(this.#openingError);
  }

  start(ctrl: Ctrl): boolean {
    for (const chunk of this.#first) this.#send(ctrl, chunk);
    this.#first = [];
    return this.#relayedAll();
  }

  relay(ctrl: Ctrl, chunk: Uint8Array): number {
    this.#watch.feed(chunk);
    const sent = this.#send(ctrl, chunk) ? SENT : 0;
    return this.#relayedAll() ? sent | COMPLETE : sent;
  }

  end(): UpstreamFailure | undefined {
    if (this.#stopped || this.#closingError !== undefined) return undefined;
    // An Anthropic stream ends with message_stop; without it the answer is cut short.
    return {
      status: 502,
      type: "api_error",
      message: "Upstream stream ended before message_stop",
      keyFault: "transient",
    };
  }

  errorFrame(_failure: UpstreamFailure, type: ErrorType, message: string): string {
    // Only whole frames were sent, so the error is a frame of its own.
    return `event: error\ndata: ${streamErrorJson(type, message, this.requestId)}\n\n`;
  }

  record(): void {
    // noteAnthropicEvent put them on the record as the events went by.
  }

  failure(): UpstreamFailure | undefined {
    return this.#closingError === undefined ? undefined : this.#eventFailure(this.#closingError);
  }

  #note(ev: SseMessage): void {
    if (ev.event === "error") {
      if (this.#events === 0) this.#openingError = ev.data;
      else this.#closingError = ev.data;
    }
    this.#events++;
    if (ev.event === "message_start" || ev.event === "message_delta") {
      noteAnthropicEvent(this.rec, ev.data);
    } else if (ev.event === "message_stop") this.#stopped = true;
  }

  /** Sends the whole frames of a chunk; whether any were sent. */
  #send(ctrl: Ctrl, chunk: Uint8Array): boolean {
    let whole = this.#frames.take(chunk);
    if (!whole) return false;
    let text: string | undefined;
    // The upstream's own error event is forwarded too: never with a key it quoted.
    if (this.#closingError !== undefined) {
      text = this.redact(utf8.decode(whole));
      whole = encoder.encode(text);
    }
    ctrl.enqueue(whole);
    // Decoded only for ENABLE_RESPONSE_LOGS, and only up to its limit.
    if (this.capture && !this.capture.full) this.capture.add(text ?? utf8.decode(whole));
    this.pingable = true;
    return true;
  }

  /** The message_stop (or the closing error) went out: nothing after it is the client's. */
  #relayedAll(): boolean {
    return (this.#stopped || this.#closingError !== undefined) && !this.#frames.pending;
  }

  /** An Anthropic `event: error` as the failure it stands for. */
  #eventFailure(data: string): UpstreamFailure {
    let type: unknown;
    try {
      type = JSON.parse(data)?.error?.type;
    } catch { /* the parse below keeps the text */ }
    return this.provider.parseError(statusForErrorType(type), data, this.headers);
  }
}

/** Past this, bytes without a frame end are passed on as they are rather than held. */
const MAX_HELD_FRAME = 1 << 20;

/**
 * Cuts passthrough bytes at event boundaries, so the client only ever gets whole frames: a ping
 * or an error frame after a cut never lands inside half an event.
 */
class WholeFrames {
  #carry?: Uint8Array;

  /** The whole frames so far, with what was held before them; undefined when none is whole. */
  take(chunk: Uint8Array): Uint8Array | undefined {
    let bytes = chunk;
    if (this.#carry) {
      bytes = new Uint8Array(this.#carry.length + chunk.length);
      bytes.set(this.#carry);
      bytes.set(chunk, this.#carry.length);
      this.#carry = undefined;
    }
    const end = bytes.length > MAX_HELD_FRAME ? bytes.length : frameEnd(bytes);
    if (end === bytes.length) return bytes;
    this.#carry = bytes.slice(end);
    return end > 0 ? bytes.subarray(0, end) : undefined;
  }

  get pending(): boolean {
    return this.#carry !== undefined;
  }
}

/** Where the last blank line ends (`\n\n` or `\n\r\n`), or 0 without one. */
function frameEnd(b: Uint8Array): number {
  for (let i = b.length - 1; i > 0; i--) {
    if (b[i] !== 10) continue;
    if (b[i - 1] === 10 || (b[i - 1] === 13 && i > 1 && b[i - 2] === 10)) return i + 1;
  }
  return 0;
}
