// Upstream calls as HTTP/1.1 over pooled keep-alive connections, answered as standard Responses.
// Deno's fetch cost the proxy more CPU than all its own work on a small request (measured on a
// bare passthrough: 0.22-0.37 ms per request with fetch, 0.12-0.19 ms with this), and upstream
// APIs all speak HTTP/1.1. Proxied networks and Deno Deploy keep fetch (UPSTREAM_CLIENT, read in
// lib/config.ts and acted on in lib/services.ts).
import { connect, connectOrAbort, type OpenConnection } from "./connect.ts";
import { ConnectionPool } from "./connection_pool.ts";
import { ConnectionReader } from "./connection_reader.ts";
import { abortError, HttpError } from "./errors.ts";
import { exchange } from "./exchange.ts";
import { bodyBytes, encodeRequest } from "./request_bytes.ts";
import { cachedTarget, type Target } from "./target.ts";

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
  connect?: OpenConnection;
  /** How long an idle connection is kept (default a minute). */
  idleKeepMs?: number;
}

/**
 * fetch that answers a redirect with the redirect: followed, it would take the request, keys and
 * all, to whatever host the upstream names (fetch drops only `authorization` across origins).
 */
export const fetchWithoutRedirects: typeof fetch = (input, init) =>
  fetch(input, { ...init, redirect: "manual" });

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const pool = new ConnectionPool(options.now ?? Date.now, options.idleKeepMs);
  const targets = new Map<string, Target>();
  /** Origins whose TLS handshake refused HTTP/1.1. */
  const http2Only = new Set<string>();

  async function upstreamFetch(
    input: string | URL | Request,
    init: RequestInit = {},
  ): Promise<Response> {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const t = cachedTarget(targets, url);
    const signal = init.signal;
    if (signal?.aborted) throw abortError(signal);
    // A server known to refuse HTTP/1.1 goes to fetch straight away.
    if (http2Only.has(t.origin)) return await fetchWithoutRedirects(url, init);
    const method = (init.method ?? "GET").toUpperCase();
    const request = encodeRequest(method, t, init.headers, await bodyBytes(init.body));

    const reused = pool.reuse(t.origin);
    if (reused) {
      try {
        return await exchange(pool, t.origin, reused, request, method, signal);
      } catch (err) {
        // A kept-alive connection the server had already closed: nothing was answered, so the
        // request is sent again on a new one.
        if (signal?.aborted || !isStaleConnection(err)) throw err;
      }
    }
    let conn: Deno.Conn;
    try {
      const opening = connect(t, options.caCerts, options.connect ?? Deno.connect);
      conn = await connectOrAbort(opening, signal);
    } catch (err) {
      // Deno.connect tries one address; fetch tries them all (an IPv6 address first on a host
      // without an IPv6 route, say). A TLS server that speaks HTTP/2 alone refuses HTTP/1.1 in
      // its handshake; fetch speaks HTTP/2.
      const noHttp1 = NO_HTTP1.test(String(err));
      if (noHttp1) http2Only.add(t.origin);
      if (
        err instanceof Deno.errors.NetworkUnreachable ||
        err instanceof Deno.errors.AddrNotAvailable || noHttp1
      ) {
        return await fetchWithoutRedirects(url, init);
      }
      throw err;
    }
    return await exchange(pool, t.origin, new ConnectionReader(conn), request, method, signal);
  }

  return {
    fetch: upstreamFetch as typeof fetch,
    close() {
      pool.close();
    },
  };
}

const NO_HTTP1 = /NoApplicationProtocol|no_application_protocol/i;

function isStaleConnection(err: unknown): boolean {
  if (err instanceof HttpError) return err.message.endsWith("connection closed");
  return err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe ||
    err instanceof Deno.errors.ConnectionAborted;
}
