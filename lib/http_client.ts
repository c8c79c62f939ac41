// Upstream calls as HTTP/1.1 over pooled keep-alive connections, answered as standard Responses.
// Deno's fetch cost the proxy more CPU than all its own work on a small request (measured on a
// bare passthrough: 0.22-0.37 ms per request with fetch, 0.12-0.19 ms with this), and upstream
// APIs all speak HTTP/1.1. Proxied networks and Deno Deploy keep fetch (see createUpstreamFetch).

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const READ_SIZE = 16 * 1024;
/**
 * How long an idle connection is kept. A server that closes one sooner is noticed at once (an idle
 * connection always has a read waiting), so a user's next turn seldom pays a new TLS handshake.
 */
const IDLE_KEEP_MS = 60_000;
const MAX_IDLE_PER_ORIGIN = 64;
const MAX_HEAD_BYTES = 64 * 1024;

interface Target {
  origin: string;
  hostname: string;
  port: number;
  tls: boolean;
  /** Request target: path and query. */
  path: string;
  /** The Host header. */
  host: string;
}

interface Idle {
  reader: Reader;
  since: number;
}

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
class Reader {
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

class HttpError extends TypeError {
  constructor(message: string) {
    super(`upstream HTTP: ${message}`);
  }
}

interface Head {
  status: number;
  statusText: string;
  headers: [string, string][];
  length?: number;
  chunked: boolean;
  keepAlive: boolean;
  encoding?: string;
}

/** Header bytes as ISO-8859-1, byte for byte, as fetch reads them: never a UTF-8 error. */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096) as unknown as number[]);
  }
  return text;
}

function parseHead(bytes: Uint8Array): Head {
  const lines = latin1(bytes).split("\r\n");
  const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new HttpError(`not an HTTP/1.x answer: ${JSON.stringify(lines[0].slice(0, 60))}`);
  const head: Head = {
    status: Number(m[2]),
    statusText: m[3] ?? "",
    headers: [],
    chunked: false,
    keepAlive: m[1] === "1",
  };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HttpError("malformed header line");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    head.headers.push([name, value]);
    if (name === "content-length") {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 0) throw new HttpError("bad content-length");
      head.length = n;
    } else if (name === "transfer-encoding") {
      head.chunked = value.toLowerCase().split(",").map((s) => s.trim()).includes("chunked");
    } else if (name === "connection") {
      const v = value.toLowerCase();
      if (v.includes("close")) head.keepAlive = false;
      else if (v.includes("keep-alive")) head.keepAlive = true;
    } else if (name === "content-encoding") {
      const v = value.toLowerCase();
      if (v !== "identity") head.encoding = v;
    }
  }
  // Chunked framing wins over a length (RFC 9112 6.3).
  if (head.chunked) head.length = undefined;
  return head;
}

function targetOf(url: string): Target {
  const u = new URL(url);
  const tls = u.protocol === "https:";
  if (!tls && u.protocol !== "http:") throw new HttpError(`unsupported scheme ${u.protocol}`);
  const port = u.port ? Number(u.port) : tls ? 443 : 80;
  const hostname = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  return {
    origin: `${u.protocol}//${u.host}`,
    hostname,
    port,
    tls,
    path: `${u.pathname || "/"}${u.search}`,
    host: u.host,
  };
}

/** Appends the header lines; the answer is sent uncompressed unless the caller asks otherwise. */
function headerText(headers: HeadersInit | undefined, out: string[]): void {
  let encoding = false;
  const add = (name: string, value: string) => {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
      throw new TypeError(`Invalid header: ${name}`);
    }
    const lower = name.toLowerCase();
    if (lower === "host" || lower === "content-length" || lower === "connection") return;
    if (lower === "accept-encoding") encoding = true;
    out.push(name, ": ", value, "\r\n");
  };
  if (headers instanceof Headers) headers.forEach((v, k) => add(k, v));
  else if (Array.isArray(headers)) { for (const [k, v] of headers) add(k, v); }
  else if (headers) { for (const k in headers) add(k, (headers as Record<string, string>)[k]); }
  if (!encoding) out.push("accept-encoding: identity\r\n");
}

async function bodyBytes(body: BodyInit | null | undefined): Promise<Uint8Array> {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === "string") return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return new Uint8Array(await new Response(body).arrayBuffer());
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The signal has been aborted", "AbortError");
}

