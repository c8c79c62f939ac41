// Masks known secrets in text. A few go in one pattern; past that, V8 takes seconds to compile
// an alternation of thousands of keys and scans text with it slowly, so many are found by their
// last characters instead, each place in the text looked up once.
import { sliceWhole } from "./whole_chars.ts";

export const MASK = "[REDACTED]";

/** Characters keys are made of, their URL-encoded forms included. */
const KEY_CHAR = /[\w.~+/=%-]/;

/**
 * Text from an upstream cut to at most `max` characters before it is masked: a cut inside a run
 * of key characters drops the run's start, since a secret is recognised only whole and a cut one
 * would go out nearly entire.
 */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  if (KEY_CHAR.test(text[max])) { while (end > 0 && KEY_CHAR.test(text[end - 1])) end--; }
  return sliceWhole(text, end);
}

/** Secrets up to this many go in one pattern (compiled in a few ms). */
const PATTERN_MAX = 256;
/** V8 refuses a pattern holding a literal of some 60,000 characters. */
const LITERAL_MAX = 4096;
/** Secrets are at least this long: the characters a secret is looked up by. */
const TAIL = 4;

export type Masker = (text: string) => string;

/**
 * A function masking every one of `secrets` (each at least 4 characters) wherever it occurs, with
 * MASK or what `replace` makes of the text masked.
 */
export function maskerFor(
  secrets: Iterable<string>,
  replace: (found: string) => string = () => MASK,
): Masker {
  // Longest first, so a secret that contains another is masked whole.
  const sorted = [...secrets].sort((a, b) => b.length - a.length);
  // Such secrets (a file pasted as a key) are cut out one by one.
  const long = sorted.filter((s) => s.length > LITERAL_MAX);
  const short = sorted.filter((s) => s.length <= LITERAL_MAX);
  const rest = short.length > PATTERN_MAX
    ? tailIndexMasker(short, replace)
    : patternMasker(short, replace);
  if (!long.length) return rest;
  return (text) => {
    for (const secret of long) {
      if (text.includes(secret)) text = text.split(secret).join(replace(secret));
    }
    return rest(text);
  };
}

function patternMasker(secrets: string[], replace: (found: string) => string): Masker {
  if (!secrets.length) return (text) => text;
  const pattern = new RegExp(secrets.map(escapeRegExp).join("|"), "g");
  return (text) => {
    pattern.lastIndex = 0;
    let m = pattern.exec(text);
    if (!m) return text;
    const found = new Stretches();
    while (m) {
      found.add(m.index, m.index + m[0].length);
      // From the next character, not past the match: a secret overlapping it is masked too.
      pattern.lastIndex = m.index + 1;
      m = pattern.exec(text);
    }
    return found.masked(text, replace);
  };
}

/** The stretches of a text to mask: kept sorted and apart, merged where they overlap. */
class Stretches {
  #starts: number[] = [];
  #ends: number[] = [];

  /** A stretch starting no earlier than the last one added, or ending no earlier. */
  add(start: number, end: number): void {
    const starts = this.#starts;
    const ends = this.#ends;
    while (starts.length && ends[ends.length - 1] > start && starts[starts.length - 1] < end) {
      start = Math.min(start, starts.pop()!);
      end = Math.max(end, ends.pop()!);
    }
    starts.push(start);
    ends.push(end);
  }

  masked(text: string, replace: (found: string) => string): string {
    let out = "";
    let at = 0;
    for (let i = 0; i < this.#starts.length; i++) {
      out += text.slice(at, this.#starts[i]) + replace(text.slice(this.#starts[i], this.#ends[i]));
      at = this.#ends[i];
    }
    return out + text.slice(at);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The 4 characters ending at `end`, as one number (13 bits each: other characters may collide). */
function tailKey(text: string, end: number): number {
  return (text.charCodeAt(end - 4) & 0x1fff) * 2 ** 39 +
    (text.charCodeAt(end - 3) & 0x1fff) * 2 ** 26 +
    (text.charCodeAt(end - 2) & 0x1fff) * 2 ** 13 +
    (text.charCodeAt(end - 1) & 0x1fff);
}

/**
 * By their last characters, not their first: keys of one kind share a prefix (`sk-proj-`,
 * `AIzaSy`) but end at random, so each place in the text has a candidate or two at most.
 */
function tailIndexMasker(secrets: string[], replace: (found: string) => string): Masker {
  const byTail = new Map<number, string[]>();
  for (const secret of secrets) {
    const key = tailKey(secret, secret.length);
    const list = byTail.get(key);
    // Each list stays longest first, as `secrets` came.
    if (list) list.push(secret);
    else byTail.set(key, [secret]);
  }
  return (text) => {
    let found: Stretches | undefined;
    for (let end = TAIL; end <= text.length; end++) {
      const list = byTail.get(tailKey(text, end));
      if (!list) continue;
      for (const secret of list) {
        const start = end - secret.length;
        if (start < 0 || !text.startsWith(secret, start)) continue;
        (found ??= new Stretches()).add(start, end);
        break;
      }
    }
    return found ? found.masked(text, replace) : text;
  };
}

/**
 * `sk-abc…wxyz`: enough to tell keys apart, never enough to use one: at least 14 characters stay
 * hidden. A shorter key has less to hide behind, so it shows less, nothing under 8 characters.
 */
export function maskKey(key: string): string {
  if (key.length < 8) return "•".repeat(Math.max(3, key.length));
  if (key.length < 20) return `•••…${key.slice(-2)}`;
  if (key.length < 24) return `${key.slice(0, 3)}…${key.slice(-2)}`;
  return `${key.slice(0, 6)}…${key.slice(-4)}`;
}

const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*):[^/?#@]*@/i;
/** A user without a password (`https://TOKEN@host`): a token given as the user name. */
const URL_USER_ONLY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#@:]+)@/i;
const URL_SECRET_PARAM =
  /([?&](?:key|api[-_]?key|token|access[-_]?token|secret|password)=)[^&#]*/gi;

/** A base URL as shown: a password or key it carries (`user:pass@`, `TOKEN@`, `?key=`) masked. */
export function maskUrl(url: string): string {
  return url.replace(URL_PASSWORD, "$1:•••@").replace(URL_USER_ONLY, "$1•••@")
    .replace(URL_SECRET_PARAM, "$1•••");
}

/** The password and keys a base URL carries (`user:pass@`, `?key=`), which maskUrl hides. */
export function urlSecrets(url: string): string[] {
  const out: string[] = [];
  const m = URL_PASSWORD.exec(url);
  const password = m?.[0].slice(m[1].length + 1, -1);
  if (password) out.push(password);
  const user = URL_USER_ONLY.exec(url)?.[2];
  if (user) out.push(user);
  for (const m of url.matchAll(URL_SECRET_PARAM)) {
    const value = m[0].slice(m[1].length);
    if (value) out.push(value);
  }
  for (const raw of [...out]) {
    try {
      const decoded = decodeURIComponent(raw);
      if (decoded !== raw) out.push(decoded);
    } catch { /* not percent-encoded */ }
  }
  return out;
}
