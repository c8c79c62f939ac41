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

/** A server that answers each request with the next of `answers`, on one kept connection. */
function answering(answers: string[]) {
  return scriptedServer(async (conn, _request, i) => {
    await conn.write(encoder.encode(answers[i] ?? answers.at(-1)!));
    return "keep";
  });
}

Deno.test("http client: a length said twice over, or not in digits, is refused, and the bytes it left answer nothing", async () => {
  const injected = "HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nINJECTED";
  for (
    const lengths of [
      `content-length: ${2 + injected.length}\r\ncontent-length: 2`,
      `content-length: 2\r\ncontent-length: ${2 + injected.length}`,
      `content-length: 2, ${2 + injected.length}`,
      "content-length: 0x2",
      "content-length: +2",
      "content-length: ",
    ]
  ) {
    const server = answering([
      `HTTP/1.1 200 OK\r\n${lengths}\r\n\r\nok${injected}`,
      "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nmine",
    ]);
    const client = createHttpClient();
    try {
      await assert.rejects(
        client.fetch(server.url, { method: "POST", body: "x" }).then((r) => r.text()),
        /content-length/,
        lengths,
      );
      const next = await client.fetch(server.url, { method: "POST", body: "y" });
      assert.equal(await next.text(), "mine", lengths);
    } finally {
      client.close();
      await server.close();
    }
  }
  // The same length said twice is one length.
  const server = answering([
    "HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\ncontent-length: 2\r\n\r\nok",
  ]);
  const client = createHttpClient();
  try {
    assert.equal(
      await (await client.fetch(server.url, { method: "POST", body: "x" })).text(),
      "ok",
    );
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http client: an unknown content-encoding leaves the body and its status as they came, as fetch does", async () => {
  const server = answering([
    'HTTP/1.1 429 Too Many Requests\r\ncontent-encoding: none\r\nretry-after: 45\r\ncontent-length: 13\r\n\r\n{"error":"x"}',
  ]);
  const client = createHttpClient();
  try {
    const res = await client.fetch(server.url, { method: "POST", body: "x" });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "45");
    assert.equal(await res.text(), '{"error":"x"}');
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http client: a head of 100 KB (a long cookie) is read; chunk lines ending in a bare LF are read at once", async () => {
  const server = answering([
    `HTTP/1.1 200 OK\r\nset-cookie: ${"c".repeat(100_000)}\r\ncontent-length: 2\r\n\r\nok`,
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\nok\n3;ext=1\nyes\n0\nx-trailer: 1\n\n",
  ]);
  const client = createHttpClient();
  try {
    const big = await client.fetch(server.url, { method: "POST", body: "x" });
    assert.equal(await big.text(), "ok");
    const lf = await client.fetch(server.url, {
      method: "POST",
      body: "y",
      signal: AbortSignal.timeout(5_000),
    });
    assert.equal(await lf.text(), "okyes");
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http client: a request without a user-agent gets fetch's, one with its own keeps it", async () => {
  const server = answering(["HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]);
  const client = createHttpClient();
  try {
    await (await client.fetch(server.url, { method: "POST", body: "x" })).text();
    await (await client.fetch(server.url, {
      method: "POST",
      body: "x",
      headers: { "user-agent": "claude-cli/2.1" },
    })).text();
    assert.match(server.seen[0], /\r\nuser-agent: Deno\/\d/);
    assert.match(server.seen[1], /\r\nuser-agent: claude-cli\/2\.1\r\n/);
    assert.doesNotMatch(server.seen[1], /Deno\//);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http client: a 205 has no body, as fetch has it, not a thrown Response", async () => {
  const server = answering([
    "HTTP/1.1 205 Reset Content\r\ncontent-length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnext",
  ]);
  const client = createHttpClient();
  try {
    const res = await client.fetch(server.url, { method: "POST", body: "x" });
    assert.equal(res.status, 205);
    assert.equal(res.body, null);
    const next = await client.fetch(server.url, { method: "POST", body: "y" });
    assert.equal(await next.text(), "next");
  } finally {
    client.close();
    await server.close();
  }
});
