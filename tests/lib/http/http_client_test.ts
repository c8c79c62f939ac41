// The client's fetch: a stale kept connection is replaced, an unroutable address left to fetch.
import assert from "node:assert/strict";
import { createHttpClient } from "../../../lib/http/http_client.ts";
import { scriptedServer, write } from "../../helpers/scripted_server.ts";

Deno.test("http client: a kept connection the server has closed is replaced, the request sent once more", async () => {
  const server = scriptedServer(async (conn) => {
    // Keeps the connection alive in words, then drops it once the answer is out.
    await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    return "close";
  });
  const client = createHttpClient();
  try {
    for (let i = 0; i < 3; i++) {
      const res = await client.fetch(server.url, { method: "POST", body: String(i) });
      assert.equal(await res.text(), "ok");
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(server.seen.map((r) => r.slice(-1)), ["0", "1", "2"]);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http client: an address without a route is left to fetch, which tries every address", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    return new Response("reached");
  });
  const client = createHttpClient({
    connect: () => Promise.reject(new Deno.errors.NetworkUnreachable("Network is unreachable")),
  });
  try {
    const res = await client.fetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(await res.text(), "reached");
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("http client: a kept TLS connection the server closed without close_notify is replaced too", async () => {
  // Each connection answers one request; the next it reads, then closes without a word.
  const answered = new WeakSet<Deno.Conn>();
  const server = scriptedServer(async (conn) => {
    if (answered.has(conn)) return "close";
    answered.add(conn);
    await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    return "keep";
  });
  // A TLS stream ended by a bare FIN reads as UnexpectedEof (Node's servers at their keep-alive
  // timeout do this), where a plain one reads as its end.
  const tlsLike = async (options: Deno.ConnectOptions): Promise<Deno.Conn> => {
    const conn = await Deno.connect(options);
    const read = conn.read.bind(conn);
    return Object.assign(conn, {
      read: async (p: Uint8Array) => {
        const n = await read(p);
        if (n === null) {
          throw new Deno.errors.UnexpectedEof(
            "peer closed connection without sending TLS close_notify",
          );
        }
        return n;
      },
    });
  };
  const client = createHttpClient({ connect: tlsLike });
  try {
    for (let i = 0; i < 3; i++) {
      const res = await client.fetch(server.url, { method: "POST", body: String(i) });
      assert.equal(await res.text(), "ok");
    }
    assert.deepEqual(server.seen.map((r) => r.slice(-1)), ["0", "1", "1", "2", "2"]);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http client: an answer whose head lines end in a bare LF is read, not waited on", async () => {
  const server = scriptedServer(async (conn) => {
    await write(
      conn,
      'HTTP/1.1 200 OK\ncontent-type: application/json\ncontent-length: 7\n\n{"a":1}',
    );
    return "keep";
  });
  const client = createHttpClient();
  try {
    const res = await client.fetch(server.url, { signal: AbortSignal.timeout(5_000) });
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await res.json(), { a: 1 });
  } finally {
    client.close();
    await server.close();
  }
});
