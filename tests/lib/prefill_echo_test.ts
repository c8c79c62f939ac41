import assert from "node:assert/strict";
import type { MessagesRequest } from "../../lib/anthropic.ts";
import { PrefillEcho, prefillOf, withoutPrefill } from "../../lib/prefill_echo.ts";

/** What a client receives of `text` cut into pieces at i and j. */
function streamed(prefill: string, text: string, i: number, j: number): string {
  const echo = new PrefillEcho(prefill);
  const out = [text.slice(0, i), text.slice(i, j), text.slice(j)].map((p) => echo.push(p));
  return out.join("") + echo.release();
}

Deno.test("prefill: an answer that writes the prefill again loses it, however it streams", () => {
  const prefill = '{"answer":';
  const cases: Array<[string, string]> = [
    ['{"answer": 42}', " 42}"],
    ['\n{"answer": 42}', " 42}"],
    [" 42}", " 42}"],
    ['Sure! {"answer": 42}', 'Sure! {"answer": 42}'],
    ['{"ans', '{"ans'],
    ['{"answer":', ""],
    ["", ""],
  ];
  for (const [text, expected] of cases) {
    assert.equal(withoutPrefill(text, prefill), expected, text);
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        assert.equal(streamed(prefill, text, i, j), expected, `${text} at ${i},${j}`);
      }
    }
  }
});

Deno.test("prefill: only a last assistant message of text is one", () => {
  const body = (messages: unknown[]) =>
    ({ model: "m", max_tokens: 1, messages }) as MessagesRequest;
  const user = { role: "user", content: "hi" };
  assert.equal(prefillOf(body([user, { role: "assistant", content: " {\n" }])), "{");
  assert.equal(
    prefillOf(body([user, {
      role: "assistant",
      content: [{ type: "text", text: "<a>" }, { type: "text", text: "b" }],
    }])),
    "<a>b",
  );
  assert.equal(prefillOf(body([user])), "");
  assert.equal(
    prefillOf(body([user, {
      role: "assistant",
      content: [{ type: "text", text: "x" }, { type: "tool_use", id: "t", name: "n", input: {} }],
    }])),
    "",
  );
});

Deno.test("prefill: a long prefill written again ten characters a chunk is compared a chunk at a time", () => {
  const prefill = "a".repeat(200_000) + "!";
  const echo = new PrefillEcho(prefill);
  const started = performance.now();
  let out = "";
  for (let i = 0; i < 20_000; i++) out += echo.push("aaaaaaaaaa");
  out += echo.push("! and then the rest");
  // All of it compared again at each chunk, 200 KB took seconds.
  assert.ok(performance.now() - started < 2_000);
  assert.equal(out + echo.release(), " and then the rest");
});
