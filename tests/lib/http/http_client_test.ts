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
