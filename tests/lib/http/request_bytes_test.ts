// The request as written: refused headers, the default accept-encoding (and a gzip answer read).
import assert from "node:assert/strict";
import { createHttpClient } from "../../../lib/http/http_client.ts";
import { encodeRequest } from "../../../lib/http/request_bytes.ts";
import { scriptedServer } from "../../helpers/scripted_server.ts";

const encoder = new TextEncoder();

Deno.test("http client: bad headers are refused before anything is sent; gzip answers are decoded", async () => {
  const gz = new Uint8Array(
    await new Response(
      new Blob([JSON.stringify({ ok: true })]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer(),
  );
  const server = scriptedServer(async (conn) => {
    await conn.write(encoder.encode(
      `HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: ${gz.length}\r\n\r\n`,
    ));
    await conn.write(gz);
    return "keep";
  });
  const client = createHttpClient();
  try {
    await assert.rejects(
      client.fetch(server.url, { headers: { "x-api-key": "k\r\nx-injected: 1" } }),
      TypeError,
    );
    assert.equal(server.seen.length, 0);
    const res = await client.fetch(server.url, { method: "GET" });
    assert.deepEqual(await res.json(), { ok: true });
    assert.match(server.seen[0], /^GET \/ HTTP\/1\.1\r\n/);
    assert.match(server.seen[0], /\r\naccept-encoding: identity\r\n/);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http client: an answer's content-coding list is undone from the last, identity skipped", async () => {
  const pack = async (bytes: Uint8Array<ArrayBuffer>, format: CompressionFormat) =>
    new Uint8Array(
      await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream(format)))
        .arrayBuffer(),
    );
  const twice = await pack(await pack(encoder.encode('{"ok":2}'), "deflate"), "gzip");
  const once = await pack(encoder.encode('{"ok":1}'), "gzip");
  const answers = [["gzip, identity", once], ["identity, deflate, gzip", twice]] as const;
  let next = 0;
  const server = scriptedServer(async (conn) => {
    const [coding, body] = answers[next++];
    await conn.write(encoder.encode(
      `HTTP/1.1 200 OK\r\ncontent-encoding: ${coding}\r\ncontent-length: ${body.length}\r\n\r\n`,
    ));
    await conn.write(body);
    return "close";
  });
  const client = createHttpClient();
  try {
    assert.deepEqual(await (await client.fetch(server.url)).json(), { ok: 1 });
    assert.deepEqual(await (await client.fetch(server.url)).json(), { ok: 2 });
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("request bytes: a client's header bytes beyond ASCII (a UTF-8 user-agent) go on as the same bytes", () => {
  // Headers hold what a client sent one byte a character: 日本 in UTF-8 is e6 97 a5 e6 9c ac.
  const utf8 = new TextEncoder().encode("agent 日本");
  const asReceived = new Headers({ "user-agent": String.fromCharCode(...utf8) });
  const target = {
    origin: "http://127.0.0.1:1",
    hostname: "127.0.0.1",
    port: 1,
    tls: false,
    path: "/v1/messages",
    host: "127.0.0.1:1",
  };
  const head = encodeRequest("POST", target, asReceived, new Uint8Array(0));
  const line = new TextEncoder().encode("user-agent: ");
  const at = head.findIndex((_, i) => line.every((b, j) => head[i + j] === b));
  assert.deepEqual([...head.subarray(at + line.length, at + line.length + utf8.length)], [...utf8]);
  assert.throws(
    () => encodeRequest("GET", target, { "x-note": "日本" }, new Uint8Array(0)),
    TypeError,
  );
});
