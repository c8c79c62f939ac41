// createObservability: what happens to every finished request. One log line at once; metrics and
// usage sums in memory; request log entries queued. KV writes happen later, in batches, off the
// request's path: record() only ever does in-memory work and never throws.
import { messageOf } from "../errors.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { logLineRecorder } from "../request_log_line.ts";
import type { Recorder, RequestRecord } from "../request_record.ts";
import { RequestLogStore } from "../store/request_log_store.ts";
import { UsageStore, UsageWriteError } from "../store/usage_store.ts";
import { FlushTimer } from "./flush_timer.ts";
import { Metrics } from "./metrics.ts";
import { redactText, safeBody } from "./redact.ts";
import { buildEntry } from "./request_log_entry.ts";
import { UsageAggregator } from "./usage_aggregator.ts";

export interface ObservabilityOptions {
  now?: () => number;
  /** Request log entries are written this long after the first is queued (ms). */
  logFlushMs?: number;
  /** Or at once when this many are queued. */
  logBatchSize?: number;
  /** Past this many queued entries (KV too slow or down) the oldest are dropped. */
  maxQueue?: number;
  /** Usage sums are written this long after the first request since the last write (ms). */
  usageFlushMs?: number;
}

export interface Observability {
  recorder: Recorder;
  requestLog: RequestLogStore;
  usage: UsageStore;
  metrics: Metrics;
  /** Writes everything recorded so far (request log and usage); for shutdown, tests, pages. */
  flush(): Promise<void>;
  /** Writes the usage sums only: cheap, for pages that show them. */
  flushUsage(): Promise<void>;
  /** Stops the background timers; call flush() first to keep what is queued. */
  close(): void;
}

/** Fields of the request line that never hold a secret: ids, config names, masked keys. */
const SAFE_FIELDS = new Set(["requestId", "upstream", "key", "fallbacks", "stop"]);

/**
 * The logger as the per-request log line sees it: every field cleared of credential-shaped text,
 * not only of the secrets the logger knows. Body lines (ENABLE_REQUEST_LOGS and
 * ENABLE_RESPONSE_LOGS) are handed to `later`: masking kilobytes is work for the flush, not for
 * the request.
 */
function lineLogger(
  log: Logger,
  mask: (text: string) => string,
  later: (write: () => void) => void,
  maxBodyBytes: number,
): Logger {
  // The logger masks every known secret in the whole line again, so one added after a name was
  // first masked is still caught.
  return {
    ...log,
    log(level, message, fields) {
      if (!log.enabled(level)) return;
      if (typeof fields?.body === "string") {
        later(() => {
          const body = safeBody(fields.body as string, maxBodyBytes, log.redact).text;
          log.log(level, message, { ...fields, body });
        });
        return;
      }
      const safe: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(fields ?? {})) {
        safe[k] = typeof v === "string" && !SAFE_FIELDS.has(k) ? mask(v) : v;
      }
      log.log(level, message, safe);
    },
  };
}

/** Names a client may invent without bound (models): past this many the memory starts over. */
const MASKED_TEXTS_MAX = 1000;

/**
 * `redactText`, remembered per text: model and upstream names repeat on every request, in the
 * log line, the metrics and the usage figures alike, so each distinct one is masked once.
 */
function maskedOnce(log: Logger): (text: string) => string {
  const masked = new Map<string, string>();
  return (text) => {
    let out = masked.get(text);
    if (out === undefined) {
      out = redactText(text, log.redact);
      if (masked.size > MASKED_TEXTS_MAX) masked.clear();
      masked.set(text, out);
    }
    return out;
  };
}

const PRUNE_EVERY_MS = 3_600_000;
const ERROR_LOG_EVERY_MS = 60_000;

