import assert from "node:assert/strict";
import { AnthropicStreamWriter } from "../../../lib/providers/stream_writer.ts";

function events(text: string): string[] {
  return text.split("\n\n").filter(Boolean).map((frame) => frame.split("\n")[0].slice(7));
}

Deno.test("stream writer: an error leaves the open block open, as Anthropic does", () => {
  // Claude Code retries without streaming when a stream errs inside a block; a closed tool block
  // would be run with its cut-off arguments instead.
  const writer = new AnthropicStreamWriter({ id: "msg_1", model: "m", inputTokens: 3 });
  writer.toolStart("toolu_1", "Bash");
  writer.toolArgs('{"command":"echo hal');
  writer.error({ status: 502, type: "api_error", message: "Upstream stream broke" });
  assert.deepEqual(events(writer.take()), [
    "message_start",
    "ping",
    "content_block_start",
    "content_block_delta",
    "error",
  ]);
  assert.equal(writer.done, true);
  // Nothing follows the error.
  writer.text("late");
  writer.finish("end_turn", { output_tokens: 1 });
  assert.equal(writer.take(), "");
});
