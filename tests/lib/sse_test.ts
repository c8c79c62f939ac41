import assert from "node:assert/strict";
import { createSseDecoder, type SseMessage } from "../../lib/sse.ts";

const encoder = new TextEncoder();

/** Decodes `chunks` (each fed as it is) into the events and the bare JSON objects met. */
function decode(chunks: string[], withHook = true): { events: SseMessage[]; json: unknown[] } {
  const events: SseMessage[] = [];
  const json: unknown[] = [];
  const decoder = createSseDecoder(
    (ev) => events.push(ev),
    withHook ? (value) => json.push(value) : undefined,
  );
  for (const c of chunks) decoder.feed(encoder.encode(c));
  decoder.flush();
  return { events, json };
}

/** Every way of cutting `text` in two. */
function splits(text: string): string[][] {
  return Array.from({ length: text.length + 1 }, (_, i) => [text.slice(0, i), text.slice(i)]);
}

const ERROR = {
  error: {
    code: 429,
    message: "Resource has been exhausted (e.g. check quota).",
    status: "RESOURCE_EXHAUSTED",
    details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "31s" }],
  },
};

Deno.test("createSseDecoder hands a JSON object written outside data: lines to the hook", () => {
  const text = `data:{"n":1}\r\n\r\n${JSON.stringify(ERROR)}`;
  for (const chunks of [[text], ...splits(text)]) {
    const { events, json } = decode(chunks);
    assert.deepEqual(events.map((e) => e.data), ['{"n":1}'], JSON.stringify(chunks));
    assert.deepEqual(json, [ERROR], JSON.stringify(chunks));
  }
});

Deno.test("createSseDecoder reads a pretty-printed object across lines and chunks", () => {
  const text = `data: {"n":1}\n\n${JSON.stringify(ERROR, null, 2)}\n`;
  for (const chunks of splits(text)) {
    const { events, json } = decode(chunks);
    assert.deepEqual(events.map((e) => e.data), ['{"n":1}']);
    assert.deepEqual(json, [ERROR], JSON.stringify(chunks));
  }
  // Split into many small pieces, as a slow connection delivers it.
  const pieces = text.match(/[\s\S]{1,7}/g)!;
  assert.deepEqual(decode(pieces).json, [ERROR]);
});

Deno.test("createSseDecoder keeps its events as before, with or without the hook", () => {
  const text = 'event: a\ndata: {"x":\ndata: 1}\n\n: comment\nid: 7\ndata: plain\n\nretry: 5\n\n' +
    `data: ${JSON.stringify({ text: "a\u00e9" })}\r\n\r\n`;
  const expected = [
    { event: "a", id: undefined, data: '{"x":\n1}' },
    { event: undefined, id: "7", data: "plain" },
    { event: undefined, id: undefined, data: '{"text":"a\u00e9"}' },
  ];
  for (const hook of [true, false]) {
    for (const chunks of [[text], ...splits(text)]) {
      const { events, json } = decode(chunks, hook);
      assert.deepEqual(events, expected);
      assert.deepEqual(json, []);
    }
  }
  // Without the hook a bare object is dropped, as it always was.
  assert.deepEqual(decode([`data: 1\n\n${JSON.stringify(ERROR)}`], false).events, [
    { event: undefined, id: undefined, data: "1" },
  ]);
  // Lines that are no JSON object, or one never finished, hand nothing over.
  assert.deepEqual(decode(["oops\n[1]\n{broken\n\ndata: 2\n\n"]).json, []);
  assert.deepEqual(decode(["data: 2\n\n"]).events.length, 1);
});

/** The `data` of each event, the bytes fed in the pieces `cuts` makes of them. */
function dataOf(bytes: Uint8Array, cuts: number[], withHook: boolean): string[] {
  const data: string[] = [];
  const decoder = createSseDecoder((ev) => data.push(ev.data), withHook ? () => {} : undefined);
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    decoder.feed(bytes.subarray(at, cut));
    at = cut;
  }
  decoder.flush();
  return data;
}

Deno.test("createSseDecoder reads UTF-8 the same however the bytes are cut", () => {
  // A byte order mark opens the stream (dropped) and sits inside a value (kept); characters of
  // 2, 3 and 4 bytes; a broken sequence the decoder replaces; and a last character cut short.
  const bytes = new Uint8Array([
    ...encoder.encode("\ufeffdata: a\u00e9\n\ndata: \ufeffb \u6f22 \u{1f642}"),
    0xf0,
    0x41,
    ...encoder.encode("\n\ndata: \u00e9\ufeff"),
    0xe6,
    0xbc,
  ]);
  const expected = ["a\u00e9", "\ufeffb \u6f22 \u{1f642}\ufffdA", "\u00e9\ufeff\ufffd"];
  for (const withHook of [false, true]) {
    assert.deepEqual(dataOf(bytes, [], withHook), expected);
    for (let i = 0; i <= bytes.length; i++) {
      assert.deepEqual(dataOf(bytes, [i], withHook), expected, `cut at ${i}`);
      for (let j = i; j <= bytes.length; j += 3) {
        assert.deepEqual(dataOf(bytes, [i, j], withHook), expected, `cuts at ${i}, ${j}`);
      }
    }
    const everyByte = Array.from({ length: bytes.length }, (_, i) => i);
    assert.deepEqual(dataOf(bytes, everyByte, withHook), expected);
  }
});

Deno.test("createSseDecoder keeps a U+FEFF of the text that a read begins with", () => {
  const bytes = encoder.encode('data: {"t":"x\ufeffy"}\n\ndata: [DONE]\n\n');
  const at = 13;
  assert.deepEqual([...bytes.subarray(at, at + 3)], [0xef, 0xbb, 0xbf]);
  for (const withHook of [false, true]) {
    assert.deepEqual(dataOf(bytes, [at, at + 3], withHook), ['{"t":"x\ufeffy"}', "[DONE]"]);
  }
});

Deno.test("createSseDecoder reads a bare object of 10,000 lines, each ending in }, once, when it closes", () => {
  const lines = ['{"a":[0', ...Array.from({ length: 10_000 }, () => ",{}"), '],"b":"}"}'];
  const started = performance.now();
  const { json } = decode([lines.join("\n") + "\n"]);
  // Parsed whole at every line ending in "}", it took seconds.
  assert.ok(performance.now() - started < 2_000);
  assert.equal(json.length, 1);
  assert.equal((json[0] as { a: unknown[] }).a.length, 10_001);
  // A "}" inside a string does not close it.
  const pretty = decode(['{\n"note": "a } here",\n"n": 1\n}\n']).json;
  assert.deepEqual(pretty, [{ note: "a } here", n: 1 }]);
});
