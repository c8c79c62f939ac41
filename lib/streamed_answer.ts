// A whole answer asked for and an event stream given (servers that ignore `stream: false`: some
// vLLM, SGLang and Ollama fronts): the stream is translated as if asked for, and its events put
// together as the message they make, rather than refused as an answer that is not JSON.
import type { MessageResponse } from "./anthropic.ts";
import { readUpTo } from "./body_read.ts";
import { createSseDecoder } from "./sse.ts";
import { upstreamFault } from "./providers/failure.ts";
import { AnthropicStreamWriter } from "./providers/stream_writer.ts";
import type { CallContext, Provider, UpstreamFailure } from "./providers/types.ts";
import { MAX_ANSWER_BYTES, unreadableAnswer } from "./upstream_fetch.ts";
import { newId } from "./anthropic.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

export function isEventStream(res: Response): boolean {
  return /^text\/event-stream/i.test(res.headers.get("content-type") ?? "");
}

export async function streamedAnswer(
  provider: Provider,
  ctx: CallContext,
  res: Response,
  requestId: string,
): Promise<{ answer: MessageResponse } | { json: unknown } | UpstreamFailure> {
  const { bytes, complete } = await readUpTo(res.body, MAX_ANSWER_BYTES);
  if (!complete) {
    return upstreamFault(`Upstream answered with more than ${MAX_ANSWER_BYTES >> 20} MB`);
  }
  // A whole answer under the wrong content-type (a server that labels every answer a stream).
  if (bytes[firstNonBlank(bytes)] === 0x7b /* { */) {
    const text = new TextDecoder().decode(bytes);
    try {
      return { json: JSON.parse(text) };
    } catch {
      return unreadableAnswer(text);
    }
  }
  const writer = new AnthropicStreamWriter({
    id: newId("msg"),
    model: ctx.requestedModel,
    inputTokens: 0,
    requestId,
  });
  const translator = provider.createStreamTranslator(ctx, writer);
  const decoder = createSseDecoder((event) => translator.push(event));
  decoder.feed(bytes);
  decoder.flush();
  translator.end();
  if (writer.failure) return writer.failure;
  return { answer: messageOf(writer.take()) };
}

function firstNonBlank(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return i;
}

/** The message the proxy's own events make, as the SDKs put one together. */
function messageOf(sse: string): MessageResponse {
  let message: Json;
  const blocks: Json[] = [];
  const args: string[] = [];
  for (const frame of sse.split("\n\n")) {
    const at = frame.indexOf("data: ");
    if (at < 0) continue;
    const e = JSON.parse(frame.slice(at + 6));
    const block = blocks[e.index];
    if (e.type === "message_start") message = e.message;
    else if (e.type === "content_block_start") {
      blocks[e.index] = { ...e.content_block };
      args[e.index] = "";
    } else if (e.type === "content_block_delta") {
      const d = e.delta;
      if (d.type === "text_delta") block.text += d.text;
      else if (d.type === "thinking_delta") block.thinking += d.thinking;
      else if (d.type === "signature_delta") block.signature = d.signature;
      else if (d.type === "input_json_delta") args[e.index] += d.partial_json;
    } else if (e.type === "content_block_stop" && "input" in block && args[e.index]) {
      try {
        block.input = JSON.parse(args[e.index]);
      } catch {
        // Arguments the output limit broke off: a call no one made, left out as in whole answers.
        blocks[e.index] = undefined;
      }
    } else if (e.type === "message_delta") {
      message.stop_reason = e.delta.stop_reason;
      message.stop_sequence = e.delta.stop_sequence ?? null;
      message.usage = { ...message.usage, ...e.usage };
    }
  }
  message.content = blocks.filter(Boolean);
  return message;
}
