// Log lines: levelled, text or one JSON object per line, with every known secret masked.
import type { Config } from "./config.ts";
import { type Masker, maskerFor } from "./secret_mask.ts";

const LEVELS = { error: 0, warn: 1, info: 2, debug: 3 } as const;
export type Level = keyof typeof LEVELS;

/** One line of what the server says when it starts. */
export interface StartupLine {
  level: "info" | "warn";
  message: string;
  fields?: Record<string, unknown>;
}

export interface Logger {
  enabled(level: Level): boolean;
  log(level: Level, message: string, fields?: Record<string, unknown>): void;
  /**
   * The start-up lines, shown whatever LOG_LEVEL says (they tell what to set next): an indented
   * block in text, one object per line in JSON.
   */
  announce(lines: StartupLine[]): void;
  /** Adds a secret (a password, the access key) that must never be printed. */
  addSecret(secret: string | undefined): void;
  /**
   * The upstream keys configured now, never printed; keys configured before stay masked until
   * RETIRED_MAX newer ones have left the configuration.
   */
  setKeys(keys: Iterable<string>): void;
  redact(text: string): string;
}

/** One log line in the given format, unredacted. */
export function formatLine(
  format: Config["logFormat"],
  level: Level,
  message: string,
  fields?: Record<string, unknown>,
): string {
  if (format === "json") {
    return escapeC1(JSON.stringify({ time: isoNow(), level, msg: message, ...fields }));
  }
  // Messages are the proxy's own words; one that holds a line break or an escape is quoted.
  let line = `${isoNow()} ${LEVEL_TAGS[level]} ${
    UNSAFE_MESSAGE.test(message) ? escapeC1(JSON.stringify(message)) : message
  }`;
  for (const k in fields) {
    const v = fields[k];
    if (v === undefined) continue;
    // Values a client chose (a model name) may hold terminal escapes: those are quoted, escaped.
    line += typeof v === "number" || typeof v === "boolean"
      ? ` ${k}=${v}`
      : typeof v === "string" && !UNSAFE_IN_TEXT.test(v)
      ? ` ${k}=${v}`
      : ` ${k}=${escapeC1(JSON.stringify(v))}`;
  }
  return line;
}

const LEVEL_TAGS: Record<Level, string> = {
  error: "ERROR",
  warn: "WARN ",
  info: "INFO ",
  debug: "DEBUG",
};

let isoSecond = -1;
let isoPrefix = "";

/** The time as ISO 8601 with milliseconds; the date part is built once a second, not per line. */
function isoNow(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const ms = now - second * 1000;
  return `${isoPrefix}${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}Z`;
}

/** Keys no longer configured that stay masked: with their escaped forms, some 5,000 keys. */
const RETIRED_MAX = 10_000;

