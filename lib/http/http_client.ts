// Upstream calls as HTTP/1.1 over pooled keep-alive connections, answered as standard Responses.
// Deno's fetch cost the proxy more CPU than all its own work on a small request (measured on a
// bare passthrough: 0.22-0.37 ms per request with fetch, 0.12-0.19 ms with this), and upstream
// APIs all speak HTTP/1.1. Proxied networks and Deno Deploy keep fetch (see createUpstreamFetch).
import { bodyStream } from "./body_stream.ts";
import { ConnectionReader } from "./connection_reader.ts";
import { decompress } from "./decompress.ts";
import { abortError, HttpError } from "./errors.ts";
import { bodyBytes, encodeRequest } from "./request_bytes.ts";
import { type Head, parseHead } from "./response_head.ts";
import { cachedTarget, type Target } from "./target.ts";

/**
 * How long an idle connection is kept. A server that closes one sooner is noticed at once (an idle
 * connection always has a read waiting), so a user's next turn seldom pays a new TLS handshake.
 */
const IDLE_KEEP_MS = 60_000;
const MAX_IDLE_PER_ORIGIN = 64;
const MAX_HEAD_BYTES = 64 * 1024;

interface Idle {
  reader: ConnectionReader;
  since: number;
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
    const entry: Idle = { reader: new ConnectionReader(conn), since: now() };
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

  const reuse = (origin: string): ConnectionReader | undefined => {
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
    const t = cachedTarget(targets, url);
    const signal = init.signal;
    if (signal?.aborted) throw abortError(signal);
    const method = (init.method ?? "GET").toUpperCase();
    const request = encodeRequest(method, t, init.headers, await bodyBytes(init.body));

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
    return await exchange(t, new ConnectionReader(conn), request, method, signal);
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
