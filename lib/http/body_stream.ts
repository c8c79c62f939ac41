// An upstream answer's body as a stream, framed by its length, its chunks or the connection's end.
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

/** The body as a stream, framed by length, chunks or the end of the connection. */
export function bodyStream(
  r: ConnectionReader,
  head: Head,
  finished: () => void,
  failed: () => void,
  signal: AbortSignal | null | undefined,
): ReadableStream<Uint8Array> {
  let remaining = head.length;
  // Chunked: bytes left in the current chunk; -1 between chunks.
  let inChunk = -1;
  let ended = false;
  const end = (ctrl: ReadableStreamDefaultController<Uint8Array>) => {
    ended = true;
    finished();
    ctrl.close();
  };
  const need = async () => {
    if (!await r.fill()) throw new HttpError("connection closed mid-body");
  };

  async function pullChunked(ctrl: ReadableStreamDefaultController<Uint8Array>): Promise<boolean> {
    if (inChunk > 0) {
      if (r.buf.length === 0) await need();
      const piece = r.take(Math.min(inChunk, r.buf.length));
      inChunk -= piece.length;
      ctrl.enqueue(piece);
      return true;
    }
    if (inChunk === 0) {
      while (r.buf.length < 2) await need();
      if (r.buf[0] !== 13 || r.buf[1] !== 10) throw new HttpError("bad chunk ending");
      r.take(2);
      inChunk = -1;
    }
    let line: number;
    while ((line = r.lineEnd()) === -1) {
      if (r.buf.length > 4096) throw new HttpError("chunk size line too long");
      await need();
    }
    const size = chunkSize(r.take(line));
    r.take(2);
    if (size > 0) {
      inChunk = size;
      return false;
    }
    // The last chunk: trailers, if any, up to an empty line.
    while (true) {
      while ((line = r.lineEnd()) === -1) await need();
      const empty = line === 0;
      r.take(line + 2);
      if (empty) break;
    }
    end(ctrl);
    return true;
  }

  return new ReadableStream<Uint8Array>({
    start(ctrl) {
      if (remaining !== undefined && r.buf.length >= remaining) {
        // The whole (small) body came with the head: no more reads.
        if (remaining > 0) ctrl.enqueue(r.take(remaining));
        end(ctrl);
      }
    },
    async pull(ctrl) {
      if (ended) return;
      try {
        if (head.chunked) {
          while (!await pullChunked(ctrl));
          return;
        }
        if (remaining !== undefined) {
          if (r.buf.length === 0) await need();
          const piece = r.take(Math.min(remaining, r.buf.length));
          remaining -= piece.length;
          ctrl.enqueue(piece);
          if (remaining === 0) end(ctrl);
          return;
        }
        // Delimited by the end of the connection.
        if (r.buf.length === 0 && !await r.fill()) {
          head.keepAlive = false;
          end(ctrl);
          return;
        }
        ctrl.enqueue(r.take(r.buf.length));
      } catch (err) {
        ended = true;
        failed();
        ctrl.error(signal?.aborted ? abortError(signal) : err);
      }
    },
    cancel() {
      if (ended) return;
      ended = true;
      failed();
    },
  }, { highWaterMark: 0 });
}
