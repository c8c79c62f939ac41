// The benchmark's floor: a bare Deno byte passthrough, Deno.serve in front of fetch, no
// translation, no checks, no logs. Its CPU per request is what any Deno proxy pays on the machine
// the bench runs on, for the same load, and puts the proxy's own figures in scale.
//   deno run -A tests/bench/bare_passthrough.ts <upstream origin>
// It prints `bare passthrough listening on http://127.0.0.1:<port>` once ready.

const upstream = Deno.args[0];
if (!upstream) {
  console.error("usage: bare_passthrough.ts <upstream origin>");
  Deno.exit(2);
}

Deno.addSignalListener("SIGTERM", () => Deno.exit(0));

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ hostname, port }) =>
    console.log(`bare passthrough listening on http://${hostname}:${port}`),
}, async (req) => {
  const url = new URL(req.url);
  const res = await fetch(upstream + url.pathname + url.search, {
    method: req.method,
    headers: req.headers,
    body: req.body,
  });
  return new Response(res.body, { status: res.status, headers: res.headers });
});
