// Every Deno KV key the application uses, defined once.

export const keys = {
  configMeta: () => ["config", "meta"] as const,
  configChunk: (i: number) => ["config", "chunk", i] as const,

  keyHealth: (upstream: string, keyId: string, model: string) =>
    ["key_health", upstream, keyId, model] as const,
  keyHealthPrefix: () => ["key_health"] as const,
  keyHealthVersion: () => ["key_health_version"] as const,

  adminSession: (id: string) => ["admin_sessions", id] as const,
  loginAttempts: (address: string) => ["login_attempts", address] as const,

  requestLog: (time: number, id: string) => ["request_log", time, id] as const,
  requestLogPrefix: () => ["request_log"] as const,
  requestLogById: (id: string) => ["request_log_by_id", id] as const,
  /** Write order of log entries, so the oldest beyond REQUEST_LOG_MAX can be trimmed by range. */
  requestLogSeq: (seq: number) => ["request_log_seq", seq] as const,
  requestLogSeqPrefix: () => ["request_log_seq"] as const,
  /** `next`: the next sequence number; `trimmed`: every sequence below it has been deleted. */
  requestLogMeta: (name: "next" | "trimmed") => ["request_log_meta", name] as const,

  usage: (bucket: "hour" | "day", start: number, dimension: string, metric: string) =>
    ["usage", bucket, start, dimension, metric] as const,
  usagePrefix: (bucket: "hour" | "day") => ["usage", bucket] as const,
  /** Per-minute totals (every upstream together) for "the last hour" figures. */
  usageMinute: (start: number, metric: string) => ["usage_minute", start, metric] as const,
  usageMinutePrefix: () => ["usage_minute"] as const,
};
