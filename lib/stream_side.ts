// What the stream relay asks of the side that turns upstream bytes into the client's events: the
// translating side (lib/translated_side.ts) or the passthrough (lib/passthrough_side.ts).
import type { ErrorType } from "./anthropic.ts";
import type { Piece } from "./body_read.ts";
import type { UpstreamFailure } from "./providers/types.ts";
import type { RequestRecord } from "./request_record.ts";

/** Where a side sends the client's bytes: the answer stream's controller, or the parts of an
 * answer that goes whole. */
export interface Ctrl {
  enqueue(chunk: Uint8Array): void;
}

/** `relay`'s answer, as bits: a number, so the hot path allocates nothing for it. */
export const SENT = 1;
export const COMPLETE = 2;

/** The text of an answer kept for the request log, up to its limit. */
export class ResponseCapture {
  text = "";
  constructor(private readonly limit: number) {}

  add(text: string): void {
    if (!this.full) this.text += text;
  }

  get full(): boolean {
    return this.text.length >= this.limit;
  }
}

/** A side is handed the reader's pieces, good only until its next read: it keeps none of them. */
export interface StreamSide {
  /** Takes a chunk read while the response is held; whether the answer has begun. */
  hold(chunk: Piece): boolean;
  /** The upstream ended while the response was held: the failure, if what came is no answer. */
  holdEnded(): UpstreamFailure | undefined;
  /** A failure in what was held that another key may still answer. */
  retryable(): UpstreamFailure | undefined;
  /** Sends what was held; whether that is the whole answer. */
  start(ctrl: Ctrl): boolean;
  /** Takes a chunk read after the start: SENT and/or COMPLETE. */
  relay(ctrl: Ctrl, chunk: Piece): number;
  /** The upstream ended: sends the rest, or gives the failure the answer was cut short by. */
  end(ctrl: Ctrl): UpstreamFailure | undefined;
  /** Whether a ping may go out now (only between whole events). */
  readonly pingable: boolean;
  /** The frame that ends the answer the client already has with this error. */
  errorFrame(failure: UpstreamFailure, type: ErrorType, message: string): string;
  /** Puts the answer's stop reason and usage on the record, where the side keeps them. */
  record(rec: RequestRecord): void;
  /** The failure the upstream's own answer ended with, if any. */
  failure(): UpstreamFailure | undefined;
}
