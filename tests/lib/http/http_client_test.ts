// The upstream HTTP/1.1 client against real servers on loopback: Deno.serve, and a raw TCP server
// that writes exactly the bytes a test scripts (odd splits, chunk extensions, early closes).
import assert from "node:assert/strict";
import { createHttpClient } from "../../../lib/http/http_client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Scripted {
  url: string;
  /** Requests as the server read them (head and body text), in order. */
  seen: string[];
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

type Script = (conn: Deno.Conn, request: string, index: number) => Promise<"keep" | "close">;

/** Reads one request (head + content-length body) from the connection, or null at its end. */
async function readRequest(conn: Deno.Conn, carry: { buf: string }): Promise<string | null> {
  const chunk = new Uint8Array(65536);
  while (true) {
    const end = carry.buf.indexOf("\r\n\r\n");
    if (end !== -1) {
      const length = Number(/content-length: (\d+)/i.exec(carry.buf.slice(0, end))?.[1] ?? 0);
      if (carry.buf.length >= end + 4 + length) {
        const request = carry.buf.slice(0, end + 4 + length);
        carry.buf = carry.buf.slice(end + 4 + length);
        return request;
      }
    }
    const n = await conn.read(chunk).catch(() => null);
    if (n === null) return null;
    carry.buf += decoder.decode(chunk.subarray(0, n));
  }
}

function scriptedServer(script: Script): Scripted {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: string[] = [];
  const open = new Set<Deno.Conn>();
  const state = { connections: 0 };
  const serving = (async () => {
    for await (const conn of listener) {
      state.connections++;
      open.add(conn);
      (async () => {
        const carry = { buf: "" };
        try {
          while (true) {
            const request = await readRequest(conn, carry);
            if (request === null) break;
            seen.push(request);
            if (await script(conn, request, seen.length - 1) === "close") break;
          }
        } catch { /* the client went away */ }
        open.delete(conn);
        try {
          conn.close();
        } catch { /* already closed */ }
      })();
    }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    get connections() {
      return state.connections;
    },
    async close() {
      listener.close();
      for (const c of open) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await serving.catch(() => {});
    },
  };
}

function hasOpenssl(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

async function write(conn: Deno.Conn, ...pieces: string[]) {
  for (const p of pieces) {
    await conn.write(encoder.encode(p));
    await new Promise((r) => setTimeout(r, 2));
  }
}

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

Deno.test("http client: a refused connection rejects like fetch", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const client = createHttpClient();
  await assert.rejects(client.fetch(`http://127.0.0.1:${port}/`), Deno.errors.ConnectionRefused);
  client.close();
});

Deno.test({
  name: "http client: https with the upstream's certificate checked",
  ignore: !hasOpenssl(),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const run = (args: string[]) =>
        new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "null" }).output();
      await run([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
      ]);
      const cert = await Deno.readTextFile(`${dir}/cert.pem`);
      const key = await Deno.readTextFile(`${dir}/key.pem`);
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, cert, key, onListen() {} },
        async (req) => new Response(`secure ${await req.text()}`),
      );
      const url = `https://localhost:${server.addr.port}/v1/messages`;
      const trusting = createHttpClient({ caCerts: [cert] });
      const strict = createHttpClient();
      try {
        const res = await trusting.fetch(url, { method: "POST", body: "hi" });
        assert.equal(await res.text(), "secure hi");
        await assert.rejects(strict.fetch(url, { method: "POST", body: "hi" }));
      } finally {
        trusting.close();
        strict.close();
        await server.shutdown();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("http client: a connection that does not open gives up when the signal aborts", async () => {
  let opened: Deno.Conn | undefined;
  let release!: () => void;
  const slow = new Promise<void>((r) => release = r);
  const client = createHttpClient({
    connect: async (options) => {
      await slow;
      return opened = await Deno.connect(options);
    },
  });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const started = Date.now();
    await assert.rejects(
      client.fetch(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`, {
        signal: AbortSignal.timeout(50),
      }),
      (err: DOMException) => err.name === "TimeoutError",
    );
    assert.ok(Date.now() - started < 1000, "rejected at the timeout, not when the connect ended");
    release();
    const accepted = await listener.accept();
    const n = await accepted.read(new Uint8Array(10));
    assert.equal(n, null, "the late connection is closed unused");
    accepted.close();
    assert.ok(opened);
  } finally {
    listener.close();
    client.close();
  }
});

Deno.test("http client: localhost reaches a server on either loopback address", async () => {
  const servers: Deno.HttpServer<Deno.NetAddr>[] = [];
  for (const hostname of ["127.0.0.1", "::1"]) {
    try {
      servers.push(
        Deno.serve({ hostname, port: 0, onListen() {} }, () => new Response(hostname)),
      );
    } catch { /* no IPv6 loopback here */ }
  }
  const client = createHttpClient();
  try {
    for (const server of servers) {
      const res = await client.fetch(`http://localhost:${server.addr.port}/`);
      assert.equal(await res.text(), server.addr.hostname);
    }
  } finally {
    client.close();
    for (const server of servers) await server.shutdown();
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