export interface HttpClient {
  /** fetch for upstream calls: method, headers, a string or bytes body, signal. */
  fetch: typeof fetch;
  /** Closes the idle connections. */
  close(): void;
}

export interface HttpClientOptions {
  now?: () => number;
  /** Extra trusted certificates (PEM), as for Deno.connectTls. */
  caCerts?: string[];
  /** Opens a plain connection (tests stand in a slow network here). */
  connect?: (options: Deno.ConnectOptions) => Promise<Deno.Conn>;
  /** How long an idle connection is kept (default a minute). */
  idleKeepMs?: number;
}

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const now = options.now ?? Date.now;
  const keepMs = options.idleKeepMs ?? IDLE_KEEP_MS;
  const idle = new Map<string, Idle[]>();
  const targets = new Map<string, Target>();
  let shut = false;
  let sweeper: ReturnType<typeof setInterval> | undefined;

  // After a burst, its connections would otherwise stay open until the next request to them.
  const sweep = () => {
    const cutoff = now() - keepMs;
    for (const [origin, list] of idle) {
      while (list.length && list[0].since <= cutoff) closeQuietly(list.shift()!.reader.conn);
      if (!list.length) idle.delete(origin);
    }
    if (idle.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };

  const release = (origin: string, conn: Deno.Conn) => {
    let list = idle.get(origin);
    if (!list) idle.set(origin, list = []);
    // An answer read to its end after close() must not leave its connection open.
    if (shut || list.length >= MAX_IDLE_PER_ORIGIN) {
      closeQuietly(conn);
      return;
    }
    const entry: Idle = { reader: new Reader(conn), since: now() };
    list.push(entry);
    if (sweeper === undefined) {
      sweeper = setInterval(sweep, Math.max(10, keepMs / 4));
      Deno.unrefTimer(sweeper as unknown as number);
    }
    // Anything arriving on an idle connection (its end, mostly) retires it.
    const retire = () => {
      const at = list.indexOf(entry);
      if (at === -1) return;
      list.splice(at, 1);
      closeQuietly(conn);
    };
    entry.reader.wait().then(retire, retire);
  };

  const reuse = (origin: string): Reader | undefined => {
    const list = idle.get(origin);
    while (list?.length) {
      const { reader, since } = list.pop()!;
      if (now() - since < keepMs) return reader;
      closeQuietly(reader.conn);
    }
    return undefined;
  };

  // Deno.connect tries only the first address a name resolves to; for `localhost` that may be ::1
  // while a local model server (Ollama) listens on 127.0.0.1 alone, so both are tried.
  const connect = async (t: Target): Promise<Deno.Conn> => {
    if (t.tls) {
      return await Deno.connectTls({
        hostname: t.hostname,
        port: t.port,
        alpnProtocols: ["http/1.1"],
        caCerts: options.caCerts,
      });
    }
    const open = options.connect ?? Deno.connect;
    if (t.hostname !== "localhost") return await open({ hostname: t.hostname, port: t.port });
    try {
      return await open({ hostname: "127.0.0.1", port: t.port });
    } catch (err) {
      if (!(err instanceof Deno.errors.ConnectionRefused)) throw err;
      return await open({ hostname: "::1", port: t.port });
    }
  };

  async function exchange(
    t: Target,
    r: Reader,
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
    const writing = (async () => {
      for (let at = 0; at < request.length;) at += await conn.write(request.subarray(at));
      sent = true;
    })().catch((err) => {
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
            throw writeError ?? err;
          }
          if (!more) {
            await writing;
            if (writeError) throw writeError;
            throw new HttpError(r.buf.length ? "connection closed mid-head" : "connection closed");
          }
        }
        head = parseHead(r.take(end));
        r.take(4); // the blank line
        // Interim answers (100 Continue, 103 Early Hints) precede the real one.
        if (head.status >= 200) break;
      }
      const noBody = method === "HEAD" || head.status === 204 || head.status === 304;
      // A short answer that came whole with its head (most JSON answers) needs no stream.
      const whole = !noBody && !head.chunked && !head.encoding && head.length !== undefined &&
        r.buf.length >= head.length;
      const finished = () => {
        done();
        // Bytes past the answer mean the framing went wrong: that connection is not reused, nor
        // one answered before its request was written whole (an upstream that never reads the
        // rest would hold the write, and the connection, forever).
        if (head.keepAlive && !closed && sent && r.buf.length === 0) release(t.origin, conn);
        else close();
      };
      let body: ReadableStream<Uint8Array> | Uint8Array | null = null;
      if (whole) {
        body = r.take(head.length!);
        finished();
      } else if (noBody) finished();
      else {
        body = bodyStream(r, head, finished, () => {
          done();
          close();
        }, signal);
      }
      const decoded = body instanceof ReadableStream && head.encoding
        ? decompress(body, head.encoding)
        : body;
      return new Response(decoded as BodyInit | null, {
        status: head.status,
        statusText: head.statusText,
        headers: head.headers,
      });
    } catch (err) {
      done();
      close();
      if (signal?.aborted) throw abortError(signal);
      throw err;
    }
  }

  async function upstreamFetch(
    input: string | URL | Request,
    init: RequestInit = {},
  ): Promise<Response> {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    let t = targets.get(url);
    if (!t) {
      t = targetOf(url);
      if (targets.size > 1000) targets.clear();
      targets.set(url, t);
    }
    const signal = init.signal;
    if (signal?.aborted) throw abortError(signal);
    const method = (init.method ?? "GET").toUpperCase();
    const body = await bodyBytes(init.body);
    const parts = [method, " ", t.path, " HTTP/1.1\r\nhost: ", t.host, "\r\n"];
    headerText(init.headers, parts);
    if (body.length || method !== "GET" && method !== "HEAD") {
      parts.push("content-length: ", String(body.length), "\r\n");
    }
    parts.push("\r\n");
    const headBytes = encoder.encode(parts.join(""));
    const request = new Uint8Array(headBytes.length + body.length);
    request.set(headBytes);
    request.set(body, headBytes.length);

    const reused = reuse(t.origin);
    if (reused) {
      try {
        return await exchange(t, reused, request, method, signal);
      } catch (err) {
        // A kept-alive connection the server had already closed: nothing was answered, so the
        // request is sent again on a new one.
        if (signal?.aborted || !isStaleConnection(err)) throw err;
      }
    }
    let conn: Deno.Conn;
    try {
      conn = await connectOrAbort(connect(t), signal);
    } catch (err) {
      // Deno.connect tries one address; fetch tries them all (an IPv6 address first on a host
      // without an IPv6 route, say).
      if (
        err instanceof Deno.errors.NetworkUnreachable || err instanceof Deno.errors.AddrNotAvailable
      ) {
        return await fetch(url, init);
      }
      throw err;
    }
    return await exchange(t, new Reader(conn), request, method, signal);
  }

  return {
    fetch: upstreamFetch as typeof fetch,
    close() {
      shut = true;
      clearInterval(sweeper);
      sweeper = undefined;
      const lists = [...idle.values()];
      idle.clear();
      for (const list of lists) for (const { reader } of list.splice(0)) closeQuietly(reader.conn);
    },
  };
}

