// Sums finished requests in memory by bucket and dimension; drained into the usage store from time
// to time, so the counters cost a few KV sums per flush instead of writes per request.
import type { RequestRecord } from "../request_record.ts";
import {
  type Bucket,
  bucketStart,
  type MinuteDelta,
  type UsageDelta,
} from "../store/usage_store.ts";
import { bucketIndex } from "./latency_buckets.ts";
import { isError, type TokenCounts, tokensOf } from "./request_log_entry.ts";

/** Metric name of latency bucket `i` (counts per bucket, not cumulative). */
export function latencyMetric(i: number): string {
  return `latency_b${i}`;
}

/** A model name as a dimension: bounded in length, and in number per flush. */
const MAX_DIMENSIONS = 2_000;
const OTHER_MODEL = "model:(other)";

export function modelOf(rec: Pick<RequestRecord, "upstreamModel" | "requestedModel">): string {
  return (rec.upstreamModel ?? rec.requestedModel ?? "").slice(0, 100) || "(none)";
}

interface Row {
  bucket: Bucket;
  start: number;
  dimension: string;
  values: Record<string, number>;
}

const BUCKETS: readonly Bucket[] = ["hour", "day"];

export class UsageAggregator {
  #rows = new Map<string, Row>();
  #recentHour = new Map<string, Row>();
  #recentDay = new Map<string, Row>();
  #minutes = new Map<string, MinuteDelta>();
  #dimensions = new Set<string>();

  constructor(private clean: (text: string) => string = (t) => t) {}

  get size(): number {
    return this.#rows.size + this.#minutes.size;
  }

  add(rec: RequestRecord): void {
    const error = isError(rec);
    const tokens = tokensOf(rec);
    const latency = latencyIndex(rec.totalMs);
    const requestDims = ["all", `model:${this.clean(modelOf(rec))}`];
    if (rec.upstream) requestDims.push(`upstream:${rec.upstream}`);
    for (const raw of requestDims) {
      this.#addAll(rec.time, this.#dimension(raw), error, tokens, rec.totalMs, latency);
    }
    // Keys are counted per call, so a key that keeps failing shows even when a retry saved it.
    for (const a of rec.attempts) {
      if (a.outcome === "skipped") continue;
      const ok = a.outcome === "ok";
      const ms = a.ms ?? 0;
      this.#addAll(
        rec.time,
        this.#dimension(`key:${a.upstream}/${a.keyId}`),
        !ok,
        ok ? tokens : undefined,
        ms,
        latencyIndex(ms),
      );
    }
    const minute = bucketStart("minute", rec.time);
    this.#addMinute(minute, "requests", 1);
    if (error) this.#addMinute(minute, "errors", 1);
  }

  /** Everything summed since the last drain, and forgets it. */
  drain(): { deltas: UsageDelta[]; minutes: MinuteDelta[] } {
    const deltas: UsageDelta[] = [];
    for (const { bucket, start, dimension, values } of this.#rows.values()) {
      for (const metric in values) {
        const value = values[metric];
        if (value > 0) deltas.push({ bucket, start, dimension, metric, value });
      }
    }
    const out = { deltas, minutes: [...this.#minutes.values()] };
    this.#rows = new Map();
    this.#recentHour = new Map();
    this.#recentDay = new Map();
    this.#minutes = new Map();
    this.#dimensions = new Set();
    return out;
  }

  /** Puts back what a failed flush could not write, so it is tried again. */
  restore(deltas: UsageDelta[], minutes: MinuteDelta[]): void {
    for (const d of deltas) {
      const values = this.#row(d.bucket, d.start, d.dimension);
      values[d.metric] = (values[d.metric] ?? 0) + d.value;
    }
    for (const m of minutes) this.#addMinute(m.start, m.metric, m.value);
  }

  #dimension(dim: string): string {
    if (this.#dimensions.has(dim)) return dim;
    if (this.#dimensions.size >= MAX_DIMENSIONS && dim.startsWith("model:")) return OTHER_MODEL;
    this.#dimensions.add(dim);
    return dim;
  }

  #addAll(
    time: number,
    dimension: string,
    error: boolean,
    tokens: TokenCounts | undefined,
    ms: number,
    latency: string,
  ): void {
    for (const bucket of BUCKETS) {
      const v = this.#row(bucket, bucketStart(bucket, time), dimension);
      v.requests = (v.requests ?? 0) + 1;
      if (error) v.errors = (v.errors ?? 0) + 1;
      if (tokens) {
        v.input_tokens = (v.input_tokens ?? 0) + tokens.input;
        v.output_tokens = (v.output_tokens ?? 0) + tokens.output;
        v.cache_read_tokens = (v.cache_read_tokens ?? 0) + tokens.cacheRead;
        v.cache_creation_tokens = (v.cache_creation_tokens ?? 0) + tokens.cacheCreation;
      }
      v.latency_ms_sum = (v.latency_ms_sum ?? 0) + Math.max(0, ms);
      v[latency] = (v[latency] ?? 0) + 1;
    }
  }

  #row(bucket: Bucket, start: number, dimension: string): Record<string, number> {
    // The same few rows take every request of an hour: remember the last one per bucket and
    // dimension instead of building its id again.
    const recentKey = bucket === "hour" ? this.#recentHour : this.#recentDay;
    const recent = recentKey.get(dimension);
    if (recent && recent.start === start) return recent.values;
    const id = `${bucket}\u0000${start}\u0000${dimension}`;
    let row = this.#rows.get(id);
    if (!row) {
      row = { bucket, start, dimension, values: {} };
      this.#rows.set(id, row);
    }
    recentKey.set(dimension, row);
    return row.values;
  }

  #addMinute(start: number, metric: string, value: number): void {
    const id = `${start}\u0000${metric}`;
    const d = this.#minutes.get(id);
    if (d) d.value += value;
    else this.#minutes.set(id, { start, metric, value });
  }
}

function latencyIndex(ms: number): string {
  return latencyMetric(bucketIndex(ms));
}
