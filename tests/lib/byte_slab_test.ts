// Bytes carved from shared blocks: each part is its text's UTF-8 and stays so while later parts
// are written, whoever holds it.
import assert from "node:assert/strict";
import { encodeCarved } from "../../lib/byte_slab.ts";

const encoder = new TextEncoder();

Deno.test("carved parts keep their bytes while many more are written after them", () => {
  const texts = Array.from(
    { length: 3000 },
    (_, i) =>
      `event: content_block_delta\ndata: {"index":${i},"text":"é 漢 🙂 ${"x".repeat(i % 97)}"}\n\n`,
  );
  const parts = texts.map(encodeCarved);
  texts.forEach((text, i) => assert.deepEqual(parts[i], encoder.encode(text)));
});

Deno.test("carved text is the UTF-8 TextEncoder makes, lone surrogates and empty text included", () => {
  for (const text of ["", "a", "\ud800", "x\udc00y", "🙂".repeat(1000), "é".repeat(5000)]) {
    assert.deepEqual(encodeCarved(text), encoder.encode(text));
  }
});

Deno.test("a part whose buffer someone transferred leaves later parts whole", () => {
  const first = encodeCarved("first");
  const moved = first.buffer.transfer();
  assert.equal(moved.byteLength > 0, true);
  assert.deepEqual(encodeCarved("second"), encoder.encode("second"));
});
