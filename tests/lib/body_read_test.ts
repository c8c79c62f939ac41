import assert from "node:assert/strict";
import { readUpTo } from "../../lib/body_read.ts";

/** A body of `total` bytes (each its index mod 251) in pieces of `piece`. */
function body(total: number, piece = 65_536): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(c) {
      if (sent >= total) return c.close();
      const n = Math.min(piece, total - sent);
      c.enqueue(Uint8Array.from({ length: n }, (_, i) => (sent + i) % 251));
      sent += n;
    },
  });
}

const intact = (bytes: Uint8Array) => bytes.every((b, i) => b === i % 251);

Deno.test("readUpTo: a body read whole, its declared length taken once a megabyte came or not", async () => {
  for (const expected of [0, 3_000_000, 10, 50_000_000]) {
    const { bytes, complete } = await readUpTo(body(3_000_000), 8_000_000, false, expected);
    assert.equal(complete, true, `declared ${expected}`);
    assert.equal(bytes.length, 3_000_000);
    assert.ok(intact(bytes), `declared ${expected}: the bytes as sent`);
  }
});

Deno.test("readUpTo: past the limit the read stops, what fits kept, whatever length was declared", async () => {
  for (const expected of [0, 3_000_000]) {
    const { bytes, complete } = await readUpTo(body(3_000_000), 2_000_000, false, expected);
    assert.equal(complete, false);
    assert.equal(bytes.length, 2_000_000);
    assert.ok(intact(bytes));
  }
});
