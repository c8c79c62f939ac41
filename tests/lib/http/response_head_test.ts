// The answer's head: header bytes read as fetch reads them.
import assert from "node:assert/strict";
import { createHttpClient } from "../../../lib/http/http_client.ts";
import { scriptedServer } from "../../helpers/scripted_server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("http client: header bytes that are not ASCII are read as Latin-1, as fetch does", async () => {
  const server = scriptedServer(async (conn) => {
    await conn.write(
      new Uint8Array([
        ...encoder.encode("HTTP/1.1 200 OK\r\nx-note: "),
        ...encoder.encode("余额"),
        ...encoder.encode("\r\ncontent-length: 2\r\n\r\nok"),
      ]),
    );
    return "keep";
  });
  const client = createHttpClient();
  try {
    const res = await client.fetch(server.url, { method: "POST", body: "x" });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok");
    const bytes = Uint8Array.from(res.headers.get("x-note")!, (c) => c.charCodeAt(0));
    assert.equal(decoder.decode(bytes), "余额");
  } finally {
    client.close();
    await server.close();
  }
});
