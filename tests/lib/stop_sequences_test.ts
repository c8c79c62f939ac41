import assert from "node:assert/strict";
import { cutAtStop, localStops, StopScanner } from "../../lib/stop_sequences.ts";

/** The text a scanner lets out for `text` cut into the given pieces, and the stop it met. */
function scan(stops: string[], pieces: string[]): [string, string | null] {
  const scanner = new StopScanner(stops);
  let out = "";
  for (const p of pieces) out += scanner.push(p);
  if (scanner.hit === null) out += scanner.release();
  return [out, scanner.hit];
}

Deno.test("stop sequences: however the text is cut, the answer ends before the first one met", () => {
  const cases: Array<[string, string[], string, string | null]> = [
    ["Hello world. END more END", ["END"], "Hello world. ", "END"],
    ["abcabd", ["abd"], "abc", "abd"],
    ["aaab", ["aab"], "a", "aab"],
    ["one two three", ["three", "two"], "one ", "two"],
    ["no stop here, E", ["END"], "no stop here, E", null],
    ["héllo 😀 wörld", ["😀"], "héllo ", "😀"],
    ["", ["x"], "", null],
  ];
  for (const [text, stops, before, hit] of cases) {
    assert.deepEqual(cutAtStop(text, stops), { text: before, hit }, text);
    assert.deepEqual(scan(stops, [text]), [before, hit], text);
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        const pieces = [text.slice(0, i), text.slice(i, j), text.slice(j)];
        assert.deepEqual(scan(stops, pieces), [before, hit], `${text} at ${i},${j}`);
      }
    }
  }
});

Deno.test("stop sequences: only what may begin one is held back", () => {
  const scanner = new StopScanner(["</answer>"]);
  assert.equal(scanner.push("done </an"), "done ");
  assert.equal(scanner.push("d more"), "</and more");
  assert.equal(scanner.push("<"), "");
  assert.equal(scanner.release(), "<");
  assert.equal(scanner.hit, null);
});

Deno.test("stop sequences: the proxy applies at most 256 itself, 16 KB in all; more is the request's fault", () => {
  assert.deepEqual(localStops(["a", "b"]), ["a", "b"]);
  assert.equal(localStops(Array.from({ length: 256 }, (_, i) => `s${i}`)).length, 256);
  assert.throws(() => localStops(Array.from({ length: 257 }, (_, i) => `s${i}`)), /at most 256/);
  assert.throws(
    () => localStops(["x".repeat(16_385)]),
    (e: Error & { status?: number }) => e.status === 400,
  );
});
