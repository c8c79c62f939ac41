// Log lines: levelled, text or one JSON object per line, with every known secret masked.
import type { Config } from "./config.ts";

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
  /** Adds a secret (upstream key, password) that must never be printed. */
  addSecret(secret: string | undefined): void;
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
  let line = `${isoNow()} ${LEVEL_TAGS[level]} ${message}`;
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

export function createLogger(
  config: Pick<Config, "logLevel" | "logFormat"> & Partial<Pick<Config, "onDeploy">>,
  write: (line: string, level: Level) => void = config.onDeploy ? consoleWrite : defaultWrite,
): Logger {
  const max = LEVELS[config.logLevel];
  const secrets = new Set<string>();
  let pattern: RegExp | null = null;
  // Built on the next use, not per secret: every instance learns every upstream key at start (on
  // Deno Deploy, every cold start), and rebuilding it per key took seconds for a few thousand.
  let stale = false;
  const redact = (text: string) => {
    if (stale) {
      stale = false;
      // Longest first, so a secret that contains another is masked whole.
      const sorted = [...secrets].sort((a, b) => b.length - a.length);
      pattern = new RegExp(sorted.map(escapeRegExp).join("|"), "g");
    }
    return pattern ? text.replace(pattern, "[REDACTED]") : text;
  };
  return {
    enabled: (level) => LEVELS[level] <= max,
    addSecret(secret) {
      if (!secret || secret.length < 4 || secrets.has(secret)) return;
      secrets.add(secret);
      // Inside JSON text a secret with quotes or backslashes appears escaped: mask that form too.
      secrets.add(JSON.stringify(secret).slice(1, -1));
      stale = true;
    },
    redact,
    log(level, message, fields) {
      if (LEVELS[level] > max) return;
      write(redact(formatLine(config.logFormat, level, message, fields)), level);
    },
    announce(lines) {
      if (config.logFormat === "json") {
        for (const l of lines) {
          write(redact(formatLine("json", l.level, l.message, l.fields)), l.level);
        }
      } else {
        // One block on stdout, as people read it: the first line, then the rest indented.
        const text = lines.map((l, i) =>
          i === 0 ? l.message : `  ${l.level === "warn" ? "!! " : ""}${l.message}`
        );
        write(redact(text.join("\n")), "info");
      }
      // Whoever started the server is waiting for these lines.
      if (write === defaultWrite) stdoutBatch.flush();
    },
  };
}

const UNSAFE_IN_TEXT = /[\s\p{Cc}]/u;
const C1 = /[\x7f-\x9f]/g;

/** JSON text with DEL and the C1 controls escaped too (JSON.stringify leaves them raw). */
function escapeC1(json: string): string {
  C1.lastIndex = 0;
  return C1.test(json)
    ? json.replace(C1, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`)
    : json;
}

function defaultWrite(line: string, level: Level): void {
  if (level === "error" || level === "warn") {
    stdoutBatch.flush();
    console.error(line);
  } else stdoutBatch.add(line);
}

/** Deno Deploy shows each console.log as one entry: there, lines are not batched. */
function consoleWrite(line: string, level: Level): void {
  if (level === "error" || level === "warn") console.error(line);
  else console.log(line);
}

/**
 * Info and debug lines (one per request) go to stdout in batches: a write of its own cost each
 * request more than making its line. Warnings and errors go at once, after what was batched.
 */
class StdoutBatch {
  #lines: string[] = [];
  #size = 0;
  #timer?: ReturnType<typeof setTimeout>;

  constructor() {
    // A crash or an exit must not swallow the last lines.
    globalThis.addEventListener("unload", () => this.flush());
    globalThis.addEventListener("error", () => this.flush());
  }

  add(line: string): void {
    this.#lines.push(line);
    this.#size += line.length;
    if (this.#size >= 32 * 1024) this.flush();
    else if (this.#timer === undefined) {
      const timer = setTimeout(() => this.flush(), 50);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lines.length === 0) return;
    const bytes = encoder.encode(this.#lines.join("\n") + "\n");
    this.#lines = [];
    this.#size = 0;
    try {
      for (let at = 0; at < bytes.length;) at += Deno.stdout.writeSync(bytes.subarray(at));
    } catch { /* stdout is gone: there is no one to tell */ }
  }
}

const encoder = new TextEncoder();
const stdoutBatch = new StdoutBatch();

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
