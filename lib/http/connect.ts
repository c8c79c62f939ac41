// Opening an upstream connection, and giving it up when the request is aborted first.
import { abortError } from "./errors.ts";
import type { Target } from "./target.ts";

export type OpenConnection = (options: Deno.ConnectOptions) => Promise<Deno.Conn>;

// Deno.connect tries only the first address a name resolves to; for `localhost` that may be ::1
// while a local model server (Ollama) listens on 127.0.0.1 alone, so both are tried.
export async function connect(
  t: Target,
  caCerts: string[] | undefined,
  open: OpenConnection,
): Promise<Deno.Conn> {
  if (t.tls) {
    const conn = await Deno.connectTls({
      hostname: t.hostname,
      port: t.port,
      alpnProtocols: ["http/1.1"],
      caCerts,
    });
    // Done here, not on the first write: a server's refusal of HTTP/1.1 (one that speaks HTTP/2
    // alone) is then a connection's failure, which the caller leaves to fetch.
    try {
      await conn.handshake();
    } catch (err) {
      closeQuietly(conn);
      throw err;
    }
    return conn;
  }
  if (t.hostname !== "localhost") return await open({ hostname: t.hostname, port: t.port });
  try {
    return await open({ hostname: "127.0.0.1", port: t.port });
  } catch (err) {
    if (!(err instanceof Deno.errors.ConnectionRefused)) throw err;
    return await open({ hostname: "::1", port: t.port });
  }
}

/** A connection attempt that gives up when the signal aborts (an unreachable host can take minutes). */
export function connectOrAbort(
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

export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}
