import assert from "node:assert/strict";
import { exactUtf8 } from "../../lib/utf8_exact.ts";

const bytes = (...b: number[]) => new Uint8Array(b);
const utf8 = (text: string) => new TextEncoder().encode(text);

Deno.test("exactUtf8 reads UTF-8 text, the replacement character included", () => {
  assert.equal(
    exactUtf8(utf8('data: {"a":"héllo 你好 😀"}\n\n')),
    'data: {"a":"héllo 你好 😀"}\n\n',
  );
  // U+FFFD written by the upstream itself is text, not a sign of bad bytes.
  assert.equal(exactUtf8(utf8("a\uFFFDb")), "a\uFFFDb");
  assert.equal(exactUtf8(bytes()), "");
});

Deno.test("exactUtf8 refuses bytes that are no UTF-8 rather than changing them", () => {
  assert.equal(exactUtf8(bytes(0x61, 0xff, 0x62)), undefined);
  assert.equal(exactUtf8(bytes(0x61, 0xe4, 0xbd)), undefined, "a character cut short");
  assert.equal(exactUtf8(bytes(0xed, 0xa0, 0x80)), undefined, "a surrogate's encoding");
  assert.equal(exactUtf8(new Uint8Array([...utf8("\uFFFD"), 0xc3])), undefined);
});

Deno.test("exactUtf8 keeps a byte order mark as text", () => {
  assert.equal(exactUtf8(bytes(0xef, 0xbb, 0xbf, 0x61)), "\uFEFFa");
});