/** A connection attempt that gives up when the signal aborts (an unreachable host can take minutes). */
function connectOrAbort(
  connecting: Promise<Deno.Conn>,
  signal: AbortSignal | null | undefined,
): Promise<Deno.Conn> {
  if (!signal) return connecting;
  return new Promise((resolve, reject) => {
    // A connection that opens after the abort is closed unused, below.
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    connecting.then((conn) => {
      signal.removeEventListener("abort", onAbort);
      if (signal.aborted) conn.close();
      else resolve(conn);
    }, (err) => {
      signal.removeEventListener("abort", onAbort);
      reject(signal.aborted ? abortError(signal) : err);
    });
  });
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

function isStaleConnection(err: unknown): boolean {
  if (err instanceof HttpError) return err.message.endsWith("connection closed");
  return err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe ||
    err instanceof Deno.errors.ConnectionAborted;
}

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
function bodyStream(
  r: Reader,
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

function decompress(
  body: ReadableStream<Uint8Array>,
  encoding: string,
): ReadableStream<Uint8Array> {
  const format = encoding === "gzip" || encoding === "x-gzip"
    ? "gzip"
    : encoding === "deflate"
    ? "deflate"
    : encoding === "br"
    ? "brotli"
    : undefined;
  if (!format) throw new HttpError(`unsupported content-encoding ${encoding}`);
  return body.pipeThrough(
    new DecompressionStream(format as CompressionFormat) as unknown as TransformStream<
      Uint8Array,
      Uint8Array
    >,
  );
}
