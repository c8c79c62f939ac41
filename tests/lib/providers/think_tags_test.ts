import assert from "node:assert/strict";
import { type Piece, splitThinkTags, ThinkTagSplitter } from "../../../lib/providers/think_tags.ts";

function run(chunks: string[]): Array<[string, string]> {
  const s = new ThinkTagSplitter();
  const out: Array<[string, string]> = [];
  for (const c of chunks) out.push(...s.push(c));
  out.push(...s.flush());
  // Merge neighbours of one kind: how they are cut does not matter to the client.
  return out.reduce<Array<[string, string]>>((acc, [k, t]) => {
    const last = acc[acc.length - 1];
    if (last && last[0] === k) last[1] += t;
    else acc.push([k, t]);
    return acc;
  }, []);
}

Deno.test("think tags: reasoning opening the answer is split from the text, however it is cut", () => {
  const whole = "<think>\nLet me see.\n</think>\n\nThe answer is 4.";
  for (let cut = 1; cut < whole.length; cut++) {
    assert.deepEqual(run([whole.slice(0, cut), whole.slice(cut)]), [
      ["thinking", "\nLet me see.\n"],
      ["text", "The answer is 4."],
    ], `cut at ${cut}`);
  }
  assert.deepEqual(run([...whole]), [["thinking", "\nLet me see.\n"], [
    "text",
    "The answer is 4.",
  ]]);
});

Deno.test("think tags: text without them, or with them later, stays text", () => {
  assert.deepEqual(run(["Hello", " <think>not reasoning</think>"]), [
    ["text", "Hello <think>not reasoning</think>"],
  ]);
  assert.deepEqual(run(["<thi", "s is text"]), [["text", "<this is text"]]);
  assert.deepEqual(run(["<think>cut short"]), [["thinking", "cut short"]]);
  assert.deepEqual(splitThinkTags("  <think>a</think>b"), { thinking: "a", text: "b" });
  assert.deepEqual(splitThinkTags("plain"), { thinking: "", text: "plain" });
});

Deno.test("think tags: blanks before the answer, thousands of chunks of them, are taken a chunk at a time", () => {
  for (const next of ["<think>why</think>hello", "hello"]) {
    const splitter = new ThinkTagSplitter();
    const pieces: Piece[] = [];
    const blank = " ".repeat(1_000);
    const started = performance.now();
    for (let i = 0; i < 5_000; i++) pieces.push(...splitter.push(blank));
    pieces.push(...splitter.push(next), ...splitter.flush());
    // Trimmed whole at each chunk, 4,000 of them took seconds.
    assert.ok(performance.now() - started < 2_000);
    const text = pieces.filter(([k]) => k === "text").map(([, t]) => t).join("");
    const thinking = pieces.filter(([k]) => k === "thinking").map(([, t]) => t).join("");
    if (next === "hello") assert.equal(text, blank.repeat(5_000) + "hello");
    else assert.deepEqual([thinking, text], ["why", "hello"]);
  }
});
