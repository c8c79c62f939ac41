import assert from "node:assert/strict";
import { errorText } from "../../lib/upstream_fetch.ts";

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
