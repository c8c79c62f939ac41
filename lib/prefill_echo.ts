// A prefill (the request's last message, the start of the assistant's answer) sent to an upstream
// that cannot continue one (OpenAI's own models): the model takes it as a finished turn and often
// writes the whole answer again, the prefill first. Anthropic's answer is only what follows the
// prefill, and clients join the two, so a `{` prefill would come out as `{{`. An answer that starts
// with the prefill (leading whitespace aside) loses that start.
import type { MessagesRequest } from "./anthropic.ts";

/** The text of the request's prefill, if its last message is one. */
export function prefillOf(body: MessagesRequest): string {
  const last = body.messages?.[body.messages.length - 1];
  if (last?.role !== "assistant") return "";
  if (typeof last.content === "string") return last.content.trim();
  if (!Array.isArray(last.content)) return "";
  let text = "";
  for (const block of last.content) {
    if (block?.type === "text" && typeof block.text === "string") text += block.text;
    // A turn that called a tool is no answer's start.
    else if (block?.type === "tool_use") return "";
  }
  return text.trim();
}

/** A whole answer's text without the prefill it repeats. */
export function withoutPrefill(text: string, prefill: string): string {
  if (!prefill) return text;
  const body = text.trimStart();
  return body.startsWith(prefill) ? body.slice(prefill.length) : text;
}

/** The same for a streamed answer: its start is held until it shows whether it repeats the prefill. */
export class PrefillEcho {
  #held = "";
  #decided = false;
  /** Whether text other than blanks came. */
  #started = false;
  /** How much of the prefill the text has repeated so far: each chunk is compared alone (all the
   * text held, compared again at each chunk, made a long echo quadratic). */
  #matched = 0;

  constructor(private readonly prefill: string) {}

  /** What of `text` can go to the client now. */
  push(text: string): string {
    if (this.#decided || !this.prefill) return text;
    let from = 0;
    if (!this.#started) {
      from = text.length - text.trimStart().length;
      if (from === text.length) {
        this.#held += text;
        return "";
      }
      this.#started = true;
    }
    const piece = text.slice(from, from + this.prefill.length - this.#matched);
    if (!this.prefill.startsWith(piece, this.#matched)) {
      this.#decided = true;
      const all = this.#held + text;
      this.#held = "";
      return all;
    }
    this.#matched += piece.length;
    if (this.#matched === this.prefill.length) {
      this.#decided = true;
      this.#held = "";
      return text.slice(from + piece.length);
    }
    this.#held += text;
    return "";
  }

  /** The text held back, once the text is over (or other output follows it). */
  release(): string {
    // Thinking before any text leaves the answer's start to come.
    if (!this.#held) return "";
    this.#decided = true;
    const held = this.#held;
    this.#held = "";
    return held;
  }
}
