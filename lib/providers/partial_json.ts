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
 * Follows a JSON object streamed in pieces, to tell how much of each piece still continues it: a
 * client parses the pieces joined, so nothing may follow the object's end, and it must be an
 * object from its first character. Nesting and strings are tracked; other grammar is not.
 */
export class ObjectPrefix {
  /** Open `{` and `[`, innermost last; empty before the object starts and after it ends. */
  private open: string[] = [];
  private inString = false;
  private escaped = false;
  /** The first character was `{`. */
  started = false;
  private ended = false;

  /** How many characters of `piece` continue the object (all of them, or where it went wrong). */
  accept(piece: string): number {
    for (let i = 0; i < piece.length; i++) {
      const ch = piece[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (ch === "\\") this.escaped = true;
        else if (ch === '"') this.inString = false;
        continue;
      }
      if (ch === " " || ch === "\n" || ch === "\r" || ch === "\t") continue;
      if (this.ended || (!this.started && ch !== "{")) return i;
      this.started = true;
      if (ch === '"') this.inString = true;
      else if (ch === "{" || ch === "[") this.open.push(ch);
      else if (ch === "}" || ch === "]") {
        if (this.open.pop() !== (ch === "}" ? "{" : "[")) return i;
        this.ended = this.open.length === 0;
      }
    }
    return piece.length;
  }
}
