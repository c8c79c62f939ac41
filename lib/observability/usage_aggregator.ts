// Sums finished requests in memory by bucket and dimension; drained into the usage store from time
// to time, so the counters cost a few KV sums per flush instead of writes per request.
import { sliceWhole } from "../whole_chars.ts";
import type { RequestRecord } from "../request_record.ts";
import {
  type Bucket,
  BUCKET_MS,
  bucketStart,
  type MinuteDelta,
  type UsageDelta,
} from "../store/usage_store.ts";
import { bucketIndex, LATENCY_BUCKETS_MS } from "./latency_buckets.ts";
import { isError, type TokenCounts, tokensOf } from "./request_log_entry.ts";

/** Metric name of latency bucket `i` (counts per bucket, not cumulative). */
export function latencyMetric(i: number): string {
  return LATENCY_METRICS[i] ?? `latency_b${i}`;
}

const LATENCY_METRICS = Array.from(
  { length: LATENCY_BUCKETS_MS.length + 1 },
  (_, i) => `latency_b${i}`,
);

/** A model name as a dimension: bounded in length, and in number per flush. */
const MAX_DIMENSIONS = 2_000;
/**
 * Model names counted apart in a day, per instance; the rest are "(other)". The client names the
 * model (unmapped names go through), and each name counted is rows kept in KV for 400 days: a
 * client sending a new name with every request would grow the store without end.
 */
const MODELS_PER_DAY = 100;
const OTHER_MODEL = "model:(other)";

export function modelOf(rec: Pick<RequestRecord, "upstreamModel" | "requestedModel">): string {
  let model = rec.upstreamModel ?? rec.requestedModel ?? "";
  model = sliceWhole(model, 100);
  // Halves of characters all become U+FFFD on the wire: two such names would be two series there
  // with the same labels, which a Prometheus scrape refuses.
  return (model.isWellFormed() ? model : model.toWellFormed()) || "(none)";
}

/** The sums of one row as plain fields: a dictionary keyed by metric name cost more per request. */
interface Sums {
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_creation_tokens: number;
  latency_ms_sum: number;
  latency: number[];
}

type SumField = Exclude<keyof Sums, "latency">;
const SUM_FIELDS: readonly SumField[] = [
  "requests",
  "errors",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_creation_tokens",
  "latency_ms_sum",
];

function emptySums(): Sums {
  return {
    requests: 0,
    errors: 0,
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_creation_tokens: 0,
    latency_ms_sum: 0,
    latency: new Array(LATENCY_METRICS.length).fill(0),
  };
}

interface Row {
  bucket: Bucket;
  start: number;
  dimension: string;
  values: Sums;
}

const BUCKETS: readonly Bucket[] = ["hour", "day"];

export class UsageAggregator {
  #rows = new Map<string, Row>();
  #recentHour = new Map<string, Row>();
  #recentDay = new Map<string, Row>();
  #minutes = new Map<string, MinuteDelta>();
  #dimensions = new Set<string>();
  #names = new Map<string, Map<string, Map<string, string>>>();
  /** The model dimensions counted apart today (kept across drains). */
  /** The model names seen on the day that ends at `until`. */
  #models = { until: 0, names: new Set<string>() };

  constructor(private clean: (text: string) => string = (t) => t) {}

  get size(): number {
    return this.#rows.size + this.#minutes.size;
  }

  add(rec: RequestRecord): void {
    const error = isError(rec);
    const tokens = tokensOf(rec);
    const latency = bucketIndex(rec.totalMs);
    this.#addAll(rec.time, "all", error, tokens, rec.totalMs, latency);
    const model = this.#model(rec.time, this.#named("model:", this.clean(modelOf(rec))));
    this.#addAll(rec.time, model, error, tokens, rec.totalMs, latency);
    if (rec.upstream) {
      const upstream = this.#dimension(this.#named("upstream:", rec.upstream));
      this.#addAll(rec.time, upstream, error, tokens, rec.totalMs, latency);
    }
    // Keys are counted per call, so a key that keeps failing shows even when a retry saved it.
    for (const a of rec.attempts) {
      if (a.outcome === "skipped") continue;
      const ok = a.outcome === "ok";
      const ms = a.ms ?? 0;
      this.#addAll(
        rec.time,
        this.#dimension(this.#named("key:", a.upstream, `/${a.keyId}`)),
        a.outcome === "failed",
        ok ? tokens : undefined,
        ms,
        bucketIndex(ms),
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
      for (const metric of SUM_FIELDS) {
        const value = values[metric];
        if (value > 0) deltas.push({ bucket, start, dimension, metric, value });
      }
      values.latency.forEach((value, i) => {
        if (value > 0) deltas.push({ bucket, start, dimension, metric: LATENCY_METRICS[i], value });
      });
    }
    const out = { deltas, minutes: [...this.#minutes.values()] };
    this.#rows = new Map();
    this.#recentHour = new Map();
    this.#recentDay = new Map();
    this.#minutes = new Map();
    this.#dimensions = new Set();
    this.#names = new Map();
    return out;
  }

  /** Puts back what a failed flush could not write, so it is tried again. */
  restore(deltas: UsageDelta[], minutes: MinuteDelta[]): void {
    for (const d of deltas) {
      const values = this.#row(d.bucket, d.start, d.dimension);
      const latency = LATENCY_METRICS.indexOf(d.metric);
      if (latency >= 0) values.latency[latency] += d.value;
      else if ((SUM_FIELDS as readonly string[]).includes(d.metric)) {
        values[d.metric as SumField] += d.value;
      }
    }
    for (const m of minutes) this.#addMinute(m.start, m.metric, m.value);
  }

  /** `prefix + a + b`, built once per flush rather than once per request. */
  #named(prefix: string, a: string, b = ""): string {
    let byA = this.#names.get(prefix);
    if (!byA) this.#names.set(prefix, byA = new Map());
    let byB = byA.get(a);
    if (!byB) byA.set(a, byB = new Map());
    let name = byB.get(b);
    if (name === undefined) byB.set(b, name = [prefix, a, b].join(""));
    return name;
  }

  #model(time: number, dim: string): string {
    const models = this.#models;
    // The day is checked first: yesterday's names count against today's cap only once seen today.
    if (time >= models.until) {
      models.until = bucketStart("day", time) + BUCKET_MS.day;
      models.names.clear();
    }
    if (models.names.has(dim)) return this.#dimension(dim);
    if (models.names.size >= MODELS_PER_DAY) return OTHER_MODEL;
    models.names.add(dim);
    return this.#dimension(dim);
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
    latency: number,
  ): void {
    for (const bucket of BUCKETS) {
      const v = this.#row(bucket, bucketStart(bucket, time), dimension);
      v.requests++;
      if (error) v.errors++;
      if (tokens) {
        v.input_tokens += tokens.input;
        v.output_tokens += tokens.output;
        v.cache_read_tokens += tokens.cacheRead;
        v.cache_creation_tokens += tokens.cacheCreation;
      }
      v.latency_ms_sum += Math.max(0, ms);
      v.latency[latency]++;
    }
  }

  #row(bucket: Bucket, start: number, dimension: string): Sums {
    // The same few rows take every request of an hour: remember the last one per bucket and
    // dimension instead of building its id again.
    const recentKey = bucket === "hour" ? this.#recentHour : this.#recentDay;
    const recent = recentKey.get(dimension);
    if (recent && recent.start === start) return recent.values;
    const id = `${bucket}\u0000${start}\u0000${dimension}`;
    let row = this.#rows.get(id);
    if (!row) {
      row = { bucket, start, dimension, values: emptySums() };
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
