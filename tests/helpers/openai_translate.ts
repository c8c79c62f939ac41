// deno-lint-ignore-file no-explicit-any
// Runs upstream SSE through the OpenAI stream translator, parses the Anthropic SSE back and checks
// the invariants every client relies on.
import assert from "node:assert/strict";
import { openaiProvider } from "../../lib/providers/openai.ts";
import { AnthropicStreamWriter } from "../../lib/providers/stream_writer.ts";
import { createSseDecoder } from "../../lib/sse.ts";
import { context } from "./openai_calls.ts";

interface Frame {
  event: string;
  data: any;
}

export function parseFrames(text: string): Frame[] {
  return text.split("\n\n").filter(Boolean).map((frame) => {
    const [eventLine, dataLine] = frame.split("\n");
    assert.ok(eventLine.startsWith("event: "), `frame without event line: ${frame}`);
    return { event: eventLine.slice(7), data: JSON.parse(dataLine.slice(6)) };
  });
}

export function translate(sse: string, ctx = context()) {
  const writer = new AnthropicStreamWriter({
    id: "msg_test",
    model: ctx.requestedModel,
    inputTokens: 0,
  });
  const translator = openaiProvider.createStreamTranslator(ctx, writer);
  const decoder = createSseDecoder((event) => translator.push(event));
  const bytes = new TextEncoder().encode(sse);
  // Odd-sized slices split events and UTF-8 sequences, as network reads do.
  for (let i = 0; i < bytes.length; i += 17) decoder.feed(bytes.subarray(i, i + 17));
  decoder.flush();
  translator.end();
  const frames = parseFrames(writer.take());
  return { frames, writer, ...checkStream(frames) };
}

type Block =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "tool_use"; id: string; name: string; input: unknown; deltas: number };

function checkStream(frames: Frame[]) {
  assert.equal(frames[0].event, "message_start");
  const blocks: Block[] = [];
  let open = -1;
  let partial = "";
  let messageDelta: any;
  let error: any;
  frames.slice(1).forEach((f, i) => {
    const last = i === frames.length - 2;
    const block = blocks[open] as any;
    switch (f.event) {
      case "ping":
        break;
      case "content_block_start": {
        assert.equal(open, -1, "a block started while another was open");
        assert.equal(f.data.index, blocks.length, "indices must run 0, 1, 2…");
        open = f.data.index;
        const cb = f.data.content_block;
        if (cb.type === "text") blocks.push({ type: "text", text: "" });
        else if (cb.type === "thinking") {
          blocks.push({ type: "thinking", thinking: "", signature: "" });
        } else {
          assert.equal(cb.type, "tool_use");
          assert.match(cb.id, /^[a-zA-Z0-9_-]+$/);
          assert.ok(cb.name, "tool_use needs a name");
          blocks.push({ type: "tool_use", id: cb.id, name: cb.name, input: undefined, deltas: 0 });
          partial = "";
        }
        break;
      }
      case "content_block_delta": {
        assert.equal(f.data.index, open, "delta for a block that is not open");
        const d = f.data.delta;
        if (d.type === "text_delta") {
          assert.equal(block.type, "text");
          assert.ok(d.text);
          block.text += d.text;
        } else if (d.type === "thinking_delta") {
          assert.equal(block.type, "thinking");
          assert.equal(block.signature, "", "thinking after its signature");
          block.thinking += d.thinking;
        } else if (d.type === "signature_delta") {
          assert.equal(block.type, "thinking");
          block.signature = d.signature;
        } else {
          assert.equal(d.type, "input_json_delta");
          assert.equal(block.type, "tool_use");
          partial += d.partial_json;
          block.deltas++;
        }
        break;
      }
      case "content_block_stop":
        assert.equal(f.data.index, open, "stop for a block that is not open");
        // Arguments broken off at the output limit stay the text they were.
        if (block.type === "tool_use") block.input = parsedOrText(partial);
        if (block.type === "thinking") {
          assert.ok(block.signature, "thinking block without signature");
        }
        if (block.type === "text") assert.ok(block.text, "empty text block");
        open = -1;
        break;
      case "message_delta":
        assert.equal(open, -1, "message_delta with a block open");
        messageDelta = f.data;
        break;
      case "message_stop":
        assert.ok(messageDelta, "message_stop without message_delta");
        assert.ok(last, "events after message_stop");
        break;
      case "error":
        assert.ok(last, "events after an error");
        assert.equal(messageDelta, undefined);
        error = f.data.error;
        break;
      default:
        assert.fail(`unexpected event ${f.event}`);
    }
  });
  const end = frames[frames.length - 1].event;
  assert.ok(end === "message_stop" || end === "error", `stream ended with ${end}`);
  return {
    blocks,
    stopReason: messageDelta?.delta.stop_reason,
    stopSequence: messageDelta?.delta.stop_sequence,
    usage: messageDelta?.usage,
    error,
  };
}

export function withoutDeltas(blocks: Block[]) {
  return blocks.map((b) => {
    if (b.type !== "tool_use") return b;
    const { deltas: _, ...rest } = b;
    return rest;
  });
}

function parsedOrText(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return json;
  }
}
