// A raw TCP server on loopback that writes exactly the bytes a test scripts (odd splits, chunk
// extensions, early closes), for driving the upstream HTTP client where Deno.serve would not.
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Scripted {
  url: string;
  /** Requests as the server read them (head and body text), in order. */
  seen: string[];
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

type Script = (conn: Deno.Conn, request: string, index: number) => Promise<"keep" | "close">;

/** Reads one request (head + content-length body) from the connection, or null at its end. */
export async function readRequest(conn: Deno.Conn, carry: { buf: string }): Promise<string | null> {
  const chunk = new Uint8Array(65536);
  while (true) {
    const end = carry.buf.indexOf("\r\n\r\n");
    if (end !== -1) {
      const length = Number(/content-length: (\d+)/i.exec(carry.buf.slice(0, end))?.[1] ?? 0);
      if (carry.buf.length >= end + 4 + length) {
        const request = carry.buf.slice(0, end + 4 + length);
        carry.buf = carry.buf.slice(end + 4 + length);
        return request;
      }
    }
    const n = await conn.read(chunk).catch(() => null);
    if (n === null) return null;
    carry.buf += decoder.decode(chunk.subarray(0, n));
  }
}

export function scriptedServer(script: Script): Scripted {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: string[] = [];
  const open = new Set<Deno.Conn>();
  const state = { connections: 0 };
  const serving = (async () => {
    for await (const conn of listener) {
      state.connections++;
      open.add(conn);
      (async () => {
        const carry = { buf: "" };
        try {
          while (true) {
            const request = await readRequest(conn, carry);
            if (request === null) break;
            seen.push(request);
            if (await script(conn, request, seen.length - 1) === "close") break;
          }
        } catch { /* the client went away */ }
        open.delete(conn);
        try {
          conn.close();
        } catch { /* already closed */ }
      })();
    }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    get connections() {
      return state.connections;
    },
    async close() {
      listener.close();
      for (const c of open) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await serving.catch(() => {});
    },
  };
}

/** Writes each piece on its own, a moment apart, so the client reads them separately. */
export async function write(conn: Deno.Conn, ...pieces: string[]) {
  for (const p of pieces) {
    await conn.write(encoder.encode(p));
    await new Promise((r) => setTimeout(r, 2));
  }
}
