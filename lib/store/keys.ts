// Every Deno KV key the application uses, defined once.

export const keys = {
  configMeta: () => ["config", "meta"] as const,
  configChunk: (i: number) => ["config", "chunk", i] as const,

  /** A key's health at one server (`healthId`: its base URL and the key, hashed), for a model. */
  keyHealth: (healthId: string, model: string) =>
    ["key_health_by_server", healthId, model] as const,
  keyHealthPrefix: () => ["key_health_by_server"] as const,
  keyHealthVersion: () => ["key_health_version"] as const,
  /** The layout before: ["key_health", upstream name, key id, model], moved when the store opens. */
  legacyKeyHealthPrefix: () => ["key_health"] as const,

  adminSession: (id: string) => ["admin_sessions", id] as const,
  loginAttempts: (address: string) => ["login_attempts", address] as const,

  /** A batch of request log entries, keyed by the sequence number of its first entry. */
  requestLogBatch: (firstSeq: number) => ["request_log", firstSeq] as const,
  requestLogBatchPrefix: () => ["request_log"] as const,
  /** `next`: the next sequence number of the request log, shared by every instance. */
  requestLogMeta: (name: "next") => ["request_log_meta", name] as const,

  usage: (bucket: "hour" | "day", start: number, dimension: string, metric: string) =>
    ["usage", bucket, start, dimension, metric] as const,
  usagePrefix: (bucket: "hour" | "day") => ["usage", bucket] as const,
  /** Per-minute totals (every upstream together) for "the last hour" figures. */
  usageMinute: (start: number, metric: string) => ["usage_minute", start, metric] as const,
  usageMinutePrefix: () => ["usage_minute"] as const,
};
