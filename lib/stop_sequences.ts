// Stop sequences the upstream was not asked to apply (OpenAI's reasoning models take none, OpenAI
// four at most, Gemini five), applied by the proxy to the answer's text, as Anthropic would: the
// text ends before the first one, which the answer names.

import { ProxyError } from "./errors.ts";

/**
 * What the proxy applies itself: every piece of text is searched for each sequence, on the one
 * thread every client shares, so half a million of them stalled the proxy for all (22 s).
 */
const MAX_LOCAL_STOPS = 256;
const MAX_LOCAL_STOP_CHARS = 16_384;

/** The stop sequences the proxy is to apply itself, refused (400) past what it takes. */
export function localStops(stops: string[]): string[] {
  let chars = 0;
  for (const s of stops) chars += s.length;
  if (stops.length > MAX_LOCAL_STOPS || chars > MAX_LOCAL_STOP_CHARS) {
    throw new ProxyError(
      400,
      `stop_sequences: this upstream applies only some of them, and the proxy applies at most ${MAX_LOCAL_STOPS} more, ${MAX_LOCAL_STOP_CHARS} characters in all`,
    );
  }
  return stops;
}

/** The earliest stop sequence in `text`, and where it begins. */
function firstStop(text: string, stops: readonly string[]): [number, string] | undefined {
  let found: [number, string] | undefined;
  for (const s of stops) {
    const at = text.indexOf(s);
    if (at >= 0 && (!found || at < found[0])) found = [at, s];
  }
  return found;
}

/** A whole answer's text cut before its first stop sequence, and the one it met. */
export function cutAtStop(
  text: string,
  stops: readonly string[],
): { text: string; hit: string | null } {
  const found = stops.length ? firstStop(text, stops) : undefined;
  return found ? { text: text.slice(0, found[0]), hit: found[1] } : { text, hit: null };
}

/**
 * A streamed answer's text, checked for stop sequences as it comes: the end of a piece that may
 * begin one is held until the next piece shows whether it does.
 */
export class StopScanner {
  #held = "";
  /** The stop sequence met; nothing after it is text of the answer. */
  hit: string | null = null;

  constructor(private readonly stops: readonly string[]) {}

  /** What of `text` can go to the client now; on a hit, the text before it. */
  push(text: string): string {
    if (this.hit !== null) return "";
    const all = this.#held + text;
    const found = firstStop(all, this.stops);
    if (found) {
      this.hit = found[1];
      this.#held = "";
      return all.slice(0, found[0]);
    }
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, all.length); n > keep; n--) {
        if (all.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    this.#held = all.slice(all.length - keep);
    return all.slice(0, all.length - keep);
  }

  /** The text held back, once the text it could have continued is over. */
  release(): string {
    const held = this.#held;
    this.#held = "";
    return held;
  }
}
