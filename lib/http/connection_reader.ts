// A connection's bytes as the upstream client reads them: what arrived and is not yet consumed,
// and where each read lands.

/** A short answer of up to this much comes in one read, so it goes to the client whole. */
const READ_SIZE = 32 * 1024;

/**
 * Where a connection's reads land: one after the other in a block, each small read's bytes handed
 * on where they landed and never written again. Copying each read out of one buffer cost an
 * ArrayBuffer per read (about 1 µs in Deno, with a streamed answer read an event at a time).
 */
interface Landing {
  block: Uint8Array;
  used: number;
}

/** Room for 2 full reads: a block serves at least one, and dozens of a stream's events. */
const BLOCK_SIZE = 2 * READ_SIZE;
/** Reads up to this size (a streamed event or a few) are handed on where they landed. */
const IN_PLACE_MAX = 4096;
const landings = new WeakMap<Deno.Conn, Landing>();

/** A connection's unread bytes: what came after the part of the stream already consumed. */
export class ConnectionReader {
  buf: Uint8Array = new Uint8Array(0);
  eof = false;

  /** A read already waiting (on an idle connection). */
  #waiting?: Promise<number | null>;
  /** Kept for the connection's life, so a small answer no longer costs a fresh buffer. */
  readonly #landing: Landing;

  constructor(readonly conn: Deno.Conn) {
    let landing = landings.get(conn);
    if (!landing) landings.set(conn, landing = { block: new Uint8Array(0), used: 0 });
    this.#landing = landing;
  }

  /** Where the next read lands: after the last one, or in a new block once a read may not fit. */
  #read(): Promise<number | null> {
    const landing = this.#landing;
    if (landing.block.length - landing.used < READ_SIZE) {
      landing.block = new Uint8Array(BLOCK_SIZE);
      landing.used = 0;
    }
    return this.conn.read(landing.block.subarray(landing.used, landing.used + READ_SIZE));
  }

  /** Starts a read that the next fill() takes over; settles when the idle connection ends. */
  wait(): Promise<number | null> {
    return this.#waiting = this.#read();
  }

  /** Reads more bytes onto the buffer; false at end of stream. */
  async fill(): Promise<boolean> {
    if (this.eof) return false;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    const n = await (waiting ?? this.#read());
    if (n === null) {
      this.eof = true;
      return false;
    }
    const { block } = this.#landing;
    const start = this.#landing.used;
    const buf = this.buf;
    if (n > IN_PLACE_MAX) {
      // A big read (a whole answer at once) is copied out and its room read into again: handing
      // it on in place cost a fresh block for nearly every read, slower than the copy.
      const all = new Uint8Array(buf.length + n);
      all.set(buf);
      all.set(block.subarray(start, start + n), buf.length);
      this.buf = all;
      return true;
    }
    const end = this.#landing.used += n;
    if (buf.length === 0) this.buf = block.subarray(start, end);
    else if (buf.buffer === block.buffer && buf.byteOffset + buf.length === start) {
      // What was left ends where this read began: the two are already one.
      this.buf = block.subarray(buf.byteOffset, end);
    } else {
      const all = new Uint8Array(buf.length + n);
      all.set(buf);
      all.set(block.subarray(start, end), buf.length);
      this.buf = all;
    }
    return true;
  }

  take(n: number): Uint8Array {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Index of the first `\r\n\r\n`, or -1. */
  headEnd(): number {
    const b = this.buf;
    for (let i = b.indexOf(13); i !== -1 && i + 3 < b.length; i = b.indexOf(13, i + 1)) {
      if (b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
    }
    return -1;
  }

  /** Index of the first `\r\n`, or -1. */
  lineEnd(): number {
    const b = this.buf;
    for (let i = b.indexOf(13); i !== -1 && i + 1 < b.length; i = b.indexOf(13, i + 1)) {
      if (b[i + 1] === 10) return i;
    }
    return -1;
  }
}
