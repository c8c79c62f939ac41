import assert from "node:assert/strict";
import {
  callSignature,
  extraContentFor,
  signatureIn,
  withSignature,
} from "../../../lib/providers/openai_thought_signatures.ts";

Deno.test("a call's signature rides in the client's id as id characters and comes back whole", () => {
  const signature = btoa("\xfb\xff\xbe thought signature bytes \xff\xbf!");
  assert.match(signature, /[+/].*=$/, "a signature using every base64 character class");
  const id = withSignature(
    "function-call-7",
    callSignature({
      id: "function-call-7",
      extra_content: { google: { thought_signature: signature } },
    }),
  );
  assert.match(id, /^function-call-7__gts[A-Za-z0-9_-]+$/);
  assert.equal(signatureIn(id), signature);
  assert.deepEqual(extraContentFor(id, false, true), {
    google: { thought_signature: signature },
  });
  // Another server (the conversation moved on, or a fallback took it) is sent none.
  assert.equal(extraContentFor(id, true, false), undefined);
});

Deno.test("no signature, one that is no base64 or one too long to carry: the id stays as it was", () => {
  assert.equal(callSignature({ id: "c" }), undefined);
  assert.equal(
    callSignature({ extra_content: { google: { thought_signature: "not base64!" } } }),
    undefined,
  );
  assert.equal(withSignature("c", undefined), "c");
  assert.equal(withSignature("c", "A".repeat(8000)), "c");
  assert.equal(signatureIn("toolu_01ABC"), undefined);
  assert.equal(extraContentFor("toolu_01ABC", true, false), undefined);
  assert.equal(extraContentFor("toolu_01ABC", false, true), undefined);
  // An id whose carried part is empty or no base64url is treated as carrying none.
  for (const id of ["call_1__gts", "call_1__gts!!", "call_1__gts a"]) {
    assert.equal(signatureIn(id), undefined, id);
    assert.deepEqual(extraContentFor(id, true, true), {
      google: { thought_signature: "skip_thought_signature_validator" },
    });
  }
});
