// One log line per finished request: enough to see where it went and what it cost. Bodies are
// masked and cut to LOG_BODY_MAX_BYTES by the observability recorder that wraps this logger.
import type { Logger } from "./log.ts";
import type { Recorder } from "./request_record.ts";
import { sliceWhole } from "./whole_chars.ts";

/** A client names its model: a megabyte of name must not make a megabyte line. */
const FIELD_MAX = 200;
const ERROR_MAX = 1000;

export function logLineRecorder(log: Logger): Recorder {
  return {
    record(rec) {
      const used = rec.attempts.filter((a) => a.outcome !== "skipped");
      const last = used[used.length - 1];
      // A stream that broke after its 200 went out failed all the same.
      const level = rec.status >= 500
        ? "error"
        : rec.status >= 400 || rec.errorMessage
        ? "warn"
        : "info";
      log.log(level, `${rec.path} ${rec.status}`, {
        requestId: rec.id,
        stream: rec.stream,
        upstream: rec.upstream,
        model: rec.requestedModel ? sliceWhole(rec.requestedModel, FIELD_MAX) : undefined,
        upstreamModel: rec.upstreamModel && sliceWhole(rec.upstreamModel, FIELD_MAX),
        key: last?.key,
        attempts: used.length,
        fallbacks: rec.fallbacks.length ? rec.fallbacks.join(",") : undefined,
        stop: rec.stopReason ?? undefined,
        ttfbMs: rec.ttfbMs,
        ms: rec.totalMs,
        in: rec.usage?.input_tokens,
        out: rec.usage?.output_tokens,
        error: rec.errorMessage && sliceWhole(rec.errorMessage, ERROR_MAX),
      });
      if (rec.requestBody !== undefined && log.enabled("info")) {
        log.log("info", "request body", {
          requestId: rec.id,
          body: rec.requestBody,
        });
      }
      if (rec.responseBody !== undefined && log.enabled("info")) {
        log.log("info", "response body", {
          requestId: rec.id,
          body: rec.responseBody,
        });
      }
    },
  };
}
