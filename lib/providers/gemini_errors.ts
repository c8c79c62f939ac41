// How Gemini reports errors, in an error answer or inside a 200, classified as failures: whose
// fault, and when to try again (a daily quota waits for Google's midnight).
import { countOr0, isObject } from "../json_value.ts";
import { failureFromStatus, parseDuration } from "./failure.ts";
import type { UpstreamFailure } from "./types.ts";
import { clip } from "../secret_mask.ts";

let pacificClock: Intl.DateTimeFormat | undefined;

/** Milliseconds to the next midnight in California, when Gemini's daily quotas reset. */
function msUntilPacificMidnight(now: number): number {
  try {
    pacificClock ??= new Intl.DateTimeFormat("en-US", {
      timeZone: "America/Los_Angeles",
      hourCycle: "h23",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    const parts = pacificClock.formatToParts(new Date(now));
    const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
    const elapsed = ((get("hour") % 24) * 60 + get("minute")) * 60 + get("second");
    return (86_400 - elapsed) * 1000;
  } catch {
    return 3_600_000;
  }
}

/** A Gemini error object (`{code, message, status, details}`) classified. */
export function geminiFailure(
  httpStatus: number,
  error: unknown,
  headers: Headers,
  fallbackText = "",
  now = Date.now(),
): UpstreamFailure {
  const err = isObject(error) ? error : {};
  const status = httpStatus || countOr0(err.code) || 500;
  const message = typeof err.message === "string" && err.message
    ? err.message
    : clip(fallbackText.trim(), 500) || `Gemini answered HTTP ${status}`;
  const details = Array.isArray(err.details) ? err.details.filter(isObject) : [];
  const keyRejected =
    details.some((d) => typeof d.reason === "string" && /API_KEY/.test(d.reason)) ||
    /API key (not valid|expired)/i.test(message);
  // "Gemini API free tier is not available in your country. Please enable billing on your
  // project": the key's project, as a key of a project with billing answers (a region refusal
  // without that word is every key's alike, and stays the request's).
  const projectRefused = err.status === "FAILED_PRECONDITION" && /\bbilling\b/i.test(message);
  if (status === 400 && (keyRejected || projectRefused)) {
    // Gemini says 400 for a bad key; it is the key's fault, not the client's request.
    return failureFromStatus(401, message, headers, { invalidKey: true });
  }
  // A file of the Files API the request names that is gone (they expire after 48 hours) or
  // another project's: every key would hear the same, and none is to blame for it.
  if (status === 403 && /\bpermission to access the File\b/i.test(message)) {
    return failureFromStatus(400, message, headers);
  }
  if (status === 429) {
    let retryAfterMs: number | undefined;
    let perDay = false;
    for (const d of details) {
      const type = String(d["@type"] ?? "");
      if (type.endsWith("RetryInfo") && typeof d.retryDelay === "string") {
        retryAfterMs = parseDuration(d.retryDelay);
      }
      if (type.endsWith("QuotaFailure") && Array.isArray(d.violations)) {
        perDay ||= d.violations.some((v) =>
          isObject(v) && typeof v.quotaId === "string" && /PerDay/i.test(v.quotaId)
        );
      }
    }
    if (perDay) retryAfterMs = Math.max(msUntilPacificMidnight(now), 3_600_000);
    return failureFromStatus(429, message, headers, { retryAfterMs });
  }
  return failureFromStatus(status, message, headers);
}

/** An error answer (status and body text) classified. */
export function geminiErrorFailure(
  status: number,
  bodyText: string,
  headers: Headers,
): UpstreamFailure {
  let error: unknown;
  try {
    const json = JSON.parse(bodyText);
    // The non-SSE stream endpoint wraps everything, errors included, in an array.
    error = (Array.isArray(json) ? json[0] : json)?.error;
  } catch { /* not JSON: the text is the message */ }
  return geminiFailure(status, error, headers, bodyText);
}
