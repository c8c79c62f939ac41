// An upstream answer's body as a stream, framed by its length, its chunks or the connection's end.
import type { PieceReader } from "../body_read.ts";
import { copyCarved } from "../byte_slab.ts";
import type { ConnectionReader } from "./connection_reader.ts";
import { abortError, HttpError } from "./errors.ts";
import type { Head } from "./response_head.ts";

const decoder = new TextDecoder();
/** Up to this many hex digits a size is exact in a double, so read as parseInt reads it. */
const MAX_PLAIN_HEX = 12;

/**
 * A chunk's size from its size line. The line servers write, hex digits alone, is read off its
 * bytes: decoding, splitting and matching it cost more than a stream's event did.
 */
function chunkSize(line: Uint8Array): number {
  let size = 0;
  if (line.length > 0 && line.length <= MAX_PLAIN_HEX) {
    for (let i = 0; i < line.length; i++) {
      const b = line[i];
      const digit = b >= 48 && b <= 57
        ? b - 48
        : b >= 97 && b <= 102
        ? b - 87
        : b >= 65 && b <= 70
        ? b - 55
        : -1;
      // Anything else (an extension, spaces) takes the general reading below.
      if (digit === -1) {
        size = -1;
        break;
      }
      size = size * 16 + digit;
    }
    if (size !== -1) return size;
  }
  const sizeText = decoder.decode(line).split(";")[0].trim();
  if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new HttpError("bad chunk size");
  return parseInt(sizeText, 16);
}

/** One read of a body: a piece of it (`last` when no more follows), or null at its end. */
type Step = { piece: Uint8Array; last: boolean } | null;

const DONE: ReadableStreamReadDoneResult<Uint8Array> = { done: true, value: undefined };

/**
 * The answer's body, framed by length, chunks or the end of the connection, in pieces of the
 * connection's buffer: each is good until the next step.
 */
class Body {
  #remaining: number | undefined;
  /** Chunked: bytes left in the current chunk; -1 between chunks. */
  #inChunk = -1;
  ended = false;
  /** Someone began to read the body (as a stream or by pieces). */
  taken = false;

  constructor(
    private readonly r: ConnectionReader,
    private readonly head: Head,
    private readonly finished: () => void,
    private readonly failed: () => void,
    private readonly signal: AbortSignal | null | undefined,
  ) {
    this.#remaining = head.length;
  }

  /** The next step; the body is over (and its connection let go) when it is null or last. */
  async step(): Promise<Step> {
    try {
      if (this.head.chunked) {
        let step: Step | undefined;
        while ((step = await this.#chunked()) === undefined);
        return step;
      }
      return await this.#plain();
    } catch (err) {
      this.ended = true;
      this.failed();
      throw this.signal?.aborted ? abortError(this.signal) : err;
    }
  }

  /** The body was read to its end. */
  end(): void {
    this.ended = true;
    this.finished();
  }

  cancel(): void {
    if (this.ended) return;
    this.ended = true;
    this.failed();
  }

  async #plain(): Promise<Step> {
    const r = this.r;
    const remaining = this.#remaining;
    if (remaining !== undefined) {
      if (remaining === 0) return null;
      if (r.buf.length === 0) await need(r);
      const piece = r.take(Math.min(remaining, r.buf.length));
      this.#remaining = remaining - piece.length;
      return { piece, last: this.#remaining === 0 };
    }
    // Delimited by the end of the connection.
    if (r.buf.length === 0 && !await r.fill()) {
      this.head.keepAlive = false;
      return null;
    }
    return { piece: r.take(r.buf.length), last: false };
  }

  /** A step, or undefined after a chunk's size line (the caller goes on). */
  async #chunked(): Promise<Step | undefined> {
    const r = this.r;
    if (this.#inChunk > 0) {
      if (r.buf.length === 0) await need(r);
      const piece = r.take(Math.min(this.#inChunk, r.buf.length));
      this.#inChunk -= piece.length;
      return { piece, last: false };
    }
    if (this.#inChunk === 0) {
      while (r.buf.length < 1 || (r.buf[0] === 13 && r.buf.length < 2)) await need(r);
      const gap = r.buf[0] === 10 ? 1 : r.buf[0] === 13 && r.buf[1] === 10 ? 2 : 0;
      if (!gap) throw new HttpError("bad chunk ending");
      r.take(gap);
      this.#inChunk = -1;
    }
    let line: number;
    while ((line = r.lineEnd()) === -1) {
      if (r.buf.length > 4096) throw new HttpError("chunk size line too long");
      await need(r);
    }
    const size = chunkSize(r.take(line));
    r.take(r.lineGap);
    if (size > 0) {
      this.#inChunk = size;
      return undefined;
    }
    // The last chunk: trailers, if any, up to an empty line.
    while (true) {
      while ((line = r.lineEnd()) === -1) {
        if (r.buf.length > 4096) throw new HttpError("trailer line too long");
        await need(r);
      }
      const empty = line === 0;
      r.take(line + r.lineGap);
      if (empty) return null;
    }
  }
}

async function need(r: ConnectionReader): Promise<void> {
  if (!await r.fill()) throw new HttpError("connection closed mid-body");
}

const bodies = new WeakMap<ReadableStream<Uint8Array>, Body>();

/** The body as a stream, framed by length, chunks or the end of the connection. */
export function bodyStream(
  r: ConnectionReader,
  head: Head,
  finished: () => void,
  failed: () => void,
  signal: AbortSignal | null | undefined,
): ReadableStream<Uint8Array> {
  const body = new Body(r, head, finished, failed, signal);
  const stream = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      body.taken = true;
      if (body.ended) return;
      let step: Step;
      try {
        step = await body.step();
      } catch (err) {
        ctrl.error(err);
        return;
      }
      // A stream's reader may hold a piece past the next read: it gets a copy.
      if (step) ctrl.enqueue(copyCarved(step.piece));
      if (!step || step.last) {
        body.end();
        ctrl.close();
      }
    },
    cancel() {
      body.cancel();
    },
  }, { highWaterMark: 0 });
  bodies.set(stream, body);
  return stream;
}

/**
 * A reader of a body this client is answering with, handing on the connection's buffer as it is:
 * no copy of what came, and no stream machinery per read. Undefined for any other body, or one
 * already being read.
 */
export function connectionPieces(stream: ReadableStream<Uint8Array>): PieceReader | undefined {
  const body = bodies.get(stream);
  if (!body || body.taken || stream.locked) return undefined;
  body.taken = true;
  // Locked, so no one reads it as a stream too; cancelling through it cancels the body.
  const lock = stream.getReader();
  /** The last piece went out: the body ends when its reader asks for more, done with it. */
  let lastGiven = false;
  return {
    async read() {
      if (body.ended) return DONE;
      if (lastGiven) {
        body.end();
        return DONE;
      }
      const step = await body.step();
      if (!step) {
        body.end();
        return DONE;
      }
      lastGiven = step.last;
      return { done: false, value: step.piece };
    },
    cancel: (reason) => lock.cancel(reason),
  };
}
