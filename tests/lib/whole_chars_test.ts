import assert from "node:assert/strict";
import { sliceWhole } from "../../lib/whole_chars.ts";

Deno.test("sliceWhole keeps whole characters only", () => {
  assert.equal(sliceWhole("abc", 5), "abc");
  assert.equal(sliceWhole("abcdef", 3), "abc");
  assert.equal(sliceWhole("ab😀c", 3), "ab", "the emoji's first half is not kept alone");
  assert.equal(sliceWhole("ab😀c", 4), "ab😀");
});
