import assert from "node:assert/strict";
import { answerJson, errorText, networkFailure, noApiAt, send } from "../../lib/upstream_fetch.ts";
import type { Services } from "../../lib/services.ts";

Deno.test("errorText reads an endless error answer only to its cap, and stops the upstream", async () => {
  let cancelled = false;
  const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
  const body = new ReadableStream<Uint8Array>({
    pull: (ctrl) => ctrl.enqueue(chunk),
    cancel: () => {
      cancelled = true;
    },
  });
  const text = await errorText(new Response(body, { status: 500 }));
  assert.equal(text.length, 256 * 1024);
  assert.ok(cancelled, "the rest of the body is not read");
});

Deno.test("errorText keeps what came of a body that broke", async () => {
  let reads = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (reads++ === 0) ctrl.enqueue(new TextEncoder().encode('{"error":"over'));
      else ctrl.error(new Error("connection reset"));
    },
  });
  assert.equal(await errorText(new Response(body, { status: 529 })), '{"error":"over');
  assert.equal(await errorText(new Response(null, { status: 502 })), "");
});

Deno.test("answerJson holds no answer past 64 MB: an endless one is a fault, and its read stops", async () => {
  let cancelled = false;
  const chunk = new TextEncoder().encode(" ".repeat(1024 * 1024));
  const body = new ReadableStream<Uint8Array>({
    start: (ctrl) => ctrl.enqueue(new TextEncoder().encode('{"id":"x","pad":"')),
    pull: (ctrl) => ctrl.enqueue(chunk),
    cancel: () => {
      cancelled = true;
    },
  });
  const read = await answerJson(new Response(body, { status: 200 }));
  assert.ok("message" in read, "a failure");
  assert.match(read.message, /more than 64 MB/);
  assert.equal(read.keyFault, "transient");
  assert.ok(cancelled, "the rest of the body is not read");
  // An answer of its declared length is read as it is.
  const small = await answerJson(Response.json({ ok: true }));
  assert.deepEqual(small, { json: { ok: true } });
});

Deno.test("a network failure through fetch says why (its cause), not only 'fetch failed', and names no URL", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const err = await fetch(`http://127.0.0.1:${port}/v1?key=gateway-secret-123`).then(
    () => assert.fail("nothing listens there"),
    (e) => e,
  );
  const failure = networkFailure(new AbortController().signal, err);
  assert.match(failure.message, /^Could not reach the upstream: .*refused/i);
  assert.doesNotMatch(failure.message, /gateway-secret|127\.0\.0\.1/);
});

Deno.test("an upstream that cannot be reached is named by its origin, never its path or query", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const failure = await send(
    { fetch } as Services,
    {
      url: `http://user:pw@127.0.0.1:${port}/v1beta/models/x?key=AIza-secret`,
      headers: {},
      body: "{}",
    },
    5_000,
    undefined,
  );
  assert.ok("message" in failure, "a failure");
  assert.match(
    failure.message,
    new RegExp(`^Could not reach the upstream at http://127\\.0\\.0\\.1:${port}: `),
  );
  assert.doesNotMatch(failure.message, /AIza-secret|pw@|v1beta/);
  assert.equal(failure.keyFault, "transient");
});

Deno.test("a 404 for the path, not a model, is told apart: pages, OpenAI's Invalid URL, FastAPI's detail", () => {
  const url = "https://api.openai.com/api/v1/chat/completions";
  const wrongPath = [
    "<html><head><style>*{margin:0}</style><title>Error 404 (Not Found)!!1</title></head></html>",
    "404 page not found",
    "",
    '{"error":{"message":"Invalid URL (POST /api/v1/chat/completions)","type":"invalid_request_error","param":null,"code":null}}',
    '{"detail":"Not Found"}',
  ];
  for (const text of wrongPath) {
    const f = noApiAt(404, text, url);
    assert.ok(f, text);
    assert.equal(f.status, 502);
    assert.match(
      f.message,
      /^Upstream answered 404 at https:\/\/api\.openai\.com\/api\/v1\/chat\/completions/,
    );
    assert.match(f.message, /check the upstream's base URL$/);
    assert.doesNotMatch(f.message, /margin/, "no style sheet in the excerpt");
  }
  const modelMissing = [
    '{"error":{"message":"The model `gpt-9` does not exist or you do not have access to it.","type":"invalid_request_error","code":"model_not_found"}}',
    '{"error":{"code":404,"message":"models/gemini-9 is not found for API version v1beta","status":"NOT_FOUND"}}',
    '[{"error":{"code":404,"message":"models/gemini-9 is not found","status":"NOT_FOUND"}}]',
    '{"type":"error","error":{"type":"not_found_error","message":"model: claude-9"}}',
    '{"error":"model \\"llama9\\" not found, try pulling it first"}',
  ];
  for (const text of modelMissing) assert.equal(noApiAt(404, text, url), undefined, text);
  assert.equal(noApiAt(500, "<html></html>", url), undefined);
});
