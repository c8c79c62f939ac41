// The passthrough side of a stream: an Anthropic upstream's bytes go out as they came, whole
// frames at a time, while a side reader checks each event clients read and picks usage, the stop
// reason, the end and an error out.
import type { ErrorType } from "./anthropic.ts";
import {
  anthropicErrorFailure,
  anthropicStreamError,
  holdsMessageStart,
  noteAnthropicEvent,
  withClientModel,
} from "./anthropic_answer.ts";
import { AnthropicStreamCheck, eventName } from "./anthropic_stream_check.ts";
import type { Piece } from "./body_read.ts";
import { copyCarved, encodeCarved, joinBytes } from "./byte_slab.ts";
import { streamErrorJson } from "./errors.ts";
import { upstreamFault } from "./providers/failure.ts";
import type { Provider, UpstreamFailure } from "./providers/types.ts";
import type { RequestRecord } from "./request_record.ts";
import {
  createSseDecoder,
  overlongLine,
  type SseDecoder,
  sseFrame,
  type SseMessage,
} from "./sse.ts";
import { COMPLETE, type Ctrl, type ResponseCapture, SENT, type StreamSide } from "./stream_side.ts";

const encoder = new TextEncoder();
const utf8 = new TextDecoder();

export class PassthroughSide implements StreamSide {
  /** A ping goes out only between whole frames, and never before message_start. */
  pingable = false;
  #check = new AnthropicStreamCheck();
  /** An event no client could read: nothing from it on goes out. */
  #garbled: UpstreamFailure | undefined;
  #openingError: string | undefined;
  /** An error event the upstream ended its answer with, after other events. */
  #closingError: string | undefined;
  #stopped = false;
  /** The frame holding message_stop went out: whatever the upstream sends after it is dropped. */
  #finished = false;
  #watch: SseDecoder;
  #frames = new WholeFrames();
  #first: Uint8Array[] = [];
  /**
   * An event had to be mended (usage an SDK needs was missing) or named (a relay that writes no
   * `event:` lines): from then on the events go out written anew, not as the bytes came.
   */
  #rewriting = false;
  /** Rewriting began while an event's start had gone out as it came (see WholeFrames). */
  #spillLeft = false;
  /** Name and data of each event noted since the last send, in pairs. */
  #noted: string[] = [];

  constructor(
    private readonly provider: Provider,
    private readonly headers: Headers,
    private readonly rec: RequestRecord,
    private readonly redact: (text: string) => string,
    private readonly requestId: string,
    private readonly capture: ResponseCapture | undefined,
    /** The model the client asked for, when a model map sent another name upstream. */
    private clientModel?: string,
  ) {
    this.#watch = createSseDecoder((ev) => this.#note(ev));
  }

  hold(piece: Piece): boolean {
    const chunk = bytesOf(piece);
    this.#feed(chunk);
    this.#first.push(chunk);
    return this.#check.started || this.#openingError !== undefined || this.#garbled !== undefined;
  }