export function createLogger(
  config: Pick<Config, "logLevel" | "logFormat"> & Partial<Pick<Config, "onDeploy">>,
  write: (line: string, level: Level) => void = config.onDeploy ? consoleWrite : defaultWrite,
): Logger {
  const max = LEVELS[config.logLevel];
  if (write === defaultWrite) {
    logWriter.droppedLine = (n) =>
      formatLine(
        config.logFormat,
        "warn",
        "log lines were dropped: the output was not read in time",
        {
          dropped: n,
        },
      );
  }
  // The access key, the passwords: for the process's life.
  const fixed = new Set<string>();
  // The upstream keys configured now, and those configured before, still masked a while (a request
  // in flight, an error quoting it) but not for ever: a server whose keys are replaced again and
  // again would hold every key it ever had.
  let keys = new Set<string>();
  const retired = new Set<string>();
  let mask: Masker = (text) => text;
  // Built on the next use, not per secret: every instance learns every upstream key at start (on
  // Deno Deploy, every cold start).
  let stale = false;
  const learn = (set: Set<string>, secret: string | undefined, shortest: number) => {
    if (!secret || secret.length < shortest || set.has(secret)) return;
    set.add(secret);
    // Inside JSON text a secret with quotes or backslashes appears escaped: mask that form too.
    set.add(JSON.stringify(secret).slice(1, -1));
    // An upstream may echo a key from its URL (`?key=`), percent-encoded.
    set.add(encodeURIComponent(secret));
    stale = true;
  };
  const redact = (text: string) => {
    if (stale) {
      stale = false;
      mask = maskerFor(new Set([...fixed, ...keys, ...retired]));
    }
    return mask(text);
  };
  const redactLine = (line: string) => {
    const out = redact(line);
    if (config.logFormat !== "json" || out === line) return out;
    try {
      JSON.parse(out);
      return out;
    } catch {
      // A secret that reads as JSON (a key "true" or "1234") was masked outside a string, and
      // the line is no JSON any more: mask inside the strings only.
      const strings = (_: string, v: unknown) => typeof v === "string" ? redact(v) : v;
      return escapeC1(JSON.stringify(JSON.parse(line), strings));
    }
  };
  return {
    enabled: (level) => LEVELS[level] <= max,
    addSecret(secret) {
      learn(fixed, secret, 4);
    },
    setKeys(now) {
      const next = new Set<string>();
      // A shorter one (a local server's stand-in key, "ollama"; a URL's password "pass") is no
      // secret worth cutting out of every word that holds it ("[REDACTED]word").
      for (const key of now) learn(next, key, 8);
      let removed = 0;
      for (const key of keys) {
        if (next.has(key)) continue;
        retired.delete(key);
        retired.add(key);
        removed++;
      }
      for (const key of next) retired.delete(key);
      // Oldest first, and never those this change removed.
      const keep = Math.max(RETIRED_MAX, removed);
      for (const key of retired) {
        if (retired.size <= keep) break;
        retired.delete(key);
      }
      keys = next;
      stale = true;
    },
    redact,
    log(level, message, fields) {
      if (LEVELS[level] > max) return;
      write(redactLine(formatLine(config.logFormat, level, message, fields)), level);
    },
    announce(lines) {
      if (config.logFormat === "json") {
        for (const l of lines) {
          write(redactLine(formatLine("json", l.level, l.message, l.fields)), l.level);
        }
      } else {
        // One block on stdout, as people read it: the first line, then the rest indented.
        const text = lines.map((l, i) =>
          i === 0 ? l.message : `  ${l.level === "warn" ? "!! " : ""}${l.message}`
        );
        write(redact(text.join("\n")), "info");
      }
      // Whoever started the server is waiting for these lines.
      if (write === defaultWrite) logWriter.flushSync();
    },
  };
}

/**
 * Values printed bare in a text line: none with a space, a control or invisible character (a
 * direction override would turn the rest of the line around), or a `"` or `=` (a logfmt reader
 * would take the fields after it wrongly).
 */
