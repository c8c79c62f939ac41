// A body read a piece at a time into a buffer of its own, or to a limit: the client's request
// (past it, 413) and an upstream's answer or error (past it, a fault, or the start is enough).
import { connectionPieces } from "./http/body_stream.ts";
import { answeredWholeText } from "./http/exchange.ts";

/** A body's reader whose pieces are good only until its next read. */
export interface PieceReader<T = Uint8Array> {
  read(): Promise<ReadableStreamReadResult<T>>;
  cancel(reason?: unknown): Promise<void>;
}

/** A piece of an answer: bytes, or text where the upstream client decoded a whole answer. */
export type Piece = Uint8Array | string;

/** The size of the buffer a streamed answer is read into; a longer piece takes more reads. */
const PIECE_BYTES = 16 * 1024;

/**
 * Reads `body` into one buffer, reused from read to read, so a piece is good only until the next
 * one. V8 frees a buffer long after it is dropped, and it let tens of MB of them pile up under
 * load: the proxy's upstream client read each piece into new memory, and Deno's fetch gives each
 * one a fresh 64 KB buffer however few bytes it holds. A body made in JS is read as it is.
 */
export function pieceReader(body: ReadableStream<Uint8Array>): PieceReader {
  const direct = connectionPieces(body);
  if (direct) return direct;
  return byobPieces(body) ?? body.getReader();
}

/** A streamed answer's pieces, as pieceReader() reads them, or the whole answer's text. */
export function answerPieces(res: Response): PieceReader<Piece> {
  return answeredWholeText(res) ? wholeText(res) : pieceReader(res.body!);
}

/** A reader that gives `first`, read already (to look at an answer's start), before the rest. */
export function withFirst<T>(
  first: ReadableStreamReadResult<T>,
  rest: PieceReader<T>,
): PieceReader<T> {
  let given = false;
  return {
    read: () => given ? rest.read() : (given = true, Promise.resolve(first)),
    cancel: (reason) => rest.cancel(reason),
  };
}

/** A whole answer as one piece: no stream to read it through, no bytes copied. */
function wholeText(res: Response): PieceReader<string> {
  let given = false;
  return {
    async read() {
      if (given) return { done: true, value: undefined };
      given = true;
      return { done: false, value: await res.text() };
    },
    cancel: () => Promise.resolve(),
  };
}

function byobPieces(body: ReadableStream<Uint8Array>): PieceReader | undefined {
  let byob: ReadableStreamBYOBReader;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    return undefined;
  }
  let buffer = new ArrayBuffer(PIECE_BYTES);
  return {
    async read() {
      // A read that failed kept the buffer it was given (transferred, so empty now).
      if (buffer.byteLength === 0) buffer = new ArrayBuffer(PIECE_BYTES);
      const result = await byob.read(new Uint8Array(buffer));
      if (result.value) buffer = result.value.buffer as ArrayBuffer;
      return result as ReadableStreamReadResult<Uint8Array>;
    },
    cancel: (reason) => byob.cancel(reason),
  };
}

/** Bytes a body has sent before its declared length is believed. */
const SHOWN_COMING = 1 << 20;

/**
 * A body's bytes up to `max`, and whether that was all of it; past `max` the read is stopped. A
 * body that breaks throws, or with `keepBroken` gives what came before. `expected`, its declared
 * length, sizes the buffer once a first megabyte came (not before: a client that only declares a
 * length would have it held for nothing): doubling from 64 KB copied a 31 MB body nine times.
 */
export async function readUpTo(
  body: ReadableStream<Uint8Array> | null,
  max: number,
  keepBroken = false,
  expected = 0,
): Promise<{ bytes: Uint8Array; complete: boolean }> {
  if (!body) return { bytes: new Uint8Array(0), complete: true };
  const reader = pieceReader(body);
  let buf = new Uint8Array(Math.min(max, 64 * 1024, expected || 64 * 1024));
  let size = 0;
  let complete = false;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) {
        complete = true;
        break;
      }
      if (size + value.byteLength > max) {
        // What fits is kept: an error answer's start says what it has to.
        buf = grow(buf, size, max);
        buf.set(value.subarray(0, max - size), size);
        size = max;
        break;
      }
      if (size + value.byteLength > buf.length) {
        const need = size + value.byteLength;
        const declared = need > SHOWN_COMING ? expected : 0;
        buf = grow(buf, size, Math.min(max, Math.max(buf.length * 2, need, declared)));
      }
      buf.set(value, size);
      size += value.byteLength;
    }
  } catch (err) {
    if (!keepBroken) throw err;
  }
  if (!complete) reader.cancel().catch(() => {});
  return { bytes: buf.subarray(0, size), complete };
}

function grow(
  buf: Uint8Array<ArrayBuffer>,
  used: number,
  length: number,
): Uint8Array<ArrayBuffer> {
  if (length <= buf.length) return buf;
  const grown = new Uint8Array(length);
  grown.set(buf.subarray(0, used));
  return grown;
}