  holdEnded(): UpstreamFailure | undefined {
    if (this.#garbled) return this.#garbled;
    if (this.#check.started) return undefined;
    return upstreamFault(
      this.#first.length
        ? "Upstream closed the stream before its first whole event"
        : "Upstream closed the stream without sending anything",
    );
  }

  retryable(): UpstreamFailure | undefined {
    // Garbled, or an overload or rate limit said as the stream's first event: nothing went out
    // yet, so another key may answer.
    if (this.#garbled) return this.#garbled;
    return this.#openingError === undefined
      ? undefined
      : anthropicErrorFailure(this.provider, this.#openingError, this.headers);
  }

  start(ctrl: Ctrl): boolean {
    for (const chunk of this.#first) this.#send(ctrl, chunk);
    this.#first = [];
    return this.#relayedAll();
  }

  relay(ctrl: Ctrl, piece: Piece): number {
    const chunk = bytesOf(piece);
    this.#feed(chunk);
    if (this.#garbled) {
      // The chunk's whole events go with the garbled one: the answer ends here, said so.
      const failure = this.#garbled;
      const frame = this.errorFrame(failure, failure.type, failure.message);
      this.capture?.add(frame);
      ctrl.enqueue(encoder.encode(frame));
      this.#finished = true;
      return SENT | COMPLETE;
    }
    const sent = this.#send(ctrl, chunk) ? SENT : 0;
    return this.#relayedAll() ? sent | COMPLETE : sent;
  }

  end(ctrl: Ctrl): UpstreamFailure | undefined {
    // A last event without its blank line still counts, as it does for the translators; one cut
    // short in its data is garbled.
    this.#watch.flush();
    if (this.#garbled) return this.#garbled;
    const rest = this.#frames.rest();
    if ((this.#stopped || this.#closingError !== undefined) && !this.#finished) {
      // What is held back holds no blank line (frames end at the last one): it is added.
      if (this.#rewriting) this.#send(ctrl, BLANK_LINE, true);
      else if (rest) {
        this.#send(ctrl, endsWithFrame(rest) ? rest : joinBytes([rest, BLANK_LINE]), true);
      }
    }
    if (this.#stopped || this.#closingError !== undefined) return undefined;
    // An Anthropic stream ends with message_stop; without it the answer is cut short.
    return upstreamFault("Upstream stream ended before message_stop");
  }

  errorFrame(_failure: UpstreamFailure, type: ErrorType, message: string): string {
    // Only whole frames were sent, so the error is a frame of its own; after half of an event
    // too long to hold, that half is ended first.
    const frame = sseFrame("error", streamErrorJson(type, message, this.requestId));
    return this.#frames.spilled ? `\n\n${frame}` : frame;
  }

  record(rec: RequestRecord): void {
    // noteAnthropicEvent put them on the record as the events went by. Cut before message_delta
    // (the client left, the upstream broke), the output is what was sent, as the translators
    // count it, not message_start's stand-in (1).
    if (!this.#check.started || this.#check.counted || !rec.usage) return;
    const estimate = this.#check.outputEstimate;
    if (estimate > (rec.usage.output_tokens ?? 0)) {
      rec.usage = { ...rec.usage, output_tokens: estimate };
    }
  }

  failure(): UpstreamFailure | undefined {
    if (this.#garbled) return this.#garbled;
    return this.#closingError === undefined
      ? undefined
      : anthropicErrorFailure(this.provider, this.#closingError, this.headers);
  }

  #feed(chunk: Uint8Array): void {
    this.#watch.feed(chunk);
    const overlong = overlongLine(this.#watch);
    if (overlong) this.#garbled ??= upstreamFault(overlong);
  }

  #note(ev: SseMessage): void {
    // What follows message_stop, an error or a garbled event never reaches the client.
    if (this.#stopped || this.#garbled || this.#closingError !== undefined) return;
    const event = eventName(ev.event, ev.data) ?? "message";
    const checked = this.#check.check(event, ev.data);
    if (typeof checked === "string") {
      this.#garbled = upstreamFault(
        `Upstream sent an event stream clients cannot read: ${checked}`,
      );
      return;
    }
    let data = this.#check.mended ? JSON.stringify(checked) : ev.data;
    // An error before the answer starts is read as the upstream's (anthropicErrorFailure); one
    // after it goes to the client, in the shape its SDK reads.
    const foreign = event === "error" && this.#check.started && checked
      ? anthropicStreamError(checked, ev.data, this.requestId)
      : undefined;
    if (foreign !== undefined) data = foreign;
    if (
      (data !== ev.data || event !== (ev.event ?? "message")) && !this.#rewriting
    ) {
      this.#rewriting = true;
      // The start of an event too long to hold already went out as it came: the rest of it
      // follows as it came, and the events after it are written anew.
      this.#spillLeft = this.#frames.spilled;
    }
    this.#noted.push(event, data);
    if (event === "error") {
      if (this.#check.started) this.#closingError = ev.data;
      else this.#openingError ??= ev.data;
      return;
    }
    if (checked) noteAnthropicEvent(this.rec, checked);
    if (event === "message_stop") this.#stopped = true;
  }

  /** Sends the whole frames of a chunk (all of it when `framed`); whether any were sent. */
  #send(ctrl: Ctrl, chunk: Uint8Array, framed = false): boolean {
    if (this.#finished) return false;
    if (this.#rewriting) return this.#sendRewritten(ctrl, chunk);
    this.#noted.length = 0;
    let whole = framed ? chunk : this.#frames.take(chunk);
    if (!whole) return false;
    if (this.#stopped || this.#closingError !== undefined) {
      // Looked for once, in the read that held it: a client that sees more after message_stop
      // or an error (a second message_start, a line that is no JSON) fails the answer it has, or
      // takes an error for one it may go on with.
      const end = closingFrameEnd(whole);
      if (end !== -1) {
        whole = whole.subarray(0, end);
        this.#finished = true;
        this.#frames.rest();
      }
    }
    return this.#enqueue(ctrl, whole);
  }

  /** The events noted since the last send, written anew; nothing after the closing one. */
  #sendRewritten(ctrl: Ctrl, chunk: Uint8Array): boolean {
    const held = this.#frames.rest();
    let first = 0;
    if (this.#spillLeft) {
      // The first event noted is the one spilled: its rest (held, then this read's start, up to
      // its end) goes as it came.
      this.#spillLeft = false;
      const rest = held ? joinBytes([held, chunk]) : chunk;
      this.#enqueue(ctrl, rest.subarray(0, nextFrameEnd(rest, 0)));
      first = 2;
    }
    if (this.#noted.length <= first) {
      this.#noted.length = 0;
      return first > 0;
    }
    let text = "";
    for (let i = first; i < this.#noted.length; i += 2) {
      text += `event: ${this.#noted[i]}\ndata: ${
        this.#noted[i + 1].replaceAll("\n", "\ndata: ")
      }\n\n`;
    }
    this.#noted.length = 0;
    if (this.#stopped || this.#closingError !== undefined) this.#finished = true;
    return this.#enqueue(ctrl, encoder.encode(text));
  }

  #enqueue(ctrl: Ctrl, whole: Uint8Array): boolean {
    let text: string | undefined;
    if (this.clientModel !== undefined) {
      // Looked for until the write holding message_start (a relay's pings or comments may go
      // first, each in a write of its own), and no further.
      const renamed = withClientModel(whole, this.clientModel);
      if (renamed) whole = renamed;
      if (renamed || holdsMessageStart(whole)) this.clientModel = undefined;
    }
    // The upstream's own error event is forwarded too: never with a key it quoted.
    if (this.#closingError !== undefined) {
      text = this.redact(utf8.decode(whole));
      whole = encoder.encode(text);
    }
    ctrl.enqueue(whole);
    // Decoded only for ENABLE_RESPONSE_LOGS, and only up to its limit.
    if (this.capture && !this.capture.full) this.capture.add(text ?? utf8.decode(whole));
    // Never inside an event that spilled: a ping there would land in its data.
    this.pingable = !this.#frames.spilled;
    return true;
  }

  /** The message_stop (or the closing error) went out: nothing after it is the client's. */
  #relayedAll(): boolean {
    return this.#finished ||
      (this.#stopped || this.#closingError !== undefined) && !this.#frames.pending;
  }
}

/** The reader's piece is good until its next read: what is held or sent is a copy. */
function bytesOf(piece: Piece): Uint8Array {
  return typeof piece === "string" ? encodeCarved(piece) : copyCarved(piece);
}

/**
 * Past this, bytes without a frame end are passed on as they are rather than held: far past any
 * event an API sends (a delta of 128k tokens is half a MB), while the event parser beside holds
 * an event's data whole anyway.
 */
const MAX_HELD_FRAME = 16 << 20;

/**
 * Cuts passthrough bytes at event boundaries, so the client only ever gets whole frames: a ping
 * or an error frame after a cut never lands inside half an event.
 */
class WholeFrames {
  /** What is held back: the start of a frame, in a buffer that grows by doubling. */
  #buf?: Uint8Array;
  #len = 0;
  /** Part of a frame too long to hold went out: the bytes sent do not end with a frame. */
  spilled = false;

  /** The whole frames so far, with what was held before them; undefined when none is whole. */
  take(chunk: Uint8Array): Uint8Array | undefined {
    let bytes = chunk;
    // What was held has no frame end: only what the chunk adds is searched. Joined afresh and
    // searched whole for every read, an event of a MB in 64-byte reads took a minute.
    let from = 2;
    let buf = this.#buf;
    if (buf && this.#len) {
      // From the held bytes' last one on: a CR there may have waited for the byte after it.
      from = this.#len;
      const size = this.#len + chunk.length;
      if (size > buf.length) {
        const grown = new Uint8Array(Math.max(size, buf.length * 2));
        grown.set(buf.subarray(0, this.#len));
        buf = grown;
      }
      buf.set(chunk, this.#len);
      bytes = buf.subarray(0, size);
    }
    // The bytes now go out or are held again below: the buffer is not reused meanwhile.
    this.#buf = undefined;
    this.#len = 0;
    const end = frameEnd(bytes, from);
    if (end === bytes.length || bytes.length > MAX_HELD_FRAME) {
      this.spilled = end !== bytes.length;
      return bytes;
    }
    // A frame ended here: any that spilled before is whole now.
    if (end > 0) this.spilled = false;
    if (end === 0) {
      // Nothing whole yet: held, in a buffer of its own with room to grow (a chunk may be a
      // piece of a larger block others use).
      if (bytes === chunk) {
        buf = new Uint8Array(Math.max(4096, chunk.length * 2));
        buf.set(chunk);
      }
      this.#buf = buf;
      this.#len = bytes.length;
      return undefined;
    }
    const rest = bytes.slice(end);
    this.#buf = rest;
    this.#len = rest.length;
    return bytes.subarray(0, end);
  }

  get pending(): boolean {
    return this.#len > 0;
  }

  /** What is held back, now let go of. */
  rest(): Uint8Array | undefined {
    const carry = this.#len ? this.#buf!.subarray(0, this.#len) : undefined;
    this.#buf = undefined;
    this.#len = 0;
    return carry;
  }
}

/**
 * Whether a frame ends just before `e`: an empty line there, by SSE's line rules (LF, CR or CRLF
 * end a line). A CR after a LF that is the last byte so far may be half of a CRLF ending a CRLF
 * stream's empty line: no end until the next byte says (a CR-only stream's CR CR ends at once).
 */
function endsFrameAt(b: Uint8Array, e: number): boolean {
  const c = b[e - 1];
  const p = b[e - 2];
  if (c === 10) return p === 10 || (p === 13 && e > 2 && (b[e - 3] === 10 || b[e - 3] === 13));
  if (c !== 13 || b[e] === 10) return false;
  return p === 13 || (p === 10 && e < b.length);
}

/** Whether bytes that are all there will ever be end with an empty line (a last CR counts). */
function endsWithFrame(b: Uint8Array): boolean {
  const n = b.length;
  return endsFrameAt(b, n) || (b[n - 1] === 13 && (b[n - 2] === 13 || b[n - 2] === 10));
}

/** Where the last frame in `b` ends, looking no further back than `from`; 0 without one. */
function frameEnd(b: Uint8Array, from = 2): number {
  for (let e = b.length; e >= Math.max(2, from); e--) if (endsFrameAt(b, e)) return e;
  return 0;
}

/** Where the first frame naming message_stop or error ends in whole frames, or -1 if none does. */
function closingFrameEnd(b: Uint8Array): number {
  let start = 0;
  while (start < b.length) {
    const end = nextFrameEnd(b, start);
    const frame = utf8.decode(b.subarray(start, end));
    if (/^event: ?(?:message_stop|error)\s*$/m.test(frame)) return end;
    start = end;
  }
  return -1;
}

/** The end of the frame starting at `start`: after its empty line, or the end of `b`. */
function nextFrameEnd(b: Uint8Array, start: number): number {
  for (let e = start + 2; e <= b.length; e++) if (endsFrameAt(b, e)) return e;
  return b.length;
}

const BLANK_LINE = new Uint8Array([10, 10]);
