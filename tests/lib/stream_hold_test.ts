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
  const held = await holdFirstEvent(up.reader, s);
  assert.deepEqual(held, {});
  assert.deepEqual(s.held, ["partial", "begin"]);
  assert.equal(text.decode((await up.reader.read()).value), "after");
});

Deno.test("an upstream that ends before its first event gives the side's failure, to retry", async () => {
  const up = upstream();
  const failure: UpstreamFailure = { status: 502, type: "api_error", message: "nothing came" };
  up.send("partial");
  up.close();
  const held = await holdFirstEvent(up.reader, side(failure));
  assert.deepEqual(held, { failure });
});

Deno.test("an upstream that ends with an answer side says is whole is no failure", async () => {
  const up = upstream();
  up.close();
  assert.deepEqual(await holdFirstEvent(up.reader, side()), {});
});

Deno.test("a broken upstream read is thrown to the caller", async () => {
  const stream = new ReadableStream<Uint8Array>({ pull: (c) => c.error(new Error("reset")) });
  await assert.rejects(
    holdFirstEvent(stream.getReader(), side()),
    /reset/,
  );
});
