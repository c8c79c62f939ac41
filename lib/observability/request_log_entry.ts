// A finished request as the request log keeps it: a small summary for lists and filters, and the
// full entry (routing trace, bodies) for the detail view; redacted and kept under KV's 64 KiB.
import type { AttemptRecord, RequestRecord } from "../request_record.ts";
import { redactText, safeBody } from "./redact.ts";

export interface TokenCounts {
  input: number;
  output: number;
  cacheRead: number;
  cacheCreation: number;
}

export interface RequestLogSummary {
  id: string;
  /** Set by listings: the KV batch holding the entry, so its detail is found without a scan. */
  batch?: number;
  time: number;
  path: string;
  stream: boolean;
  clientKey?: string;
  model: string;
  upstreamModel?: string;
  upstream?: string;
  serviceType?: string;
  /** The last key called, masked. */
  key?: string;
  status: number;
  /** Failed, counting a stream that broke after it started; a client that left is not an error. */
  error: boolean;
  errorType?: string;
  errorMessage?: string;
  stopReason?: string;
  ttfbMs?: number;
  totalMs: number;
  /** Keys actually called (skipped ones excluded). */
  tries: number;
  retries: number;
  fallbacks: string[];
  tokens?: TokenCounts;
}

export interface RequestLogEntry extends RequestLogSummary {
  attempts: AttemptRecord[];
  /** Attempts left out to keep the entry small. */
  attemptsOmitted?: number;
  requestBody?: string;
  requestBodyTruncated?: boolean;
  responseBody?: string;
  responseBodyTruncated?: boolean;
}

/** KV refuses values over 64 KiB; leave room for the serialiser's own bytes. */
const MAX_ENTRY_COST = 60_000;
const MAX_ATTEMPTS = 40;

export function clientClosed(rec: Pick<RequestRecord, "status" | "errorMessage">): boolean {
  return rec.status === 499 || (rec.errorMessage?.startsWith("client closed") ?? false);
}

export function isError(
  rec: Pick<RequestRecord, "status" | "errorType" | "errorMessage">,
): boolean {
  if (clientClosed(rec)) return false;
  return rec.status >= 400 || rec.errorType !== undefined;
}

export function tokensOf(rec: RequestRecord): TokenCounts | undefined {
  const u = rec.usage;
  if (!u) return undefined;
  return {
    input: countOf(u.input_tokens),
    output: countOf(u.output_tokens),
    cacheRead: countOf(u.cache_read_input_tokens),
    cacheCreation: countOf(u.cache_creation_input_tokens),
  };
}

/**
 * A figure as counted, or 0 when an upstream's is no count (a string, below zero, 1e999): a KV sum
 * refuses what is past 64 bits, and one refused sum held back every usage figure after it.
 */
function countOf(v: unknown): number {
  return typeof v === "number" && v > 0 && v <= Number.MAX_SAFE_INTEGER ? Math.round(v) : 0;
}

export function summaryOf(entry: RequestLogEntry): RequestLogSummary {
  const {
    attempts: _a,
    attemptsOmitted: _o,
    requestBody: _rq,
    requestBodyTruncated: _rqt,
    responseBody: _rs,
    responseBodyTruncated: _rst,
    ...summary
  } = entry;
  return summary;
}

/** Bytes the structured-clone serialiser needs at most for `value` (2 per char beyond Latin-1). */
function costOf(value: unknown): number {
  const json = JSON.stringify(value) ?? "";
  // deno-lint-ignore no-control-regex
  return /[^\u0000-\u00ff]/.test(json) ? json.length * 2 : json.length;
}

const len = (text: string | undefined) => text?.length ?? 0;

/**
 * An entry's size in KV, bounded closely enough to pack ~60 entries in a value (a looser bound
 * packed 15, and the log's writes cost in proportion to the values): member names, tags and
 * numbers take under 700 bytes (150 per attempt), strings at most 2 bytes a character. Entries
 * with bodies are measured.
 */
