// One request written to a connection and its answer read back as a Response; the connection
// goes back to the pool once the answer has been read to its end, or is closed.
import { bodyStream } from "./body_stream.ts";
import { closeQuietly } from "./connect.ts";
import type { ConnectionPool } from "./connection_pool.ts";
import type { ConnectionReader } from "./connection_reader.ts";
import { decompress } from "./decompress.ts";
import { abortError, HttpError } from "./errors.ts";
import { type Head, parseHead } from "./response_head.ts";
import { exactUtf8 } from "../utf8_exact.ts";

/** About as large as fetch takes (a gateway's long cookie or trace header): more is no answer. */
const MAX_HEAD_BYTES = 400 * 1024;

/** Answers that came whole with their head, held as text. */
const wholeTexts = new WeakSet<Response>();

/** Whether this client answered with `res` whole, its body text (not read off the connection). */
export function answeredWholeText(res: Response): boolean {
  return wholeTexts.has(res);
}

/**
 * Answers every caller reads as text: a whole one is decoded here, from the connection's buffer,
 * and its Response holds the string. Bytes would be copied by Response and the copy read through
 * a stream (about 26 µs for 20 KB), and V8 frees buffers late where a string goes at once.
 */
const TEXTUAL = /^\s*(?:text\/|application\/(?:[\w.-]+\+)?json\b)/i;

/**
 * The answer's text, when its bytes are exactly that text's UTF-8: not with a byte order mark or
 * bytes that are no UTF-8, which reading the bytes passes on as they came.
 */
function exactText(bytes: Uint8Array, contentType: string | undefined): string | undefined {
  if (!TEXTUAL.test(contentType ?? "")) return undefined;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return undefined;
  return exactUtf8(bytes);
}

/**
 * A function of its own, so that no closure of exchange() holds the request: those live as long
 * as the answer is read, and a Claude Code request is hundreds of kilobytes.
 */
async function writeAll(conn: Deno.Conn, request: Uint8Array): Promise<void> {
  for (let at = 0; at < request.length;) at += await conn.write(request.subarray(at));
}

export async function exchange(
  pool: ConnectionPool,
  origin: string,
  r: ConnectionReader,
  request: Uint8Array,
  method: string,
  signal: AbortSignal | null | undefined,
): Promise<Response> {
  const conn = r.conn;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    closeQuietly(conn);
  };
  signal?.addEventListener("abort", close, { once: true });
  const done = () => signal?.removeEventListener("abort", close);
  // The answer is read while the request is still being written: an upstream may answer early
  // (413 to a large body) and close, and its answer is worth more than the broken pipe.
  let sent = false;
  let writeError: unknown;
  const writing = writeAll(conn, request).then(() => {
    sent = true;
  }, (err) => {
    writeError = err;
  });
  try {
    let head: Head;
    while (true) {
      let end: number;
      while ((end = r.headEnd()) === -1) {
        if (r.buf.length > MAX_HEAD_BYTES) throw new HttpError("answer head too large");
        let more: boolean;
        try {
          more = await r.fill();
        } catch (err) {
          await writing;
          if (writeError) throw writeError;
          // A TLS server that closed without close_notify (Node's, at its keep-alive timeout)
          // closed as any other: nothing answered on a reused connection is sent again.
          if (err instanceof Deno.errors.UnexpectedEof) {
            throw new HttpError(r.buf.length ? "connection closed mid-head" : "connection closed");
          }
          throw err;
        }
        if (!more) {
          await writing;
          if (writeError) throw writeError;
          throw new HttpError(r.buf.length ? "connection closed mid-head" : "connection closed");
        }
      }
      head = parseHead(r.take(end));
      r.take(r.headGap); // the blank line
      // Interim answers (100 Continue, 103 Early Hints) precede the real one.
      if (head.status >= 200) break;
    }
    const noBody = method === "HEAD" || head.status === 204 || head.status === 205 ||
      head.status === 304;
    // A short answer that came whole with its head (most JSON answers) needs no stream.
    const whole = !noBody && !head.chunked && !head.encoding && head.length !== undefined &&
      r.buf.length >= head.length;
    const finished = () => {
      done();
      // Bytes past the answer mean the framing went wrong: that connection is not reused, nor
      // one answered before its request was written whole (an upstream that never reads the
      // rest would hold the write, and the connection, forever).
      if (head.keepAlive && !closed && sent && r.buf.length === 0) pool.release(origin, conn);
      else close();
    };
    let body: ReadableStream<Uint8Array> | Uint8Array | string | null = null;
    if (whole) {
      // A view of the connection's buffer: Response keeps a copy of it (as fetch's spec has).
      const bytes = r.take(head.length!);
      body = exactText(bytes, head.contentType) ?? bytes;
    } else if (!noBody) {
      body = bodyStream(r, head, finished, () => {
        done();
        close();
      }, signal);
    }
    const decoded = body instanceof ReadableStream && head.encoding
      ? decompress(body, head.encoding)
      : body;
    const res = new Response(decoded as BodyInit | null, {
      status: head.status,
      statusText: head.statusText,
      headers: head.headers,
    });
    if (typeof body === "string") wholeTexts.add(res);
    // Only now: the connection's next read lands where a whole answer's bytes were.
    if (whole || noBody) finished();
    return res;
  } catch (err) {
    done();
    close();
    if (signal?.aborted) throw abortError(signal);
    throw err;
  }
}
