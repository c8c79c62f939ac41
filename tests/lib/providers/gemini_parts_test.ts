import assert from "node:assert/strict";
import { checkGeminiRequest } from "../../fakes/gemini_upstream.ts";
import { type Any, build } from "../../helpers/gemini_calls.ts";

Deno.test("an image URL whose extension is a built-in member name gets the default type", () => {
  const body = build({
    messages: [{
      role: "user",
      content: [
        { type: "image", source: { type: "url", url: "https://x.test/a.constructor" } },
        { type: "image", source: { type: "url", url: "https://x.test/b.toString?x=1" } },
      ],
    }],
  });
  assert.equal(checkGeminiRequest(body), undefined);
  assert.deepEqual(body.contents[0].parts, [
    { fileData: { mimeType: "image/jpeg", fileUri: "https://x.test/a.constructor" } },
    { fileData: { mimeType: "image/jpeg", fileUri: "https://x.test/b.toString?x=1" } },
  ]);
});

Deno.test("a text document's data is read in linear time, whatever the client put in it", () => {
  // Not base64 at all: a long run of padding before the end once took a quadratic regex.
  const data = "=".repeat(100_000) + "x";
  const started = performance.now();
  const body = build({
    messages: [{
      role: "user",
      content: [{ type: "document", source: { type: "base64", media_type: "text/plain", data } }],
    }],
  } as Any);
  const ms = performance.now() - started;
  assert.ok(ms < 500, `took ${Math.round(ms)} ms`);
  assert.deepEqual(body.contents[0].parts, [{ inlineData: { mimeType: "text/plain", data } }]);
});

Deno.test("an image's type Gemini names otherwise is renamed; one named like a built-in member is kept as it is", () => {
  const image = (media_type: string) => ({
    type: "image",
    source: { type: "base64", media_type, data: "iVBOR" },
  });
  const body = build({
    messages: [{ role: "user", content: [image("image/jpg"), image("constructor")] }],
  } as Any);
  assert.deepEqual(body.contents[0].parts, [
    { inlineData: { mimeType: "image/jpeg", data: "iVBOR" } },
    { inlineData: { mimeType: "constructor", data: "iVBOR" } },
  ]);
});
