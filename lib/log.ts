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
    return escapeC1(
      JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields }),
    );
  }
  // Values a client chose (a model name) may hold terminal escapes: those are quoted, escaped.
  const extra = fields
    ? Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) =>
      `${k}=${typeof v === "string" && !UNSAFE_IN_TEXT.test(v) ? v : escapeC1(JSON.stringify(v))}`
    ).join(" ")
    : "";
  return `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}${
    extra ? " " + extra : ""
  }`;
}

export function createLogger(
  config: Pick<Config, "logLevel" | "logFormat">,
  write: (line: string, level: Level) => void = defaultWrite,
): Logger {
  const max = LEVELS[config.logLevel];
  let secrets: string[] = [];
  let pattern: RegExp | null = null;
  const redact = (text: string) => pattern ? text.replace(pattern, "[REDACTED]") : text;
  return {
    enabled: (level) => LEVELS[level] <= max,
    addSecret(secret) {
      if (!secret || secret.length < 4 || secrets.includes(secret)) return;
      // Inside JSON text a secret with quotes or backslashes appears escaped: mask that form too.
      const escaped = JSON.stringify(secret).slice(1, -1);
      const forms = escaped === secret ? [secret] : [secret, escaped];
      secrets = [...secrets, ...forms].sort((a, b) => b.length - a.length);
      pattern = new RegExp(secrets.map(escapeRegExp).join("|"), "g");
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
        return;
      }
      // One block on stdout, as people read it: the first line, then the rest indented.
      const text = lines.map((l, i) =>
        i === 0 ? l.message : `  ${l.level === "warn" ? "!! " : ""}${l.message}`
      );
      write(redact(text.join("\n")), "info");
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
  if (level === "error" || level === "warn") console.error(line);
  else console.log(line);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
