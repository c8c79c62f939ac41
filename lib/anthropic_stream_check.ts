// What an Anthropic event stream must hold for the SDKs to read it, checked where an upstream's
// events go to the client as they came (the passthrough): a garbled event there would fail the
// client's parse, or its SDK would throw on an event out of order, with no Anthropic error to say
// what happened.
import { isObject } from "./json_value.ts";

/** The events the SDKs parse; the others (ping, and names they do not know) they skip unread. */
const READ_BY_CLIENTS = new Set([
  "message_start",
  "content_block_start",
  "content_block_delta",
  "content_block_stop",
  "message_delta",
  "message_stop",
  "error",
]);

/** Where each kind of delta holds its text: the SDKs add it to the block's as they find it. */
const DELTA_TEXT: Record<string, string> = {
  text_delta: "text",
  input_json_delta: "partial_json",
  thinking_delta: "thinking",
  signature_delta: "signature",
};

/** The start of a text delta as Anthropic writes it, up to its text's opening quote. */
const CANONICAL_DELTA =
  /^\{"type":"content_block_delta","index":\d+,"delta":\{"type":"(?:text_delta","text|input_json_delta","partial_json|thinking_delta","thinking|(signature)_delta","signature)":"/;

/** An event's type where a relay left out its `event:` line: the first member, as sent. */
const LEADING_TYPE = /^\s*\{\s*"type"\s*:\s*"([a-z_]+)"/;

/** The name an event goes by: its `event:` line's, or the type its data starts with. */
export function eventName(event: string | undefined, data: string): string | undefined {
  if (event !== undefined && event !== "message") return event;
  const type = LEADING_TYPE.exec(data)?.[1];
  return type && (READ_BY_CLIENTS.has(type) || type === "ping") ? type : undefined;
}

export class AnthropicStreamCheck {
  #started = false;
  #blocks = 0;
  /** The text the deltas carried, for an output count where the upstream gives none. */
  #textChars = 0;
  #startOutput = 0;
  #counted = false;
  /**
   * The last event checked was mended: usage a client's SDK cannot do without was missing (the
   * SDKs add to the usage of message_start and read that of message_delta), and is now filled in.
   */
  mended = false;

  /**
   * The event's data as parsed; a string saying what is wrong with it; undefined when it was not
   * parsed: an event clients skip, or a text delta that looks whole.
   */
  check(name: string, data: string): Record<string, unknown> | string | undefined {
    this.mended = false;
    if (!READ_BY_CLIENTS.has(name)) return undefined;
    // Nearly every event is a delta, and parsing each cost a passed-through stream 30% more CPU:
    // one written as Anthropic writes them, its text a string to the end, holding no byte that
    // was not UTF-8, is taken as sent. Any other is parsed.
    const canonical = name === "content_block_delta" && this.#blocks > 0 &&
      data.endsWith('"}}') && CANONICAL_DELTA.exec(data);
    if (canonical && !data.includes("\uFFFD")) {
      // Its text is what stands between the delta's head and its closing `"}}`; a signature is
      // no output.
      if (!canonical[1]) this.#textChars += data.length - canonical[0].length - 3;
      return undefined;
    }
    let ev: unknown;
    try {
      ev = JSON.parse(data);
    } catch {
      return `${article(name)} ${name} event that is not JSON`;
    }
    // The SDKs take an error event for one whatever its data says; it is the answer's end.
    if (name === "error" && isObject(ev)) return ev;
    if (!isObject(ev) || ev.type !== name) return `${article(name)} ${name} event of another type`;
    if (name === "message_start") {
      if (this.#started) return "a second message_start";
      const message = ev.message;
      if (!isObject(message)) return "a message_start without its message";
      // The SDKs append each block to `content`: a compatible server that leaves it out (it is
      // always empty here) would make them throw on the first block.
      if (message.content === undefined || message.content === null) {
        message.content = [];
        this.mended = true;
      } else if (!Array.isArray(message.content)) return "a message_start without its content";
      if (!isObject(message.usage)) {
        message.usage = { input_tokens: 0, output_tokens: 0 };
        this.mended = true;
      } else if (typeof message.usage.output_tokens === "number") {
        this.#startOutput = message.usage.output_tokens;
      }
      this.#started = true;
      return ev;
    }
    if (!this.#started) return `${article(name)} ${name} event before message_start`;
    switch (name) {
      case "content_block_start":
        if (!isObject(ev.content_block)) return "a content_block_start without its block";
        this.#blocks++;
        return ev;
      case "content_block_delta": {
        if (this.#blocks === 0) return "a content_block_delta before any block";
        if (!isObject(ev.delta)) return "a content_block_delta without its delta";
        const field = DELTA_TEXT[ev.delta.type as string];
        const text = ev.delta[field ?? "type"];
        if (typeof text !== "string") return "a content_block_delta without its text";
        if (field && ev.delta.type !== "signature_delta") this.#textChars += text.length;
        return ev;
      }
      case "message_delta":
        if (!isObject(ev.delta)) return "a message_delta without its delta";
        this.#counted = true;
        if (!isObject(ev.usage)) {
          // MiniMax's Anthropic endpoint says no usage here: the text sent makes an estimate, as
          // for upstreams that count nothing, and never less than message_start said.
          ev.usage = { output_tokens: this.outputEstimate };
          this.mended = true;
        }
        return ev;
    }
    return ev;
  }

  /** Whether message_start went by. */
  get started(): boolean {
    return this.#started;
  }

  /** Whether message_delta, with the answer's own count, went by. */
  get counted(): boolean {
    return this.#counted;
  }

  /** The output by the text seen so far, never less than message_start said. */
  get outputEstimate(): number {
    return Math.max(this.#startOutput, Math.ceil(this.#textChars / 4));
  }
}

function article(name: string): string {
  return name === "error" ? "an" : "a";
}
