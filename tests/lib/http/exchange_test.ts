// One request and its answer on a connection: interim answers, aborts and early answers.
import assert from "node:assert/strict";
import { createHttpClient } from "../../../lib/http/http_client.ts";
import { scriptedServer, write } from "../../helpers/scripted_server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("http client: interim 100 answers are skipped; a body without length ends with the connection", async () => {
  const server = scriptedServer(async (conn) => {
    await write(
      conn,
      "HTTP/1.1 100 Continue\r\n\r\n",
      "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\npart one, ",
      "part two",
    );
    return "close";
  });
  const client = createHttpClient();
  try {
    const res = await client.fetch(server.url, { method: "POST", body: "x" });
    assert.equal(await res.text(), "part one, part two");
    const again = await client.fetch(server.url, { method: "POST", body: "x" });
    assert.equal(await again.text(), "part one, part two");
    assert.equal(server.connections, 2, "a closed connection is not reused");
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http client: an abort before the answer rejects with its reason and drops the connection", async () => {
  let closedByClient = false;
  const server = scriptedServer(async (conn) => {
    const n = await conn.read(new Uint8Array(10)).catch(() => null);
    closedByClient = n === null;
    return "close";
  });
  const client = createHttpClient();
  try {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new DOMException("timeout", "TimeoutError")), 30);
    await assert.rejects(
      client.fetch(server.url, { method: "POST", body: "x", signal: controller.signal }),
      (err: DOMException) => err.name === "TimeoutError",
    );
    await new Promise((r) => setTimeout(r, 30));
    assert.ok(closedByClient, "the server saw the connection end");
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http client: an answer sent before the request was read whole is returned, not the broken pipe", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of listener) {
      // Reads only the head, refuses the body at once and hangs up, as proxies in front of
      // upstreams do with oversized requests.
      const buf = new Uint8Array(4096);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) break;
        head += decoder.decode(buf.subarray(0, n));
      }
      await conn.write(encoder.encode(
        'HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\ncontent-length: 24\r\nconnection: close\r\n\r\n{"error":"too large!!!"}',
      )).catch(() => {});
      conn.close();
    }
  })();
  const client = createHttpClient();
  try {
    const res = await client.fetch(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`, {
      method: "POST",
      body: new Uint8Array(8 * 1024 * 1024),
    });
    assert.equal(res.status, 413);
    assert.equal(await res.text(), '{"error":"too large!!!"}');
  } finally {
    client.close();
    listener.close();
    await serving.catch(() => {});
  }
});
