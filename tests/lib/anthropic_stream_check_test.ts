// The check of the events a passed-through stream sends clients: what their SDKs could not read.
import assert from "node:assert/strict";
import { AnthropicStreamCheck } from "../../lib/anthropic_stream_check.ts";

const START = JSON.stringify({
  type: "message_start",
  message: { id: "msg_1", content: [], usage: { input_tokens: 1, output_tokens: 1 } },
});
const BLOCK = JSON.stringify({
  type: "content_block_start",
  index: 0,
  content_block: { type: "text", text: "" },
});
const DELTA = JSON.stringify({
  type: "content_block_delta",
  index: 0,
  delta: { type: "text_delta", text: "hi" },
});

function begun(): AnthropicStreamCheck {
  const check = new AnthropicStreamCheck();
  assert.equal(typeof check.check("message_start", START), "object");
  assert.equal(typeof check.check("content_block_start", BLOCK), "object");
  return check;
}

Deno.test("stream check: a well-formed stream passes, its deltas untouched by a parse", () => {
  const check = begun();
  assert.equal(check.started, true);
  assert.equal(check.check("content_block_delta", DELTA), undefined);
  const spaced =
    '{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}}';
  assert.deepEqual(check.check("content_block_delta", spaced), JSON.parse(spaced), "parsed");
  assert.equal(check.check("ping", "not json"), undefined, "clients skip pings unread");
  assert.equal(check.check("vendor_event", "{"), undefined, "and names they do not know");
  const stop = check.check("message_delta", '{"type":"message_delta","delta":{},"usage":{}}');
  assert.equal(typeof stop, "object");
  assert.deepEqual(check.check("message_stop", '{"type":"message_stop"}'), {
    type: "message_stop",
  });
});

Deno.test("stream check: what the SDKs could not read is named", () => {
  const cases: Array<[string, string, RegExp]> = [
    [
      "content_block_delta",
      DELTA.replace(",", "\uFFFD,"),
      /content_block_delta event that is not JSON/,
    ],
    ["content_block_delta", DELTA.slice(0, -3), /not JSON/],
    ["content_block_delta", DELTA.slice(0, -1), /not JSON/],
    ["content_block_delta", '{"type":"content_block_delta","index":0}', /without its delta/],
    ["content_block_delta", DELTA.replace('"hi"', '{"a":"hi"}'), /without its text/],
    ["content_block_start", DELTA, /content_block_start event of another type/],
    ["content_block_delta", DELTA.replace('"text":', '"te\uFFFDxt":'), /without its text/],
    ["message_start", START, /a second message_start/],
    ["message_delta", '{"type":"message_delta","usage":{"output_tokens":1}}', /without its delta/],
    ["error", "{", /an error event that is not JSON/],
  ];
  for (const [name, data, problem] of cases) {
    assert.match(String(begun().check(name, data)), problem, `${name}: ${data}`);
  }
  const error = '{"error":{"type":"overloaded_error","message":"Overloaded"}}';
  assert.deepEqual(begun().check("error", error), JSON.parse(error), "an error, type or not");
  const fresh = new AnthropicStreamCheck();
  assert.match(String(fresh.check("content_block_start", BLOCK)), /before message_start/);
  assert.match(String(fresh.check("message_start", '{"type":"message_start"}')), /its message/);
  assert.match(
    String(fresh.check("message_start", '{"type":"message_start","message":{"content":{}}}')),
    /without its content/,
  );
  const noBlock = new AnthropicStreamCheck();
  noBlock.check("message_start", START);
  assert.match(String(noBlock.check("content_block_delta", DELTA)), /before any block/);
});

Deno.test("stream check: usage the SDKs add to is mended to zero where it is missing, and says so", () => {
  const check = new AnthropicStreamCheck();
  const start = check.check("message_start", '{"type":"message_start","message":{"content":[]}}');
  assert.deepEqual(start, {
    type: "message_start",
    message: { content: [], usage: { input_tokens: 0, output_tokens: 0 } },
  });
  assert.equal(check.mended, true);
  const bare = new AnthropicStreamCheck().check(
    "message_start",
    '{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":3}}}',
  );
  assert.deepEqual(bare, {
    type: "message_start",
    message: { id: "msg_1", usage: { input_tokens: 3 }, content: [] },
  }, "a message_start without content gets the empty list the SDKs add blocks to");
  assert.deepEqual(
    (new AnthropicStreamCheck().check(
      "message_start",
      '{"type":"message_start","message":{"content":null,"usage":{}}}',
    ) as { message: unknown }).message,
    { content: [], usage: {} },
    "and so does one whose content is null",
  );
  assert.ok(typeof check.check("content_block_start", BLOCK) === "object");
  assert.equal(check.mended, false);
  const delta = check.check("message_delta", '{"type":"message_delta","delta":{}}');
  assert.deepEqual(delta, { type: "message_delta", delta: {}, usage: { output_tokens: 0 } });
  assert.equal(check.mended, true);
});

Deno.test("stream check: the output estimate counts the text, thinking and tool input sent, not signatures", () => {
  const delta = (type: string, field: string, text: string) =>
    JSON.stringify({ type: "content_block_delta", index: 0, delta: { type, [field]: text } });
  for (
    const [type, field] of [
      ["text_delta", "text"],
      ["thinking_delta", "thinking"],
      ["input_json_delta", "partial_json"],
    ]
  ) {
    const check = begun();
    // 1,000 characters in deltas of 5, as a tool's input streams.
    for (let i = 0; i < 200; i++) check.check("content_block_delta", delta(type, field, "abcde"));
    assert.equal(check.outputEstimate, 250, type);
    assert.equal(check.counted, false);
  }
  const check = begun();
  for (let i = 0; i < 50; i++) {
    check.check("content_block_delta", delta("signature_delta", "signature", "x".repeat(100)));
  }
  assert.equal(check.outputEstimate, 1, "message_start's count, no more");
  check.check("message_delta", '{"type":"message_delta","delta":{},"usage":{"output_tokens":9}}');
  assert.equal(check.counted, true);
});
