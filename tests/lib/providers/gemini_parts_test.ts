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

Deno.test("GIFs become PNGs within a budget per request: a few KB of GIF standing for megabytes of pixels, repeated, is named in a note past it", () => {
  // A GIF header of 1,500 × 1,500 pixels (2.25 MP): the budget is weighed before any decoding.
  const header = new Uint8Array([
    ...new TextEncoder().encode("GIF89a"),
    0xdc,
    0x05,
    0xdc,
    0x05,
    0x80,
    0,
    0,
    ...new Array(6).fill(0),
    0x2c,
    0,
    0,
    0,
    0,
    0xdc,
    0x05,
    0xdc,
    0x05,
    0,
    2,
    2,
    0x4c,
    0x01,
    0,
    0x3b,
  ]);
  const gif = header.toBase64();
  const image = { type: "image", source: { type: "base64", media_type: "image/gif", data: gif } };
  const started = performance.now();
  const body = build({
    messages: [{ role: "user", content: Array.from({ length: 40 }, () => image) }],
  } as Any);
  const ms = performance.now() - started;
  const parts = body.contents[0].parts;
  // 4 MP a request: the first one (2.25 MP) is converted, the next ones are notes.
  assert.equal(parts[0].inlineData.mimeType, "image/png");
  assert.equal(parts.filter((p: Any) => p.inlineData).length, 1);
  assert.match(parts[1].text, /A GIF image was attached here; Gemini does not accept GIF images/);
  assert.equal(checkGeminiRequest(body), undefined);
  assert.ok(JSON.stringify(body).length < 4_000_000, "the request stays small");
  assert.ok(ms < 2_000, `took ${Math.round(ms)} ms`);
});
