// Some OpenAI-compatible servers (DeepSeek-R1 on Ollama or vLLM without a reasoning parser) put
// the model's reasoning inside the answer as "<think>…</think>". Opening the answer, it is
// reasoning, so it becomes a thinking block instead of text Claude Code would show as the reply.

const OPEN = "<think>";
const CLOSE = "</think>";

export type Piece = ["thinking" | "text", string];

/** Splits a streamed answer as it arrives; tags may be cut anywhere between chunks. */
export class ThinkTagSplitter {
  #state: "start" | "think" | "after" | "text" = "start";
  #buf = "";
  /** At the start, the blanks before anything else: kept apart, so each chunk alone is trimmed. */
  #blanks = "";

  /** Past any opening reasoning: everything from here on is text. */
  get settled(): boolean {
    return this.#state === "text";
  }

  push(chunk: string): Piece[] {
    if (this.#state === "text") return chunk ? [["text", chunk]] : [];
    if (this.#state === "after") {
      // The blank lines after "</think>" belong to neither part.
      const text = chunk.replace(/^\s+/, "");
      if (!text) return [];
      this.#state = "text";
      return [["text", text]];
    }
    const out: Piece[] = [];
    if (this.#state === "start") {
      if (this.#buf) this.#buf += chunk;
      else {
        // Trimming all the blanks again at each chunk made a stream of blanks quadratic.
        const lead = chunk.trimStart();
        this.#blanks += chunk.slice(0, chunk.length - lead.length);
        this.#buf = lead;
      }
      const lead = this.#buf;
      if (lead.length < OPEN.length && OPEN.startsWith(lead)) return out;
      if (!lead.startsWith(OPEN)) {
        this.#state = "text";
        const text = this.#blanks + this.#buf;
        this.#buf = this.#blanks = "";
        return text ? [["text", text]] : [];
      }
      this.#state = "think";
      this.#blanks = "";
      this.#buf = lead.slice(OPEN.length);
    } else this.#buf += chunk;
    const end = this.#buf.indexOf(CLOSE);
    if (end === -1) {
      // Keep what could be the start of a cut "</think>".
      const keep = Math.min(this.#buf.length, CLOSE.length - 1);
      const thought = this.#buf.slice(0, this.#buf.length - keep);
      this.#buf = this.#buf.slice(this.#buf.length - keep);
      if (thought) out.push(["thinking", thought]);
      return out;
    }
    const thought = this.#buf.slice(0, end);
    const rest = this.#buf.slice(end + CLOSE.length).replace(/^\s+/, "");
    this.#buf = "";
    this.#state = rest ? "text" : "after";
    if (thought) out.push(["thinking", thought]);
    if (rest) out.push(["text", rest]);
    return out;
  }

  /**
   * What is still held back, when something else (a tool call) comes before the answer's text
   * settled: from here on everything is text.
   */
  settle(): Piece[] {
    const held = this.flush();
    this.#state = "text";
    return held;
  }

  /** What is still held back when the answer ends. */
  flush(): Piece[] {
    const rest = this.#blanks + this.#buf;
    this.#buf = this.#blanks = "";
    if (!rest) return [];
    return [[this.#state === "think" ? "thinking" : "text", rest]];
  }
}

/** The same split for a whole answer. */
export function splitThinkTags(content: string): { thinking: string; text: string } {
  const splitter = new ThinkTagSplitter();
  let thinking = "";
  let text = "";
  for (const [kind, piece] of [...splitter.push(content), ...splitter.flush()]) {
    if (kind === "thinking") thinking += piece;
    else text += piece;
  }
  return { thinking, text };
}
