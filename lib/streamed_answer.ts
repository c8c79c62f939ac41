// A whole answer asked for and an event stream given (servers that ignore `stream: false`: some
// vLLM, SGLang and Ollama fronts, Anthropic-compatible gateways): the stream is translated as if
// asked for, and its events put together as the message they make, rather than refused as an
// answer that is not JSON.
import { type MessageResponse, newId } from "./anthropic.ts";
import { createSseDecoder, type SseMessage } from "./sse.ts";
import { upstreamFault } from "./providers/failure.ts";
import { AnthropicStreamWriter } from "./providers/stream_writer.ts";
import type { CallContext, Provider, UpstreamFailure } from "./providers/types.ts";
import { answerText, jsonOf } from "./upstream_fetch.ts";
import { anthropicErrorFailure } from "./anthropic_answer.ts";

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
  const read = await answerText(res);
  if (!("text" in read)) return read;
  // A whole answer under the wrong content-type (a server that labels every answer a stream).
  if (read.text.trimStart().startsWith("{")) return jsonOf(read.text);
  // An Anthropic upstream's events are the message's already; others are translated first.
  let events = read.text;
  if (!provider.passthrough) {
    const writer = new AnthropicStreamWriter({
      id: newId("msg"),
      model: ctx.requestedModel,
      inputTokens: 0,
      requestId,
    });
    const translator = provider.createStreamTranslator(ctx, writer);
    feedEvents(events, (event) => translator.push(event));
    translator.end();
    if (writer.failure) return writer.failure;
    events = writer.take();
  }
  const made = new MessageAssembly();
  feedEvents(events, (event) => made.push(event.data));
  if (made.error !== undefined) return anthropicErrorFailure(provider, made.error, res.headers);
  if (!made.message) return upstreamFault("upstream stream ended before its message began");
  if (!made.stopped) return upstreamFault("upstream stream ended unexpectedly");
  if (ctx.model !== ctx.requestedModel) made.message.model = ctx.requestedModel;
  return { answer: made.message };
}

function feedEvents(text: string, onEvent: (event: SseMessage) => void): void {
  const decoder = createSseDecoder(onEvent);
  decoder.feed(text);
  decoder.flush();
}

/** The message an Anthropic event stream makes, as the SDKs put one together. */
class MessageAssembly {
  message: MessageResponse | undefined;
  /** The data of an `error` event. */
  error: string | undefined;
  /** message_delta came, with the stop reason. */
  stopped = false;
  private blocks: Json[] = [];
  private args: string[] = [];

  push(data: string): void {
    if (this.error !== undefined) return;
    let e: Json;
    try {
      e = JSON.parse(data);
    } catch {
      return;
    }
    if (!e || typeof e !== "object") return;
    if (e.type === "error") {
      this.error = data;
      return;
    }
    if (e.type === "message_start") {
      this.message = { ...e.message, content: [] };
      return;
    }
    const message = this.message as Json;
    if (!message) return;
    const block = this.blocks[e.index];
    if (e.type === "content_block_start") {
      this.blocks[e.index] = { ...e.content_block };
      this.args[e.index] = "";
    } else if (e.type === "content_block_delta" && block) {
      const d = e.delta ?? {};
      if (d.type === "text_delta") block.text += d.text;
      else if (d.type === "thinking_delta") block.thinking += d.thinking;
      else if (d.type === "signature_delta") block.signature = d.signature;
      else if (d.type === "input_json_delta") this.args[e.index] += d.partial_json;
      else if (d.type === "citations_delta") (block.citations ??= []).push(d.citation);
    } else if (e.type === "content_block_stop" && block && "input" in block) {
      const args = this.args[e.index];
      try {
        if (args) block.input = JSON.parse(args);
      } catch {
        // Arguments the output limit broke off: a call no one made, left out as in whole answers.
        this.blocks[e.index] = undefined;
      }
    } else if (e.type === "message_delta") {
      this.stopped = true;
      message.stop_reason = e.delta?.stop_reason ?? null;
      message.stop_sequence = e.delta?.stop_sequence ?? null;
      message.usage = { ...message.usage, ...e.usage };
      message.content = this.blocks.filter(Boolean);
    }
  }
}
