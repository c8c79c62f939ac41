// Reading upstream SSE and writing Anthropic SSE: the only place that knows the framing.
import { createParser, type EventSourceMessage, type ParseError } from "eventsource-parser";
import { isObject } from "./json_value.ts";
import { ObjectPrefix } from "./providers/partial_json.ts";

export type SseMessage = EventSourceMessage;

/** Takes a JSON object the upstream wrote outside any `data:` line. */
export type BareJsonHandler = (value: Record<string, unknown>) => void;

export interface SseDecoder {
  /** Bytes as they came, or text (a whole answer, decoded). */
  feed(chunk: Uint8Array | string): void;
  flush(): void;
  /** Characters of the line not yet ended, which the parser holds until its end comes. */
  readonly unfinished: number;
}

/** Far past any event a model writes (a whole image, base64, is a few MB). */
const MAX_LINE_CHARS = 64 * 1024 * 1024;

/**
 * Why the stream is no longer read, when its current line has grown past any real event's: the
 * parser holds a line until it ends, and one that never does would take all the memory.
 */
export function overlongLine(decoder: SseDecoder): string | undefined {
  return decoder.unfinished > MAX_LINE_CHARS
    ? `Upstream sent a stream line longer than ${MAX_LINE_CHARS >> 20} M characters`
    : undefined;
}

/**
 * Incremental SSE decoder: feed it bytes as they arrive, it calls `onEvent` per complete event.
 * With `onJson`, a JSON object written between the events without `data:` (Gemini sends its
 * errors in a 200 stream so) is handed over too.
 */
export function createSseDecoder(
  onEvent: (event: SseMessage) => void,
  onJson?: BareJsonHandler,
): SseDecoder {
  let feedText: (text: string) => void;
  if (onJson) feedText = bareJsonFeeder(onEvent, onJson);
  else {
    const parser = createParser({ onEvent });
    feedText = (text) => parser.feed(text);
  }
  const decoder = new Utf8Stream();
  /** Characters since the last line end. */
  let unfinished = 0;
  return {
    feed(chunk) {
      const text = decoder.decode(chunk);
      const end = Math.max(text.lastIndexOf("\n"), text.lastIndexOf("\r"));
      unfinished = end === -1 ? unfinished + text.length : text.length - end - 1;
      feedText(text);
    },
    flush() {
      // A last event without its blank line still counts: upstreams that end abruptly send these.
      feedText(decoder.end() + "\n\n");
      unfinished = 0;
    },
    get unfinished() {
      return unfinished;
    },
  };
}

const DECODE_STREAM: TextDecodeOptions = { stream: true };
const wholeChunks = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * A streaming UTF-8 decode at about half the cost per chunk while the stream decoder would carry
 * nothing over: a chunk after one that ended in ASCII (no character left unfinished) and itself
 * ending in ASCII decodes alone exactly as the stream decoder would decode it.
 */
class Utf8Stream {
  // A byte order mark is one only at the stream's very start, taken off here: the decoder would
  // take one off wherever its first use (or first after a reset) falls, dropping a U+FEFF of the
  // text that a read happened to begin with.
  #stream = new TextDecoder("utf-8", { ignoreBOM: true });
  #started = false;
  /** The last chunk, decoded by the stream decoder or not, ended in ASCII. */
  #clean = false;

  decode(chunk: Uint8Array | string): string {
    // Text follows whatever bytes came before it: a character they left unfinished is broken.
    if (typeof chunk === "string") return this.#clean ? chunk : this.end() + chunk;
    if (!this.#started && chunk.length) {
      this.#started = true;
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    }
    const n = chunk.length;
    if (n === 0) return "";
    const endsAscii = chunk[n - 1] < 0x80;
    if (this.#clean && endsAscii) return wholeChunks.decode(chunk);
    this.#clean = endsAscii;
    return this.#stream.decode(chunk, DECODE_STREAM);
  }

  /** What the stream decoder still holds (an unfinished character), and its reset. */
  end(): string {
    this.#clean = false;
    return this.#stream.decode();
  }
}

/** The longest bare JSON waited for; past it the lines are let go, as the parser lets them go. */
const MAX_BARE_JSON = 64 * 1024;
const LF = 10;
const CR = 13;

/** Whether a line starting with this character code may be a field the parser keeps. */
function mayBeField(code: number): boolean {
  // "data", "event", "id", "retry", or ":" for a comment.
  return code === 100 || code === 101 || code === 105 || code === 114 || code === 58;
}

/**
 * The parser reports the lines that are no field and drops them: those are collected until they
 * spell a JSON object. It also drops, unseen, a chunk's unfinished last line that does not start
 * like a field, so such a line waits here for the rest of it. `data:` lines take the same path as
 * without the hook: nothing is copied for them.
 */
function bareJsonFeeder(
  onEvent: (event: SseMessage) => void,
  onJson: BareJsonHandler,
): (text: string) => void {
  let json = "";
  // Read as it comes, the object is parsed once, when it closes (parsed whole at every line that
  // ended in "}", 10,000 lines of one took seconds).
  let shape = new ObjectPrefix();
  const onError = (err: ParseError) => {
    const line = err.type === "unknown-field" ? err.line : undefined;
    if (line === undefined || (!json && !line.trimStart().startsWith("{"))) return;
    if (!json) shape = new ObjectPrefix();
    const piece = json ? `\n${line}` : line;
    json += piece;
    const whole = shape.accept(piece) === piece.length || shape.ended;
    if (json.length > MAX_BARE_JSON || !whole) json = "";
    if (!json || !shape.ended) return;
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch { /* closed, and no JSON: let go */ }
    json = "";
    if (isObject(value)) onJson(value);
  };
  const parser = createParser({ onEvent, onError });
  /** An unfinished line the parser would drop. */
  let tail = "";
  /** The parser holds an unfinished line of its own, which the next text continues. */
  let midLine = false;

  return (text: string) => {
    if (tail) {
      text = tail + text;
      tail = "";
    }
    const last = text.charCodeAt(text.length - 1);
    if (!text || last === LF || last === CR) midLine = false;
    else {
      const start = Math.max(text.lastIndexOf("\n"), text.lastIndexOf("\r")) + 1;
      if (start > 0 || !midLine) {
        if (mayBeField(text.charCodeAt(start)) || text.length - start > MAX_BARE_JSON) {
          midLine = true;
        } else {
          tail = text.slice(start);
          text = text.slice(0, start);
        }
      }
    }
    if (text) parser.feed(text);
  };
}

/** One Anthropic SSE frame; `data` is already JSON text. */
export function sseFrame(event: string, data: string): string {
  return `event: ${event}\ndata: ${data}\n\n`;
}

export const PING_FRAME = sseFrame("ping", '{"type":"ping"}');

/** The headers of a streamed answer. */
export function sseHeaders(requestId: string): Record<string, string> {
  return {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    // Proxies in between (nginx) must pass events on as they come.
    "x-accel-buffering": "no",
    "request-id": requestId,
  };
}
