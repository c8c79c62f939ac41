// Reading upstream SSE and writing Anthropic SSE: the only place that knows the framing.
import { createParser, type EventSourceMessage } from "eventsource-parser";

export type SseMessage = EventSourceMessage;

/** Incremental SSE decoder: feed it bytes as they arrive, it calls `onEvent` per complete event. */
export function createSseDecoder(onEvent: (event: SseMessage) => void): {
  feed(chunk: Uint8Array): void;
  flush(): void;
} {
  const decoder = new TextDecoder();
  const parser = createParser({ onEvent });
  return {
    feed(chunk) {
      parser.feed(decoder.decode(chunk, { stream: true }));
    },
    flush() {
      const rest = decoder.decode();
      // A last event without its blank line still counts: upstreams that end abruptly send these.
      parser.feed(rest + "\n\n");
    },
  };
}

/** One Anthropic SSE frame; `data` is already JSON text. */
export function sseFrame(event: string, data: string): string {
  return `event: ${event}\ndata: ${data}\n\n`;
}

export const PING_FRAME = sseFrame("ping", '{"type":"ping"}');
