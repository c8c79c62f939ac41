// Completing cut-off JSON: a tool call's arguments end where the upstream stopped writing them.

const LITERALS = ["true", "false", "null"];

/**
 * The characters that make `text` one whole JSON value once appended: `""` when it already is one,
 * `{}` when it is blank, undefined when nothing appended can (a second value after the first, a
 * stray closer, a broken word). Strings are closed, a key gets `:null`, a missing value `null`, a
 * cut number or literal its end, then the open arrays and objects their closers.
 */
export function jsonCompletion(text: string): string | undefined {
  if (!text.trim()) return "{}";
  if (parses(text)) return "";
  const suffix = closingSuffix(text);
  return suffix !== undefined && parses(text + suffix) ? suffix : undefined;
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A suffix from one pass over the text; the caller checks that it really parses. */
function closingSuffix(text: string): string | undefined {
  const open: string[] = [];
  let inString = false;
  let escaped = false;
  let hex = 0; // digits still owed to a \u escape
  let key = false; // the string being read is an object key
  let last = ""; // the last character outside strings
  let lastKey = false; // …and it closed a key
  let word = ""; // a number or literal running at the end
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (hex) hex--;
      else if (escaped) {
        escaped = false;
        if (ch === "u") hex = 4;
      } else if (ch === "\\") escaped = true;
      else if (ch === '"') {
        inString = false;
        last = ch;
        lastKey = key;
      }
      continue;
    }
    if (ch === " " || ch === "\n" || ch === "\r" || ch === "\t") {
      word = "";
      continue;
    }
    if (ch === '"') {
      inString = true;
      key = open[open.length - 1] === "{" && (last === "{" || last === ",");
      word = "";
      continue;
    }
    if (ch === "{" || ch === "[") open.push(ch);
    else if (ch === "}" || ch === "]") {
      if (open.pop() !== (ch === "}" ? "{" : "[")) return undefined;
    } else if (ch !== "," && ch !== ":") {
      word += ch;
      last = ch;
      lastKey = false;
      continue;
    }
    word = "";
    last = ch;
    lastKey = false;
  }
  let suffix = "";
  if (inString) {
    // A lone backslash becomes an escaped one rather than escaping the closing quote.
    suffix = hex ? "0".repeat(hex) : escaped ? "\\" : "";
    suffix += key ? '":null' : '"';
  } else if (word) {
    const literal = LITERALS.find((l) => l.length > word.length && l.startsWith(word));
    if (literal) suffix = literal.slice(word.length);
    else if (/[-+eE.]$/.test(word)) suffix = "0";
  } else if (lastKey) suffix = ":null";
  else if (last === ":") suffix = "null";
  else if (last === ",") suffix = open[open.length - 1] === "{" ? '"":null' : "null";
  for (let i = open.length - 1; i >= 0; i--) suffix += open[i] === "{" ? "}" : "]";
  return suffix;
}

/**
 * Where a JSON number stands after its characters so far, a step per character: testing the whole
 * number again at each digit made a model's run of 80,000 digits take seconds.
 */
type NumberState = "sign" | "zero" | "int" | "dot" | "frac" | "exp" | "expSign" | "expInt";
/** The states a number may end in. */
const NUMBER_ENDS = new Set<NumberState>(["zero", "int", "frac", "expInt"]);

function numberStep(state: NumberState | undefined, ch: string): NumberState | undefined {
  const digit = ch >= "0" && ch <= "9";
  const exp = ch === "e" || ch === "E";
  switch (state) {
    case undefined:
      return ch === "-" ? "sign" : ch === "0" ? "zero" : digit ? "int" : undefined;
    case "sign":
      return ch === "0" ? "zero" : digit ? "int" : undefined;
    case "zero":
      return ch === "." ? "dot" : exp ? "exp" : undefined;
    case "int":
      return digit ? "int" : ch === "." ? "dot" : exp ? "exp" : undefined;
    case "dot":
      return digit ? "frac" : undefined;
    case "frac":
      return digit ? "frac" : exp ? "exp" : undefined;
    case "exp":
      return ch === "+" || ch === "-" ? "expSign" : digit ? "expInt" : undefined;
    default: // expSign, expInt
      return digit ? "expInt" : undefined;
  }
}

const isLiteralPrefix = (word: string) => LITERALS.some((l) => l.startsWith(word));
const HEX = /^[0-9a-fA-F]$/;
const ESCAPES = '"\\/bfnrtu';

/** What may come next outside strings. */
type Want = "key" | "keyOrClose" | "colon" | "value" | "valueOrClose" | "commaOrClose";

/**
 * Follows a JSON object streamed in pieces, to tell how much of each piece still continues it: a
 * client parses the pieces joined, and a model's malformed arguments (a missing colon, a bad
 * escape) would fail its whole answer. So every character is checked against JSON's grammar; the
 * first one that breaks it, and all after, are not taken, and what was taken can be completed.
 */
export class ObjectPrefix {
  /** Open `{` and `[`, innermost last; empty before the object starts and after it ends. */
  private open: string[] = [];
  private want: Want = "keyOrClose";
  private inString = false;
  private stringIsKey = false;
  private escaped = false;
  /** Hex digits still owed to a `\u` escape. */
  private hex = 0;
  /** A literal (true, false, null) running. */
  private word = "";
  /** A number running, by where its grammar stands. */
  private number: NumberState | undefined;
  /** The first character was `{`. */
  started = false;
  /** The object was closed: what follows it is not the object's. */
  ended = false;
  /**
   * The last character taken, blanks aside, is a comma between members or items. A closer may
   * follow it (a trailing comma, a weak model's slip): `pass` holds the comma back until the next
   * member shows it is one, and drops it before a closer.
   */
  #afterComma = false;
  private broken = false;
  /** What of the last piece `pass` did not take. */
  refused = "";
  /**
   * A comma (and the blanks after it) from an earlier piece, or an escape it began, not yet
   * passed on.
   */
  #held: string | undefined;
  /** Where in the piece being read the comma just taken is; -1 when it came in an earlier one. */
  #commaAt = -1;
  /** Commas of the piece being read that a closer followed: not passed on. */
  #dropped: number[] = [];
  #heldDropped = false;