export function entryCost(entry: RequestLogEntry): number {
  if (entry.requestBody !== undefined || entry.responseBody !== undefined) {
    return costOf(entry) + 300 + 50 * entry.attempts.length;
  }
  let chars = len(entry.id) + len(entry.path) + len(entry.clientKey) + len(entry.model) +
    len(entry.upstreamModel) + len(entry.upstream) + len(entry.serviceType) + len(entry.key) +
    len(entry.errorType) + len(entry.errorMessage) + len(entry.stopReason);
  for (const f of entry.fallbacks) chars += f.length + 4;
  let attempts = 0;
  for (const a of entry.attempts) {
    attempts += 150 + 2 * (len(a.upstream) + len(a.keyId) + len(a.key) + len(a.reason));
  }
  return 700 + 2 * chars + attempts;
}

export function buildEntry(
  rec: RequestRecord,
  options: { maxBodyBytes: number; redact: (text: string) => string },
): RequestLogEntry {
  const clean = (text: string | undefined) =>
    text === undefined ? undefined : redactText(text, options.redact);
  const clip = (text: string | undefined, max: number) =>
    text === undefined ? undefined : text.slice(0, max);
  const tried = rec.attempts.filter((a) => a.outcome !== "skipped").length;
  const attempts = rec.attempts.slice(0, MAX_ATTEMPTS).map((a) => ({
    ...a,
    reason: clean(clip(a.reason, 300)),
  }));
  const entry: RequestLogEntry = {
    id: rec.id,
    time: rec.time,
    path: rec.path,
    stream: rec.stream,
    clientKey: rec.clientKey,
    model: clean(clip(rec.requestedModel, 200))!,
    upstreamModel: clean(clip(rec.upstreamModel, 200)),
    upstream: rec.upstream,
    serviceType: rec.serviceType,
    key: rec.attempts.findLast((a) => a.outcome !== "skipped")?.key,
    status: rec.status,
    error: isError(rec),
    errorType: rec.errorType,
    errorMessage: clean(clip(rec.errorMessage, 1000)),
    stopReason: rec.stopReason ?? undefined,
    ttfbMs: rec.ttfbMs,
    totalMs: rec.totalMs,
    tries: tried,
    retries: Math.max(0, tried - 1),
    fallbacks: rec.fallbacks,
    tokens: tokensOf(rec),
    attempts,
  };
  if (rec.attempts.length > MAX_ATTEMPTS) {
    entry.attemptsOmitted = rec.attempts.length - MAX_ATTEMPTS;
  }
  if (rec.requestBody !== undefined) {
    const body = safeBody(rec.requestBody, options.maxBodyBytes, options.redact);
    entry.requestBody = body.text;
    if (body.truncated) entry.requestBodyTruncated = true;
  }
  if (rec.responseBody !== undefined) {
    const body = safeBody(rec.responseBody, options.maxBodyBytes, options.redact);
    entry.responseBody = body.text;
    if (body.truncated) entry.responseBodyTruncated = true;
  }
  return fitEntry(entry);
}

/** Shortens the longer body until the whole entry fits in a KV value. */
function fitEntry(entry: RequestLogEntry): RequestLogEntry {
  for (let i = 0; i < 50 && entryCost(entry) > MAX_ENTRY_COST; i++) {
    const req = entry.requestBody?.length ?? 0;
    const res = entry.responseBody?.length ?? 0;
    if (req === 0 && res === 0) {
      entry.attempts = entry.attempts.slice(0, Math.floor(entry.attempts.length / 2));
      continue;
    }
    if (req >= res) {
      entry.requestBody = entry.requestBody!.slice(0, Math.floor(req * 0.7));
      entry.requestBodyTruncated = true;
    } else {
      entry.responseBody = entry.responseBody!.slice(0, Math.floor(res * 0.7));
      entry.responseBodyTruncated = true;
    }
  }
  return entry;
}
