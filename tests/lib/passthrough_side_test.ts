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
  message: { id: "msg_1", content: [], usage: { input_tokens: 7, output_tokens: 1 } },
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

Deno.test("a vendor's own error event mid-stream reaches the client in Anthropic's shape, masked", () => {
  const { side, sent, ctrl } = setup();
  side.hold(bytes(START));
  side.start(ctrl);
  // Zhipu's: a code and a message, no type for the SDK to read.
  const error = frame("error", {
    error: { code: "1301", message: "unsafe content; key sk-secret-key" },
  });
  assert.equal(side.relay(ctrl, bytes(error)), SENT | COMPLETE);
  const got = sent.join("");
  assert.ok(got.startsWith(START));
  const [, data] = /event: error\ndata: (.*)\n\n$/.exec(got.slice(START.length)) ?? [];
  assert.deepEqual(JSON.parse(data), {
    type: "error",
    error: { details: null, type: "api_error", message: "unsafe content; key sk-***" },
    request_id: "req_1",
  });
  assert.equal(side.end(ctrl), undefined);
  assert.match(side.failure()?.message ?? "", /unsafe content/);
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
  assert.match(side.end(ctrl)?.message ?? "", /a message_stop event that is not JSON/);
  assert.equal(sent.join(""), START + DELTA);
});

const TEXT_START = frame("content_block_start", {
  type: "content_block_start",
  index: 0,
  content_block: { type: "text", text: "" },
});
const TEXT = frame("content_block_delta", {
  type: "content_block_delta",
  index: 0,
  delta: { type: "text_delta", text: "hi" },
});

Deno.test("a garbled event in what was held is a failure another key may answer", () => {
  for (
    const garbled of [
      START.replace('"msg_1",', '"msg_1",\u00ff'),
      START + TEXT_START.replace('"type":"content_block_start"', '"type":"content_block_stat"'),
      START + TEXT,
      frame("content_block_start", { type: "content_block_start", index: 0 }) + START,
    ]
  ) {
    const { side } = setup();
    assert.equal(side.hold(bytes(garbled)), true, garbled);
    assert.match(side.retryable()?.message ?? "", /clients cannot read/, garbled);
    assert.equal(side.retryable()?.keyFault, "transient");
  }
});

Deno.test("a garbled event mid-stream ends the answer with an error event in its place", () => {
  const { side, sent, ctrl } = setup();
  side.hold(bytes(START + TEXT_START));
  side.start(ctrl);
  assert.equal(side.relay(ctrl, bytes(TEXT)), SENT);
  // U+FFFD inside a string is text like any other.
  const replaced = TEXT.replace('"hi"', '"h\uFFFDi"');
  assert.equal(side.relay(ctrl, bytes(replaced)), SENT);
  const broken = TEXT.replace('"text":"hi"', '"text":"hi"\uFFFD');
  assert.equal(side.relay(ctrl, bytes(TEXT + broken + DELTA + STOP)), SENT | COMPLETE);
  const got = sent.join("");
  assert.equal(got.indexOf(broken), -1);
  assert.ok(got.startsWith(START + TEXT_START + TEXT + replaced));
  assert.match(got, /event: error\ndata: .*a content_block_delta event that is not JSON.*\n\n$/);
  assert.match(side.failure()?.message ?? "", /clients cannot read/);
  assert.equal(side.end(ctrl), side.failure());
});

Deno.test("a second message_start, or a delta without its delta, is garbled; an event clients skip is not", () => {
  const second = setup();
  second.side.hold(bytes(START));
  second.side.start(second.ctrl);
  assert.equal(second.side.relay(second.ctrl, bytes(START)), SENT | COMPLETE);
  assert.match(second.side.failure()?.message ?? "", /a second message_start/);
  const noDelta = setup();
  noDelta.side.hold(bytes(START));
  noDelta.side.start(noDelta.ctrl);
  noDelta.side.relay(noDelta.ctrl, bytes(frame("message_delta", { type: "message_delta" })));
  assert.match(noDelta.side.failure()?.message ?? "", /without its delta/);
  const skipped = setup();
  skipped.side.hold(bytes(START));
  skipped.side.start(skipped.ctrl);
  const odd = "event: ping\ndata: not json\n\nevent: vendor_note\ndata: {\n\n";
  assert.equal(skipped.side.relay(skipped.ctrl, bytes(odd + DELTA + STOP)), SENT | COMPLETE);
  assert.equal(skipped.side.failure(), undefined);
  assert.equal(skipped.sent.join(""), START + odd + DELTA + STOP);
});

Deno.test("a closing error event without its blank line still reaches the client", () => {
  const { side, sent, ctrl } = setup();
  side.hold(bytes(START));
  side.start(ctrl);
  const error = frame("error", {
    type: "error",
    error: { type: "overloaded_error", message: "Overloaded" },
  });
  side.relay(ctrl, bytes(error.trimEnd()));
  assert.equal(side.end(ctrl), undefined);
  assert.equal(sent.join(""), START + error);
  assert.equal(side.failure()?.type, "overloaded_error");
});

