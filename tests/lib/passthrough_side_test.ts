// The passthrough side of a stream: whole frames only, the end it sees, and what it retries.
import assert from "node:assert/strict";
import { PassthroughSide } from "../../lib/passthrough_side.ts";
import { anthropicProvider } from "../../lib/providers/anthropic.ts";
import type { RequestRecord } from "../../lib/request_record.ts";
import { COMPLETE, type Ctrl, ResponseCapture, SENT } from "../../lib/stream_side.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const frame = (event: string, data: unknown) =>
  `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

const START = frame("message_start", {
  type: "message_start",
  message: { id: "msg_1", usage: { input_tokens: 7, output_tokens: 1 } },
});
const DELTA = frame("message_delta", {
  type: "message_delta",
  delta: { stop_reason: "end_turn" },
  usage: { output_tokens: 5 },
});
const STOP = frame("message_stop", { type: "message_stop" });

function setup(capture?: ResponseCapture) {
  const rec = { attempts: [] } as unknown as RequestRecord;
  const side = new PassthroughSide(
    anthropicProvider,
    new Headers(),
    rec,
    (t) => t.replaceAll("sk-secret-key", "sk-***"),
    "req_1",
    capture,
  );
  const sent: string[] = [];
  const ctrl = {
    enqueue: (b: Uint8Array) => void sent.push(new TextDecoder().decode(b)),
  } as unknown as Ctrl;
  return { side, rec, sent, ctrl };
}

Deno.test("an event cut across chunks reaches the client whole, and only then may a ping follow", () => {
  const { side, sent, ctrl } = setup();
  assert.equal(side.hold(bytes(START)), true);
  assert.equal(side.start(ctrl), false);
  assert.deepEqual(sent, [START]);
  const cut = DELTA.length - 10;
  assert.equal(side.relay(ctrl, bytes(DELTA.slice(0, cut))), 0);
  assert.deepEqual(sent, [START], "half an event is held back");
  assert.equal(side.relay(ctrl, bytes(DELTA.slice(cut) + STOP.slice(0, 5))), SENT);
  assert.deepEqual(sent, [START, DELTA]);
  assert.equal(side.pingable, true);
  assert.equal(side.relay(ctrl, bytes(STOP.slice(5))), SENT | COMPLETE);
  assert.equal(sent.join(""), START + DELTA + STOP);
});

Deno.test("no ping before the first whole event", () => {
  const { side, ctrl } = setup();
  side.hold(bytes(START.slice(0, 10)));
  side.start(ctrl);
  assert.equal(side.pingable, false);
});

Deno.test("usage and the stop reason are read off the events for the record", () => {
  const { side, rec, ctrl } = setup();
  side.hold(bytes(START));
  side.start(ctrl);
  side.relay(ctrl, bytes(DELTA + STOP));
  assert.equal(rec.stopReason, "end_turn");
  assert.deepEqual(rec.usage, { input_tokens: 7, output_tokens: 5 });
});

Deno.test("an error as the first event is a failure another key may answer", () => {
  const { side } = setup();
  side.hold(bytes(frame("error", {
    type: "error",
    error: { type: "overloaded_error", message: "Overloaded" },
  })));
  const failure = side.retryable();
  assert.equal(failure?.status, 529);
  assert.equal(failure?.type, "overloaded_error");
});

Deno.test("an upstream that closes before a whole event, or before message_stop, is a 502", () => {
  const early = setup();
  early.side.hold(bytes("event: mess"));
  assert.equal(early.side.holdEnded()?.status, 502);
  const cut = setup();
  cut.side.hold(bytes(START));
  cut.side.start(cut.ctrl);
  assert.match(cut.side.end(cut.ctrl)?.message ?? "", /before message_stop/);
});

Deno.test("a closing error event that quotes the key goes out masked, and is the answer's failure", () => {
  const { side, sent, ctrl } = setup();
  side.hold(bytes(START));
  side.start(ctrl);
  const error = frame("error", {
    type: "error",
    error: { type: "api_error", message: "bad key sk-secret-key" },
  });
  assert.equal(side.relay(ctrl, bytes(error)), SENT | COMPLETE);
  assert.ok(!sent.join("").includes("sk-secret-key"));
  assert.equal(side.end(ctrl), undefined);
  assert.equal(side.failure()?.type, "api_error");
});

Deno.test("with ENABLE_RESPONSE_LOGS the request log keeps the stream the client got", () => {
  const capture = new ResponseCapture(100_000);
  const { side, sent, ctrl } = setup(capture);
  side.hold(bytes(START));
  side.start(ctrl);
  side.relay(ctrl, bytes(DELTA + STOP.slice(0, 5)));
  side.relay(ctrl, bytes(STOP.slice(5)));
  assert.equal(capture.text, sent.join(""));
  assert.equal(capture.text, START + DELTA + STOP);
});

Deno.test("nothing an upstream sends after message_stop reaches the client, even in the same read", () => {
  const { side, sent, ctrl } = setup();
  side.hold(bytes(START));
  side.start(ctrl);
  const after = "event: weird\ndata: after the end\n\n" + START;
  assert.equal(side.relay(ctrl, bytes(DELTA + STOP + after)), SENT | COMPLETE);
  assert.equal(sent.join(""), START + DELTA + STOP);
});

Deno.test("a last event without its blank line still reaches the client, whole", () => {
  const { side, sent, ctrl } = setup();
  side.hold(bytes(START));
  side.start(ctrl);
  side.relay(ctrl, bytes(DELTA + STOP.trimEnd()));
  assert.equal(side.end(ctrl), undefined);
  assert.equal(sent.join(""), START + DELTA + STOP);
});

Deno.test("a stream whose lines end in CR alone is relayed event by event", () => {
  const cr = (s: string) => s.replaceAll("\n", "\r");
  const { side, sent, ctrl } = setup();
  assert.equal(side.hold(bytes(cr(START))), true);
  assert.equal(side.start(ctrl), false);
  assert.deepEqual(sent, [cr(START)]);
  assert.equal(side.relay(ctrl, bytes(cr(DELTA + STOP))), SENT | COMPLETE);
  assert.equal(sent.join(""), cr(START + DELTA + STOP));
});

Deno.test("a message_stop cut short in its data is no end: the stream ends with an error", () => {
  const { side, sent, ctrl } = setup();
  side.hold(bytes(START));
  side.start(ctrl);
  side.relay(ctrl, bytes(DELTA + STOP.slice(0, -8)));
  assert.match(side.end(ctrl)?.message ?? "", /before message_stop/);
  assert.equal(sent.join(""), START + DELTA);
});
