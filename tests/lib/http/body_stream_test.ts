// Answer bodies framed by chunks, a length or the connection's end, read through the client.
import assert from "node:assert/strict";
import { createHttpClient } from "../../../lib/http/http_client.ts";
import { scriptedServer, write } from "../../helpers/scripted_server.ts";

const decoder = new TextDecoder();

Deno.test("http client: chunked bodies split anywhere, with extensions and trailers", async () => {
  const server = scriptedServer(async (conn) => {
    await write(
      conn,
      "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r",
      "\n5;name=value\r\nhel",
      "lo\r\n",
      "7\r\n, world\r\n0\r\nx-trailer: 1\r\n",
      "\r\n",
    );
    return "keep";
  });
  const client = createHttpClient();
  try {
    for (let i = 0; i < 2; i++) {
      const res = await client.fetch(server.url + "/stream", { method: "POST", body: "{}" });
      assert.equal(await res.text(), "hello, world");
    }
    assert.equal(server.connections, 1, "the connection was reused after the last chunk");
    assert.match(server.seen[0], /^POST \/stream HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\n/);
    assert.match(server.seen[0], /\r\ncontent-length: 2\r\n\r\n\{\}$/);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http client: chunk sizes in either case, with leading zeros or spaces; a size that is no number breaks the body", async () => {
  const server = scriptedServer(async (conn, _request, index) => {
    const head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
    if (index === 0) {
      await write(
        conn,
        head + "A\r\n0123456789\r\n0b\r\nabcdefghijk\r\n",
        "0000000000000003\r\nxyz\r\n 2 \r\n!?\r\n00000\r\n\r\n",
      );
      return "keep";
    }
    await write(conn, head + "1g\r\nhello\r\n0\r\n\r\n");
    return "close";
  });
  const client = createHttpClient();
  try {
    const res = await client.fetch(server.url, { method: "POST", body: "{}" });
    assert.equal(await res.text(), "0123456789abcdefghijkxyz!?");
    const bad = await client.fetch(server.url, { method: "POST", body: "{}" });
    await assert.rejects(bad.text(), /bad chunk size/);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http client: an abort mid-body errors the stream; the client leaving cancels it", async () => {
  const server = scriptedServer(async (conn) => {
    await write(conn, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n");
    await conn.read(new Uint8Array(10)).catch(() => null);
    return "close";
  });
  const client = createHttpClient();
  try {
    const controller = new AbortController();
    const res = await client.fetch(server.url, {
      method: "POST",
      body: "x",
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    assert.equal(decoder.decode((await reader.read()).value), "abc");
    controller.abort(new DOMException("client closed", "AbortError"));
    await assert.rejects(reader.read(), (err: DOMException) => err.message === "client closed");

    const second = await client.fetch(server.url, { method: "POST", body: "y" });
    const r2 = second.body!.getReader();
    await r2.read();
    await r2.cancel();
    assert.equal(server.connections, 2, "neither broken connection went back to the pool");
  } finally {
    client.close();
    await server.close();
  }
});
