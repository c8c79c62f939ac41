// A connection's bytes as the upstream client reads them: what arrived and is not yet consumed.

/** A short answer of up to this much comes in one read. */
const READ_SIZE = 32 * 1024;

/**
 * Each connection's reads land in one buffer of its own, each over the last: bytes taken from it
 * are good only until the next read, and whoever keeps them longer keeps a copy. A fresh buffer for
 * what every read brought was garbage that V8 frees long after it is dropped: under load, tens of
 * MB of the process's memory.
 */
const scratches = new WeakMap<Deno.Conn, Uint8Array<ArrayBuffer>>();

/** A connection's unread bytes: what came after the part of the stream already consumed. */
export class ConnectionReader {
  buf: Uint8Array = new Uint8Array(0);
  eof = false;

  /** A read already waiting (on an idle connection). */
  #waiting?: Promise<number | null>;

  constructor(readonly conn: Deno.Conn) {}

  /** Reads after the unread bytes, which first move to the start of the connection's buffer. */
  #read(): Promise<number | null> {
    const kept = this.buf;
    let scratch = scratches.get(this.conn);
    if (!scratch || scratch.length < kept.length + READ_SIZE) {
      const grown = new Uint8Array(kept.length + READ_SIZE);
      grown.set(kept);
      scratches.set(this.conn, scratch = grown);
    } else if (kept.buffer !== scratch.buffer) scratch.set(kept);
    else if (kept.byteOffset !== 0) {
      scratch.copyWithin(0, kept.byteOffset, kept.byteOffset + kept.length);
    }
    this.buf = scratch.subarray(0, kept.length);
    return this.conn.read(scratch.subarray(kept.length, kept.length + READ_SIZE));
  }

  /** Starts a read that the next fill() takes over; settles when the idle connection ends. */
  wait(): Promise<number | null> {
    return this.#waiting = this.#read();
  }

  /** Reads more bytes onto the buffer; false at end of stream. What was taken is now gone. */
  async fill(): Promise<boolean> {
    if (this.eof) return false;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    const n = await (waiting ?? this.#read());
    if (n === null) {
      this.eof = true;
      return false;
    }
    const buf = this.buf;
    this.buf = new Uint8Array(buf.buffer, buf.byteOffset, buf.length + n);
    return true;
  }

  take(n: number): Uint8Array {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** The length of the blank line headEnd() found: 4 (`\r\n\r\n`) or 2 (`\n\n`). */
  headGap = 4;

  /**
   * Index of the blank line that ends an answer's head, or -1: `\r\n\r\n`, or `\n\n` from a
   * server that ends its lines with a bare LF (RFC 9112 lets a recipient take those).
   */
  headEnd(): number {
    const b = this.buf;
    let crlf = -1;
    for (let i = b.indexOf(13); i !== -1 && i + 3 < b.length; i = b.indexOf(13, i + 1)) {
      if (b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) {
        crlf = i;
        break;
      }
    }
    const before = crlf === -1 ? b.length - 1 : crlf;
    for (let i = b.indexOf(10); i !== -1 && i < before; i = b.indexOf(10, i + 1)) {
      if (b[i + 1] === 10) {
        this.headGap = 2;
        return i;
      }
    }
    this.headGap = 4;
    return crlf;
  }

  /** The length of the line end lineEnd() found: 2 (`\r\n`) or 1 (a bare `\n`). */
  lineGap = 2;

  /**
   * Index of the end of the first line, or -1: `\r\n`, or a bare `\n` (RFC 9112 §2.2 lets a
   * recipient take one; waiting for a `\r\n` that never comes held the answer to its timeout).
   */
  lineEnd(): number {
    const i = this.buf.indexOf(10);
    if (i === -1) return -1;
    const crlf = i > 0 && this.buf[i - 1] === 13;
    this.lineGap = crlf ? 2 : 1;
    return crlf ? i - 1 : i;
  }
}
