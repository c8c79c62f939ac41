// The request as written: refused headers, the default accept-encoding (and a gzip answer read).
import assert from "node:assert/strict";
import { createHttpClient } from "../../../lib/http/http_client.ts";
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