const UNSAFE_IN_TEXT = /[\s\p{Cc}\p{Cf}"=]/u;
/** What may not stand unquoted in a message: what breaks or turns a line, not spaces. */
const UNSAFE_MESSAGE = /[\p{Cc}\p{Cf}\u2028\u2029]/u;
const C1 = /[\x7f-\x9f\p{Cf}\u2028\u2029]/gu;

/**
 * JSON text with DEL, the C1 controls, invisible format characters (direction overrides,
 * zero-width ones) and the line and paragraph separators escaped too: JSON.stringify leaves them
 * raw, and a viewer may break the line at a separator.
 */
function escapeC1(json: string): string {
  C1.lastIndex = 0;
  return C1.test(json)
    ? json.replace(C1, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`)
    : json;
}

function defaultWrite(line: string, level: Level): void {
  logWriter.add(line, level === "error" || level === "warn");
}

/** Deno Deploy shows each console.log as one entry: there, lines are not batched. */
function consoleWrite(line: string, level: Level): void {
  if (level === "error" || level === "warn") console.error(line);
  else console.log(line);
}

/**
 * Past this much waiting to be written while nothing was written for STALL_MS (nobody reads the
 * pipe: a paused terminal, a stuck log shipper), or past MAX_BEHIND however the writes go, lines
 * are dropped and counted, and the count is written once the reader is back. A burst the reader
 * is taking (a second's body lines, some MB, going to a file) is kept whole.
 */
const MAX_PENDING = 4 * 1024 * 1024;
const MAX_BEHIND = 64 * 1024 * 1024;
const STALL_MS = 1_000;
/** Written a piece at a time: a write to a pipe returns once all of it is in, so a batch of some MB
 * to a slow reader would look stalled while it reads. */
const WRITE_PIECE = 64 * 1024;
const BATCH_SIZE = 32 * 1024;

interface Pending {
  line: string;
  toStderr: boolean;
}

/**
 * Log lines go out in batches (a write of its own cost each request more than making its line),
 * in order, warnings and errors to stderr at once. The writes are asynchronous: a synchronous one
 * to a pipe nobody read held the whole server, every request with it, until someone did.
 */
class LogWriter {
  #pending: Pending[] = [];
  #size = 0;
  #dropped = 0;
  #timer?: ReturnType<typeof setTimeout>;
  /** The timer set goes off at once: a line that would set it so again changes nothing. */
  #soon = false;
  #writing?: Promise<void>;
  /** When the output last took bytes (or a write began). */
  #progressAt = 0;
  /** Bytes taken to be written and not yet written: behind as much as those waiting. */
  #unwritten = 0;
  /** A drain at exit gave up on a reader that never came back: exit without waiting on it. */
  #stuck = false;
  /** How the count of dropped lines is said, in the log's format. */
  droppedLine = (n: number) => `${n} log lines were dropped: the output was not read in time`;

  constructor() {
    // A crash or an exit must not swallow the last lines.
    globalThis.addEventListener("unload", () => this.flushSync());
    globalThis.addEventListener("error", () => this.flushSync());
  }

  add(line: string, toStderr: boolean): void {
    const size = this.#size + this.#unwritten + line.length;
    if (
      size > MAX_PENDING &&
      (size > MAX_BEHIND || (this.#writing && Date.now() - this.#progressAt > STALL_MS))
    ) {
      this.#dropped++;
      return;
    }
    this.#pending.push({ line, toStderr });
    this.#size += line.length;
    // From a timer, never from here: a caller that exits right after logging finds every line
    // still queued, and the exit writes them in order.
    const wait = toStderr || this.#size >= BATCH_SIZE ? 0 : 50;
    if (this.#timer === undefined) this.#schedule(wait);
    else if (wait === 0 && !this.#soon) {
      clearTimeout(this.#timer);
      this.#schedule(0);
    }
  }

  #schedule(ms: number): void {
    const timer = setTimeout(() => {
      this.#timer = undefined;
      this.#soon = false;
      this.#start();
    }, ms);
    Deno.unrefTimer(timer);
    this.#timer = timer;
    this.#soon = ms === 0;
  }

  #start(): void {
    if (this.#writing || (this.#pending.length === 0 && this.#dropped === 0)) return;
    const chunks = this.#take();
    this.#progressAt = Date.now();
    for (const [, bytes] of chunks) this.#unwritten += bytes.length;
    this.#writing = (async () => {
      for (const [toStderr, bytes] of chunks) {
        const out = toStderr ? Deno.stderr : Deno.stdout;
        try {
          for (let at = 0; at < bytes.length;) {
            const n = await out.write(bytes.subarray(at, at + WRITE_PIECE));
            at += n;
            this.#unwritten -= n;
            this.#progressAt = Date.now();
          }
        } catch { /* that output is gone: there is no one to tell */ }
      }
    })().finally(() => {
      this.#writing = undefined;
      this.#unwritten = 0;
      if (this.#pending.length || this.#dropped) this.#start();
    });
  }

  /** What is queued, as bytes per output in order, the dropped count first. */
  #take(): Array<[boolean, Uint8Array]> {
    const pending = this.#pending;
    this.#pending = [];
    this.#size = 0;
    if (this.#dropped) {
      pending.unshift({ line: this.droppedLine(this.#dropped), toStderr: true });
      this.#dropped = 0;
    }
    const chunks: Array<[boolean, Uint8Array]> = [];
    for (let i = 0; i < pending.length;) {
      const toStderr = pending[i].toStderr;
      let j = i;
      while (j < pending.length && pending[j].toStderr === toStderr) j++;
      const text = pending.slice(i, j).map((p) => p.line).join("\n") + "\n";
      chunks.push([toStderr, encoder.encode(text)]);
      i = j;
    }
    return chunks;
  }

  /** Writes what is queued now, blocking (start-up lines, exit); not past a stuck reader. */
  flushSync(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#soon = false;
    if (this.#stuck) return;
    if (this.#writing) return this.#start();
    for (const [toStderr, bytes] of this.#take()) {
      const out = toStderr ? Deno.stderr : Deno.stdout;
      try {
        for (let at = 0; at < bytes.length;) at += out.writeSync(bytes.subarray(at));
      } catch { /* that output is gone */ }
    }
  }

  /** Resolves once every line is written, or after `ms` with a reader that does not read. */
  async drain(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (this.#pending.length || this.#dropped || this.#writing) {
      const left = end - Date.now();
      if (left <= 0) {
        this.#stuck = true;
        return;
      }
      this.#start();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#writing,
        new Promise((r) => timer = setTimeout(r, left)),
      ]);
      clearTimeout(timer);
    }
  }
}

const encoder = new TextEncoder();
const logWriter = new LogWriter();

/** Before an exit: the log lines still queued written, waiting at most `ms` on the reader. */
export function drainLog(ms: number): Promise<void> {
  return logWriter.drain(ms);
}
