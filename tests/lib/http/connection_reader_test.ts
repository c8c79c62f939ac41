// Where reads land: bytes handed on in place stay intact across answers on one connection.
import assert from "node:assert/strict";
import { createHttpClient } from "../../../lib/http/http_client.ts";
import { scriptedServer } from "../../helpers/scripted_server.ts";

const encoder = new TextEncoder();

Deno.test("http client: chunks kept unread to the end of two answers on one connection keep their bytes", async () => {
  // Enough reads to fill several of the blocks reads land in, each piece sent on its own.
  const pieces = (answer: number) =>
    Array.from(
      { length: 240 },
      (_, i) => `data: {"answer":${answer},"n":${i},"t":"${"é".repeat(i % 90)}"}\n\n`,
    );
  const server = scriptedServer(async (conn, _request, index) => {
    await conn.write(encoder.encode(
      "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
    ));
    const all = pieces(index);
    for (let i = 0; i < all.length; i++) {
      const bytes = encoder.encode(all[i]);
      // A chunk's size line and its data arrive in separate reads now and then.
      const head = encoder.encode(`${bytes.length.toString(16)}\r\n`);
      await conn.write(i % 7 ? new Uint8Array([...head, ...bytes, 13, 10]) : head);
      if (!(i % 7)) await conn.write(new Uint8Array([...bytes, 13, 10]));
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await conn.write(encoder.encode("0\r\n\r\n"));
    return "keep";
  });
  const client = createHttpClient();
  try {
    const kept: Uint8Array[][] = [];
    for (let i = 0; i < 2; i++) {
      const res = await client.fetch(server.url + "/stream", { method: "POST", body: "{}" });
      const chunks: Uint8Array[] = [];
      for await (const chunk of res.body!) chunks.push(chunk);
      kept.push(chunks);
    }
    assert.equal(server.connections, 1);
    kept.forEach((chunks, i) => {
      const utf8 = new TextDecoder();
      const text = chunks.map((c) => utf8.decode(c, { stream: true })).join("") + utf8.decode();
      assert.equal(text, pieces(i).join(""), `answer ${i}`);
    });
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http client: an answer not yet read keeps its bytes while its connection answers the next request", async () => {
  const server = scriptedServer(async (conn, _request, index) => {
    const body = `{"answer":${index},"text":"${String(index).repeat(300)}"}`;
    await conn.write(encoder.encode(
      `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    ));
    return "keep";
  });
  const client = createHttpClient();
  try {
    const first = await client.fetch(server.url, { method: "POST", body: "{}" });
    const second = await client.fetch(server.url, { method: "POST", body: "{}" });
    assert.equal(server.connections, 1);
    assert.equal((await second.json()).answer, 1);
    assert.deepEqual(await first.json(), { answer: 0, text: "0".repeat(300) });
  } finally {
    client.close();
    await server.close();
  }
});