export function createObservability(
  kv: Deno.Kv,
  config: Config,
  log: Logger,
  options: ObservabilityOptions = {},
): Observability {
  const now = options.now ?? Date.now;
  const clean = maskedOnce(log);
  let bodyLines: Array<() => void> = [];
  const line = logLineRecorder(lineLogger(log, clean, (write) => {
    bodyLines.push(write);
    logTimer.poke();
  }, config.logBodyMaxBytes));
  const metrics = new Metrics(clean);
  const aggregator = new UsageAggregator(clean);
  const requestLog = new RequestLogStore(kv, {
    max: config.requestLogMax,
    ttlMs: config.requestLogTtlHours * 3_600_000,
    now,
  });
  const usage = new UsageStore(kv);
  // Each append costs several KV round trips: fewer, larger batches cost far less per entry.
  const batchSize = options.logBatchSize ?? 500;
  const maxQueue = options.maxQueue ?? 5_000;
  let queue: RequestRecord[] = [];
  let lastPrune = 0;
  let lastErrorLog = 0;

  const complain = (what: string) => (err: unknown) => {
    const t = now();
    if (t - lastErrorLog < ERROR_LOG_EVERY_MS) return;
    lastErrorLog = t;
    log.log("error", what, { error: messageOf(err) });
  };

  const logTimer = new FlushTimer(options.logFlushMs ?? 1_000, async () => {
    const writes = bodyLines;
    bodyLines = [];
    for (const write of writes) write();
    // What is queued now, in batches; what comes meanwhile waits for the next run. Chasing it
    // made a commit of a few entries after every write under load, and commits cost KV far more
    // than the entries in them.
    let pending = queue;
    queue = [];
    while (pending.length > 0) {
      const batch = pending.slice(0, batchSize);
      pending = pending.slice(batch.length);
      const entries = batch.map((rec) =>
        buildEntry(rec, { maxBodyBytes: config.logBodyMaxBytes, redact: log.redact })
      );
      try {
        await requestLog.append(entries);
      } catch (err) {
        // Not queued again: an entry the store refuses would block every later one. The batches
        // after it go back, ahead of what came meanwhile.
        metrics.dropped.add({}, batch.length);
        queue = pending.concat(queue);
        throw err;
      }
    }
  }, complain("could not write the request log"));

  const usageTimer = new FlushTimer(options.usageFlushMs ?? 2_000, async () => {
    if (aggregator.size > 0) {
      const { deltas, minutes } = aggregator.drain();
      try {
        await usage.add(deltas, minutes);
      } catch (err) {
        // Only what is not in yet goes back: the rest would be counted twice.
        const left = err instanceof UsageWriteError ? err.unwritten : { deltas, minutes };
        aggregator.restore(left.deltas, left.minutes);
        throw err;
      }
    }
    if (now() - lastPrune >= PRUNE_EVERY_MS) {
      lastPrune = now();
      await usage.prune(now());
    }
  }, complain("could not write the usage counters"));

  const recorder: Recorder = {
    record(rec) {
      // Refusals too (a wrong access key, a body that is no JSON, the concurrency limit): they
      // are what someone setting up a client looks for, and lines cost no KV.
      try {
        line.record(rec);
      } catch { /* a log line must never fail a request */ }
      try {
        metrics.observe(rec);
        aggregator.add(rec);
        usageTimer.poke();
        if (requestLog.max > 0 && !rec.refused) {
          queue.push(rec);
          if (queue.length > maxQueue) {
            // Drop a tenth at a time so a backlog costs one copy per many requests.
            const drop = queue.length - maxQueue + Math.floor(maxQueue / 10);
            queue = queue.slice(drop);
            metrics.dropped.add({}, drop);
          }
          logTimer.poke(queue.length >= batchSize);
        }
      } catch (err) {
        complain("could not record a request")(err);
      }
    },
  };

  return {
    recorder,
    requestLog,
    usage,
    metrics,
    async flush() {
      await Promise.all([logTimer.flush(), usageTimer.flush()]);
    },
    flushUsage: () => usageTimer.flush(),
    close() {
      logTimer.close();
      usageTimer.close();
    },
  };
}