Deno.test("nothing after an error event reaches the client, even in the same read", () => {
  const { side, sent, ctrl } = setup();
  side.hold(bytes(START + TEXT_START));
  side.start(ctrl);
  const error = frame("error", { type: "error", error: { type: "api_error", message: "x" } });
  const stop = frame("content_block_stop", { type: "content_block_stop", index: 0 });
  assert.equal(side.relay(ctrl, bytes(TEXT + error + stop + DELTA)), SENT | COMPLETE);
  assert.equal(sent.join(""), START + TEXT_START + TEXT + error);
  assert.equal(side.failure()?.type, "api_error");
});

Deno.test("a stream line that never ends is an upstream fault, not memory held without end", () => {
  const piece = bytes("x".repeat(4 << 20));
  // Before the answer began: another key may answer.
  const early = setup();
  assert.equal(early.side.hold(bytes("data: " + "x".repeat(1 << 20))), false);
  let begun = false;
  for (let i = 0; i < 17 && !begun; i++) begun = early.side.hold(piece);
  assert.equal(begun, true, "the hold ends with the fault");
  assert.match(early.side.retryable()!.message, /stream line longer than 64 M characters/);

  // After it began: the answer ends with an error event.
  const { side, sent, ctrl } = setup();
  side.hold(bytes(START));
  side.start(ctrl);
  let relayed = 0;
  for (let i = 0; i < 17 && !(relayed & COMPLETE); i++) {
    relayed = side.relay(ctrl, i ? piece : bytes("event: content_block_delta\ndata: {"));
  }
  assert.ok(relayed & COMPLETE);
  // Half of that line went out: it is ended before the error's own frame.
  assert.match(sent.at(-1)!, /^\n\nevent: error\ndata: .*stream line longer than 64 M/);
});

Deno.test("usage an SDK cannot do without is added where the upstream left it out (MiniMax's message_delta), the rest as it came", () => {
  const { side, sent, ctrl } = setup();
  const bareStart = frame("message_start", {
    type: "message_start",
    message: { id: "msg_1", content: [] },
  });
  side.hold(bytes(bareStart));
  side.start(ctrl);
  const text = frame("content_block_start", {
    type: "content_block_start",
    index: 0,
    content_block: { type: "text", text: "" },
  }) + frame("content_block_stop", { type: "content_block_stop", index: 0 });
  const bareDelta = frame("message_delta", {
    type: "message_delta",
    delta: { stop_reason: "end_turn", stop_sequence: null },
  });
  // The mended event arrives after others in the same read, the stop cut across two reads.
  side.relay(ctrl, bytes(text + bareDelta + STOP.slice(0, 9)));
  assert.equal(side.relay(ctrl, bytes(STOP.slice(9) + "data: [DONE]\n\n")), SENT | COMPLETE);
  assert.equal(side.end(ctrl), undefined);
  assert.equal(side.failure(), undefined);
  const out = sent.join("");
  assert.equal(
    out,
    frame("message_start", {
      type: "message_start",
      message: { id: "msg_1", content: [], usage: { input_tokens: 0, output_tokens: 0 } },
    }) + text + frame("message_delta", {
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: 0 },
    }) + STOP,
  );
});

Deno.test("a relay that writes no event: lines has each event named by its type", () => {
  const { side, sent, ctrl } = setup();
  const dataOnly = (f: string) => f.replace(/^event: [a-z_]+\n/, "");
  assert.equal(side.hold(bytes(dataOnly(START))), true, "its message_start is one");
  side.start(ctrl);
  const ping = 'data: {"type": "ping"}\n\n';
  side.relay(ctrl, bytes(ping + dataOnly(DELTA)));
  side.relay(ctrl, bytes(dataOnly(STOP).trimEnd()));
  assert.equal(side.end(ctrl), undefined);
  assert.equal(side.failure(), undefined);
  assert.equal(sent.join(""), START + 'event: ping\ndata: {"type": "ping"}\n\n' + DELTA + STOP);
});

Deno.test("mending starts after an event too long to hold began to go out as it came: its rest follows as it came, the events after it written anew", () => {
  const { side, sent, ctrl } = setup();
  side.hold(bytes(START));
  side.start(ctrl);
  const block = frame("content_block_start", {
    type: "content_block_start",
    index: 0,
    content_block: { type: "text", text: "" },
  });
  const huge = frame("content_block_delta", {
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text: "x".repeat(1_500_000) },
  });
  const bareDelta = frame("message_delta", {
    type: "message_delta",
    delta: { stop_reason: "end_turn", stop_sequence: null },
  });
  // Past the limit, then more of it in pieces held back, then its end with the mended event.
  side.relay(ctrl, bytes(block + huge.slice(0, 1_200_000)));
  for (let at = 1_200_000; at < 1_400_000; at += 16_384) {
    side.relay(ctrl, bytes(huge.slice(at, Math.min(at + 16_384, 1_400_000))));
  }
  side.relay(ctrl, bytes(huge.slice(1_400_000) + bareDelta + STOP));
  assert.equal(side.end(ctrl), undefined);
  assert.equal(side.failure(), undefined);
  const out = sent.join("");
  const tail = out.slice(START.length + block.length + huge.length);
  assert.equal(out.slice(0, START.length + block.length + huge.length), START + block + huge);
  // The estimate of the output: the text sent, four characters a token.
  assert.equal(
    tail,
    frame("message_delta", {
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: 375_000 },
    }) + STOP,
  );
});

