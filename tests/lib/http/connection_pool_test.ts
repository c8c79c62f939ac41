// The idle pool: a connection kept for the next request, and closed once it idles too long.
import assert from "node:assert/strict";
import { createHttpClient } from "../../../lib/http/http_client.ts";
import { readRequest } from "../../helpers/scripted_server.ts";

const encoder = new TextEncoder();

Deno.test("http client: answers from Deno.serve, the connection kept for the next request", async () => {
  const ports: number[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req, info) => {
      ports.push(info.remoteAddr.port);
      const body = await req.text();
      return Response.json({ method: req.method, body, auth: req.headers.get("authorization") });
    },
  );
  const client = createHttpClient();
  try {
    for (let i = 0; i < 3; i++) {
      const res = await client.fetch(`http://127.0.0.1:${server.addr.port}/v1/x?q=${i}`, {
        method: "POST",
        headers: { authorization: "Bearer k", "content-type": "application/json" },
        body: JSON.stringify({ i, text: "é✻😀" }),
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.deepEqual(await res.json(), {
        method: "POST",
        body: JSON.stringify({ i, text: "é✻😀" }),
        auth: "Bearer k",
      });
    }
    assert.equal(new Set(ports).size, 1, "one connection served all three");
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("http client: a kept connection left idle past its time is closed without a next request", async () => {
  let closed!: () => void;
  const closedByClient = new Promise<void>((r) => closed = r);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of listener) {
      const carry = { buf: "" };
      while (await readRequest(conn, carry) !== null) {
        await conn.write(encoder.encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
      }
      closed();
      conn.close();
    }
  })();
  const client = createHttpClient({ idleKeepMs: 100 });
  let giveUp: ReturnType<typeof setTimeout> | undefined;
  try {
    const res = await client.fetch(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`, {
      method: "POST",
      body: "x",
    });
    assert.equal(await res.text(), "ok");
    // Waits for the close itself, however slow the machine: a kept socket never comes.
    const late = new Promise<string>((r) => giveUp = setTimeout(() => r("still open"), 10_000));
    assert.equal(
      await Promise.race([closedByClient.then(() => "closed"), late]),
      "closed",
      "the client closed its idle connection on its own",
    );
  } finally {
    clearTimeout(giveUp);
    client.close();
    listener.close();
    await serving.catch(() => {});
  }
});
