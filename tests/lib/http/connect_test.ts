// Opening connections: refused, over TLS, aborted while opening, and localhost on either address.
import assert from "node:assert/strict";
import { createHttpClient } from "../../../lib/http/http_client.ts";

function hasOpenssl(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

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
