// One log line per finished request: enough to see where it went and what it cost. Bodies are
// masked and cut to LOG_BODY_MAX_BYTES by the observability recorder that wraps this logger.
import type { Logger } from "./log.ts";
import type { Recorder } from "./request_record.ts";

export function logLineRecorder(log: Logger): Recorder {
  return {
    record(rec) {
      const used = rec.attempts.filter((a) => a.outcome !== "skipped");
      const last = used[used.length - 1];
      const level = rec.status >= 500 ? "error" : rec.status >= 400 ? "warn" : "info";
      log.log(level, `${rec.path} ${rec.status}`, {
        requestId: rec.id,
        stream: rec.stream,
        upstream: rec.upstream,
        model: rec.requestedModel || undefined,
        upstreamModel: rec.upstreamModel,
        key: last?.key,
        attempts: used.length,
        fallbacks: rec.fallbacks.length ? rec.fallbacks.join(",") : undefined,
        stop: rec.stopReason ?? undefined,
        ttfbMs: rec.ttfbMs,
        ms: rec.totalMs,
        in: rec.usage?.input_tokens,
        out: rec.usage?.output_tokens,
        error: rec.errorMessage,
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