Deno.test("events whose blank line is LF then CR are whole frames: mending starts after them without losing one", () => {
  const { side, sent, ctrl } = setup();
  const lfcr = (f: string) => f.replace(/\n\n$/, "\n\r");
  const block = frame("content_block_start", {
    type: "content_block_start",
    index: 0,
    content_block: { type: "text", text: "" },
  });
  const text = frame("content_block_delta", {
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text: "hello" },
  });
  const bareDelta = frame("message_delta", {
    type: "message_delta",
    delta: { stop_reason: "end_turn" },
  });
  // One line a read.
  const lines = [START, block, text, bareDelta, STOP].map(lfcr).join("").split(/(?<=\n)/);
  side.hold(bytes(lines[0]));
  side.hold(bytes(lines[1]));
  side.hold(bytes(lines[2]));
  side.start(ctrl);
  for (const line of lines.slice(3)) side.relay(ctrl, bytes(line));
  assert.equal(side.end(ctrl), undefined);
  const out = sent.join("").replaceAll("\n\r", "\n\n");
  for (
    const name of [
      "message_start",
      "content_block_start",
      "content_block_delta",
      "message_delta",
      "message_stop",
    ]
  ) {
    assert.equal(out.split(`event: ${name}\n`).length, 2, `${name} once in:\n${out}`);
  }
  assert.match(out, /"usage":\{"output_tokens":\d+\}/);
});

Deno.test("an event of most of a MB arriving 64 bytes a read is held in linear time, and goes out whole", () => {
  const { side, sent, ctrl } = setup();
  side.hold(bytes(START));
  side.start(ctrl);
  const big = frame("content_block_delta", {
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text: "y".repeat(900_000) },
  });
  const block = frame("content_block_start", {
    type: "content_block_start",
    index: 0,
    content_block: { type: "text", text: "" },
  });
  const all = bytes(block + big + STOP);
  const started = performance.now();
  for (let at = 0; at < all.length; at += 64) side.relay(ctrl, all.subarray(at, at + 64));
  const ms = performance.now() - started;
  // Joined afresh and searched whole for every read, this took 9 s here and a minute in the
  // audit's run.
  assert.ok(ms < 3_000, `${Math.round(ms)} ms`);
  assert.equal(sent.join(""), START + block + big + STOP);
});

Deno.test("a closing frame whose blank line is CR then CRLF is the end: nothing after it reaches the client (an error quoting the key among it)", () => {
  const { side, sent, ctrl } = setup();
  side.hold(bytes(START));
  side.start(ctrl);
  const stop = 'event: message_stop\rdata: {"type":"message_stop"}\r\r\n';
  const after =
    `event: error\ndata: {"type":"error","error":{"type":"api_error","message":"bad key sk-secret-key"}}\n\n`;
  assert.equal(side.relay(ctrl, bytes(DELTA + stop + "data: [DONE]\n\n" + after)), SENT | COMPLETE);
  assert.equal(sent.join(""), START + DELTA + stop);
});

Deno.test("a CRLF stream read a byte at a time reaches the client byte for byte, its last LF included", () => {
  const { side, sent, ctrl } = setup();
  const all = bytes((START + DELTA + STOP).replaceAll("\n", "\r\n"));
  side.hold(all.subarray(0, 1));
  let at = 1;
  while (!side.hold(all.subarray(at, at + 1))) at++;
  side.start(ctrl);
  let done = 0;
  for (at++; at < all.length && !(done & COMPLETE); at++) {
    done = side.relay(ctrl, all.subarray(at, at + 1));
  }
  assert.ok(done & COMPLETE);
  assert.equal(sent.join(""), (START + DELTA + STOP).replaceAll("\n", "\r\n"));
});

Deno.test("an event too long to hold (past 16 MB) gets no ping inside it, and an error after its half ends that half first", () => {
  const { side, sent, ctrl } = setup();
  side.hold(bytes(START));
  side.start(ctrl);
  assert.equal(side.pingable, true);
  const block = frame("content_block_start", {
    type: "content_block_start",
    index: 0,
    content_block: { type: "text", text: "" },
  });
  side.relay(
    ctrl,
    bytes(
      block +
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"',
    ),
  );
  side.relay(ctrl, bytes("z".repeat(17 << 20)));
  assert.equal(side.pingable, false, "a ping now would land in the event's data");
  const cut = { status: 502, type: "api_error" as const, message: "cut short" };
  assert.match(side.errorFrame(cut, "api_error", "cut short"), /^\n\nevent: error\n/);
  // Its end then makes it whole again: pings may follow.
  side.relay(ctrl, bytes('"}}\n\n'));
  assert.equal(side.pingable, true);
  assert.ok(sent.join("").endsWith('"}}\n\n'));
  assert.match(side.errorFrame(cut, "api_error", "cut short"), /^event: error\n/);
});
