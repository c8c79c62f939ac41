// Parses an Anthropic SSE body and checks the event order a strict client relies on; reads a stream
// as a client waiting on it does.
import assert from "node:assert/strict";

export interface SseEvent {
  event: string;
  // deno-lint-ignore no-explicit-any
  data: any;
}

export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const frame of text.split("\n\n")) {
    // Comments (the proxy's keepalives before an answer begins) are no event to any SSE reader.
    if (frame.split("\n").every((line) => !line.trim() || line.startsWith(":"))) continue;
    let event = "";
    let data = "";
    for (const line of frame.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data += line.slice(6);
    }
    assert.ok(event, `every frame names its event: ${frame}`);
    events.push({ event, data: JSON.parse(data) });
  }
  return events;
}

/**
 * Asserts the stream is well formed: message_start first, blocks 0, 1, 2… each opened once and
 * closed once, deltas only inside their open block, tool JSON parsing at its stop, and
 * message_delta + message_stop at the end. Returns the assembled content blocks.
 */
// deno-lint-ignore no-explicit-any
export function assertWellFormedStream(events: SseEvent[]): { blocks: any[]; stopReason: string } {
  const kinds = events.filter((e) => e.event !== "ping");
  assert.equal(kinds[0]?.event, "message_start");
  // deno-lint-ignore no-explicit-any
  const blocks: any[] = [];
  let open = -1;
  let json = "";
  let stopReason = "";
  for (const { event, data } of kinds.slice(1)) {
    assert.equal(data.type, event);
    if (event === "content_block_start") {
      assert.equal(open, -1, "a block opened while another is open");
      assert.equal(data.index, blocks.length, "block indices count 0, 1, 2…");
      blocks.push(structuredClone(data.content_block));
      open = data.index;
      json = "";
    } else if (event === "content_block_delta") {
      assert.equal(data.index, open, "a delta outside its open block");
      const b = blocks[open];
      const d = data.delta;
      if (d.type === "text_delta") b.text += d.text;
      else if (d.type === "thinking_delta") b.thinking += d.thinking;
      else if (d.type === "signature_delta") b.signature = d.signature;
      else if (d.type === "input_json_delta") json += d.partial_json;
      else assert.fail(`unknown delta ${d.type}`);
    } else if (event === "content_block_stop") {
      assert.equal(data.index, open);
      const b = blocks[open];
      if (b.type === "tool_use") b.input = JSON.parse(json || "{}");
      if (b.type === "text") assert.ok(b.text.length > 0, "no empty text block");
      open = -1;
    } else if (event === "message_delta") {
      assert.equal(open, -1, "message_delta with a block still open");
      stopReason = data.delta.stop_reason;
      assert.equal(typeof data.usage.output_tokens, "number");
    } else if (event === "message_stop") {
      assert.ok(stopReason, "message_stop after message_delta");
    } else if (event === "error") {
      assert.fail(`error event: ${JSON.stringify(data)}`);
    }
  }
  assert.equal(kinds[kinds.length - 1].event, "message_stop");
  return { blocks, stopReason };
}

/**
 * A small streamed request read whole, with the time its first bytes took: what a client waiting
 * on a model slow to its first token sees.
 */
export async function streamTimed(
  serverUrl: string,
  accessKey: string,
): Promise<{ first: string; firstMs: number; text: string }> {
  const started = Date.now();
  const res = await fetch(`${serverUrl}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": accessKey, "content-type": "application/json" },
    body: JSON.stringify({
      model: "claude-sonnet-test",
      max_tokens: 50,
      stream: true,
      messages: [{ role: "user", content: "think hard" }],
    }),
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const first = decoder.decode((await reader.read()).value, { stream: true });
  const firstMs = Date.now() - started;
  let text = first;
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return { first, firstMs, text };
}