  /**
   * What of `piece` goes on to whoever parses the pieces joined: what continues the object, less
   * any trailing comma, and less a comma at its end, held until what follows shows it is needed.
   */
  pass(piece: string): string {
    this.#dropped.length = 0;
    this.#heldDropped = false;
    const n = this.accept(piece);
    this.refused = n < piece.length ? piece.slice(n) : "";
    let part = n < piece.length ? piece.slice(0, n) : piece;
    if (this.#dropped.length) {
      // Joined once: cut out one at a time, 40,000 dropped commas took seconds.
      const kept: string[] = [];
      let from = 0;
      for (const at of this.#dropped) {
        kept.push(part.slice(from, at));
        from = at + 1;
      }
      kept.push(part.slice(from));
      part = kept.join("");
    }
    if (this.#held !== undefined && !this.#heldDropped) part = this.#held + part;
    this.#held = undefined;
    if (this.#afterComma) {
      // Only blanks follow the comma: it is the last one.
      const at = part.lastIndexOf(",");
      this.#held = part.slice(at);
      part = part.slice(0, at);
    } else if (this.inString && (this.escaped || this.hex)) {
      // An escape not yet whole waits for the rest: cut off there, `\u00` would be completed to
      // a character the model never wrote (NUL), and a lone backslash to one more backslash.
      const at = part.lastIndexOf("\\");
      this.#held = part.slice(at);
      part = part.slice(0, at);
    }
    return part;
  }

  /**
   * How many characters of `piece` continue the object (all of them, or where it went wrong). A
   * closer after a trailing comma is taken: `pass` drops the comma.
   */
  accept(piece: string): number {
    if (this.broken) return 0;
    this.#commaAt = -1;
    for (let i = 0; i < piece.length; i++) {
      const ch = piece[i];
      const inString = this.inString;
      const closesAfterComma = this.#afterComma && !inString && (ch === "}" || ch === "]");
      if (!this.take(ch)) {
        // Leading blanks before the object are no fault of its own.
        if (this.started) this.broken = true;
        return i;
      }
      if (closesAfterComma) {
        if (this.#commaAt >= 0) this.#dropped.push(this.#commaAt);
        else this.#heldDropped = true;
      }
      if (inString || !(ch === " " || ch === "\n" || ch === "\r" || ch === "\t")) {
        this.#afterComma = !inString && ch === ",";
        if (this.#afterComma) this.#commaAt = i;
      }
    }
    return piece.length;
  }

  private take(ch: string): boolean {
    if (this.inString) return this.inStringTake(ch);
    if (this.number) {
      if (/[0-9a-zA-Z.+-]/.test(ch)) {
        return (this.number = numberStep(this.number, ch)) !== undefined;
      }
      if (!NUMBER_ENDS.has(this.number)) return false;
      this.number = undefined;
      this.want = "commaOrClose";
    } else if (this.word) {
      if (/[0-9a-zA-Z.+-]/.test(ch)) {
        const word = this.word + ch;
        if (!isLiteralPrefix(word)) return false;
        this.word = word;
        return true;
      }
      if (!LITERALS.includes(this.word)) return false;
      this.word = "";
      this.want = "commaOrClose";
    }
    if (ch === " " || ch === "\n" || ch === "\r" || ch === "\t") return true;
    if (this.ended) return false;
    if (!this.started) {
      if (ch !== "{") return false;
      this.started = true;
      this.open.push(ch);
      return true;
    }
    switch (this.want) {
      case "key":
      case "keyOrClose":
        if (ch === '"') return this.startString(true);
        return (this.want === "keyOrClose" || this.#afterComma) && ch === "}" && this.close(ch);
      case "colon":
        if (ch !== ":") return false;
        this.want = "value";
        return true;
      case "commaOrClose":
        if (ch === ",") {
          this.want = this.open[this.open.length - 1] === "{" ? "key" : "value";
          return true;
        }
        return (ch === "}" || ch === "]") && this.close(ch);
      default: // value, valueOrClose
        if (ch === "]" && (this.want === "valueOrClose" || this.#afterComma)) return this.close(ch);
        if (ch === '"') return this.startString(false);
        if (ch === "{" || ch === "[") {
          this.open.push(ch);
          this.want = ch === "{" ? "keyOrClose" : "valueOrClose";
          return true;
        }
        this.number = numberStep(undefined, ch);
        if (this.number) return true;
        if (!isLiteralPrefix(ch)) return false;
        this.word = ch;
        return true;
    }
  }

  private inStringTake(ch: string): boolean {
    if (this.hex) {
      if (!HEX.test(ch)) return false;
      this.hex--;
    } else if (this.escaped) {
      if (!ESCAPES.includes(ch)) return false;
      this.escaped = false;
      if (ch === "u") this.hex = 4;
    } else if (ch === "\\") this.escaped = true;
    else if (ch === '"') {
      this.inString = false;
      this.want = this.stringIsKey ? "colon" : "commaOrClose";
    } else if (ch < " ") return false;
    return true;
  }

  private startString(key: boolean): boolean {
    this.inString = true;
    this.stringIsKey = key;
    return true;
  }

  private close(ch: string): boolean {
    if (this.open.pop() !== (ch === "}" ? "{" : "[")) return false;
    this.want = "commaOrClose";
    this.ended = this.open.length === 0;
    return true;
  }
}
