// The hold before a streamed answer's headers: what ends it, and that no byte is lost across it.
import assert from "node:assert/strict";
import type { UpstreamFailure } from "../../lib/providers/types.ts";
import { holdFirstEvent } from "../../lib/stream_hold.ts";
import type { StreamSide } from "../../lib/stream_side.ts";

const decoder = new TextDecoder();
const text = {
  decode: (piece?: Uint8Array | string) =>
    typeof piece === "string" ? piece : decoder.decode(piece),
};

/** A side that takes chunks until one says "begin"; its other parts are not reached in the hold. */
function side(ended?: UpstreamFailure): StreamSide & { held: string[] } {
  const held: string[] = [];
  return {
    held,
    hold: (chunk) => held.push(text.decode(chunk)) > 0 && text.decode(chunk) === "begin",
    holdEnded: () => ended,
    retryable: () => undefined,
    start: () => false,
    relay: () => 0,
    end: () => undefined,
    pingable: false,
    errorFrame: () => "",
    record: () => {},
    failure: () => undefined,
  };
}

function upstream() {
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (ctrl = c) });
  const send = (s: string) => ctrl.enqueue(new TextEncoder().encode(s));
  return { reader: stream.getReader(), send, close: () => ctrl.close() };
}

Deno.test("the hold ends at the first event, and what follows is left for the answer", async () => {
  const up = upstream();
  const s = side();
  up.send("partial");
  up.send("begin");
  up.send("after");
  const held = await holdFirstEvent(up.reader, s, Date.now() + 5_000, 50, Date.now);
  assert.deepEqual(held, {});
  assert.deepEqual(s.held, ["partial", "begin"]);
  assert.equal(text.decode((await up.reader.read()).value), "after");
});

Deno.test("an upstream that ends before its first event gives the side's failure, to retry", async () => {
  const up = upstream();
  const failure: UpstreamFailure = { status: 502, type: "api_error", message: "nothing came" };
  up.send("partial");
  up.close();
  const held = await holdFirstEvent(up.reader, side(failure), Date.now() + 5_000, 50, Date.now);
  assert.deepEqual(held, { failure });
});

Deno.test("an upstream that ends with an answer side says is whole is no failure", async () => {
  const up = upstream();
  up.close();
  assert.deepEqual(await holdFirstEvent(up.reader, side(), Date.now() + 5_000, 50, Date.now), {});
});

Deno.test("past the deadline the read still waiting is handed on, so its bytes are not lost", async () => {
  const up = upstream();
  const started = Date.now();
  // The streams' shared interval does not keep the process alive; a server would.
  const alive = setTimeout(() => {}, 5_000);
  const held = await holdFirstEvent(up.reader, side(), started + 120, 50, Date.now);
  clearTimeout(alive);
  assert.ok(Date.now() - started >= 120, "the hold lasted until its deadline");
  assert.ok("pendingRead" in held && held.pendingRead);
  up.send("late");
  assert.equal(text.decode((await held.pendingRead).value), "late");
});

Deno.test("a broken upstream read is thrown to the caller", async () => {
  const stream = new ReadableStream<Uint8Array>({ pull: (c) => c.error(new Error("reset")) });
  await assert.rejects(
    holdFirstEvent(stream.getReader(), side(), Date.now() + 5_000, 50, Date.now),
    /reset/,
  );
});

Deno.test("a read handed on past the deadline that fails unread (the client left first) takes no process down", async () => {
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (ctrl = c) });
  // Its head came after the ping interval: the hold is over before it begins.
  const held = await holdFirstEvent(stream.getReader(), side(), Date.now() - 1, 50, Date.now);
  assert.ok("pendingRead" in held && held.pendingRead);
  ctrl.error(new DOMException("client closed", "AbortError"));
  // An unhandled rejection would fail this test (and, in the server, end the process).
  await new Promise((r) => setTimeout(r, 50));
});
