// Per-instance counters for GET /metrics, in Prometheus text format. Prometheus scrapes every
// instance and adds them up, so nothing here touches KV.
import type { RequestRecord } from "../request_record.ts";
import { LATENCY_BUCKETS_MS } from "./latency_buckets.ts";
import { clientClosed, isError, tokensOf } from "./request_log_entry.ts";
import { modelOf } from "./usage_aggregator.ts";

const PREFIX = "claude_proxy_";
/** Model names given series of their own; past it, new ones are counted as "(other)". */
const MAX_MODELS = 2_000;

type Labels = Record<string, string>;

class Family {
  readonly series = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string, readonly type: "counter" | "gauge") {}

  add(labels: Labels, value = 1): void {
    const id = seriesId(labels);
    const s = this.series.get(id);
    if (s) s.value += value;
    else this.series.set(id, { labels, value });
  }

  render(out: string[]): void {
    out.push(
      `# HELP ${PREFIX}${this.name} ${this.help}`,
      `# TYPE ${PREFIX}${this.name} ${this.type}`,
    );
    for (const s of this.series.values()) {
      out.push(`${PREFIX}${this.name}${labelText(s.labels)} ${s.value}`);
    }
  }
}

class Histogram {
  readonly series = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; total: number }
  >();
  constructor(readonly name: string, readonly help: string) {}

  observe(labels: Labels, ms: number): void {
    const id = seriesId(labels);
    let s = this.series.get(id);
    if (!s) {
      s = { labels, counts: new Array(LATENCY_BUCKETS_MS.length).fill(0), sum: 0, total: 0 };
      this.series.set(id, s);
    }
    // Prometheus buckets are cumulative: an observation counts in every bucket at or above it.
    for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) {
      if (ms <= LATENCY_BUCKETS_MS[i]) s.counts[i]++;
    }
    s.sum += ms / 1000;
    s.total++;
  }

  render(out: string[]): void {
    const n = `${PREFIX}${this.name}`;
    out.push(`# HELP ${n} ${this.help}`, `# TYPE ${n} histogram`);
    for (const s of this.series.values()) {
      LATENCY_BUCKETS_MS.forEach((le, i) => {
        out.push(`${n}_bucket${labelText({ ...s.labels, le: String(le / 1000) })} ${s.counts[i]}`);
      });
      out.push(`${n}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.total}`);
      out.push(`${n}_sum${labelText(s.labels)} ${round(s.sum)}`);
      out.push(`${n}_count${labelText(s.labels)} ${s.total}`);
    }
  }
}

export interface KeyStateCount {
  upstream: string;
  active: number;
  cooldown: number;
  disabled: number;
}

export interface Gauges {
  inFlight: number;
  keyStates: KeyStateCount[];
  uptimeSeconds: number;
}

export class Metrics {
  readonly requests = new Family("requests_total", "Finished /v1/messages requests.", "counter");
  readonly errors = new Family(
    "errors_total",
    "Requests that failed, by error type (a stream that broke after it started included).",
    "counter",
  );
  readonly tokens = new Family(
    "tokens_total",
    "Tokens reported by upstreams (estimated where an answer had no count).",
    "counter",
  );
  readonly attempts = new Family(
    "upstream_attempts_total",
    "Calls to upstream keys, and keys skipped, by outcome.",
    "counter",
  );
  readonly retries = new Family(
    "retries_total",
    "Extra key attempts made after a failure, by the upstream that failed.",
    "counter",
  );
  readonly fallbacks = new Family(
    "fallbacks_total",
    "Requests handed to a fallback upstream, by the upstream taking over.",
    "counter",
  );
  readonly dropped = new Family(
    "request_log_dropped_total",
    "Request log entries dropped because the store could not keep up.",
    "counter",
  );
  readonly duration = new Histogram(
    "request_duration_seconds",
    "Time from request to the last byte of the answer.",
  );
  readonly ttfb = new Histogram(
    "time_to_first_byte_seconds",
    "Time from request to the upstream's first byte.",
  );

  /** Models with series of their own: they keep counting once the limit turns new ones away. */
  #models = new Set<string>();

  constructor(private clean: (text: string) => string = (t) => t) {}

  observe(rec: RequestRecord): void {
    const upstream = rec.upstream ?? "";
    let model = this.clean(modelOf(rec));
    if (!this.#models.has(model)) {
      if (this.#models.size >= MAX_MODELS) model = "(other)";
      else this.#models.add(model);
    }
    const status = clientClosed(rec) ? "499" : String(rec.status);
    this.requests.add({ status, upstream, model });
    if (isError(rec)) this.errors.add({ upstream, type: rec.errorType ?? "api_error" });
    const tokens = tokensOf(rec);
    if (tokens) {
      for (
        const [type, n] of [
          ["input", tokens.input],
          ["output", tokens.output],
          ["cache_read", tokens.cacheRead],
          ["cache_creation", tokens.cacheCreation],
        ] as const
      ) if (n > 0) this.tokens.add({ upstream, model, type }, n);
    }
    // A retry is counted against the upstream whose attempt failed, not the one that answered
    // (a fallback that answered at once made none).
    let failed: string | undefined;
    for (const a of rec.attempts) {
      this.attempts.add({ upstream: a.upstream, outcome: a.outcome });
      if (a.outcome === "skipped") continue;
      if (failed !== undefined) this.retries.add({ upstream: failed });
      failed = a.upstream;
    }
    for (const f of rec.fallbacks) this.fallbacks.add({ upstream: f });
    this.duration.observe({ upstream }, Math.max(0, rec.totalMs));
    if (rec.ttfbMs !== undefined) this.ttfb.observe({ upstream }, Math.max(0, rec.ttfbMs));
  }

  render(gauges: Gauges): string {
    const out: string[] = [];
    for (const f of [this.requests, this.errors, this.tokens, this.attempts, this.retries]) {
      f.render(out);
    }
    this.fallbacks.render(out);
    this.dropped.render(out);
    this.duration.render(out);
    this.ttfb.render(out);
    const keys = new Family("keys", "Upstream keys by state.", "gauge");
    for (const k of gauges.keyStates) {
      for (const state of ["active", "cooldown", "disabled"] as const) {
        keys.add({ upstream: k.upstream, state }, k[state]);
      }
    }
    keys.render(out);
    const inFlight = new Family("in_flight_requests", "Requests being served now.", "gauge");
    inFlight.add({}, gauges.inFlight);
    inFlight.render(out);
    const uptime = new Family("uptime_seconds", "Seconds since this instance started.", "gauge");
    uptime.add({}, round(gauges.uptimeSeconds));
    uptime.render(out);
    return out.join("\n") + "\n";
  }
}

/** A cheap map key for a label set (escaping waits for a scrape). */
function seriesId(labels: Labels): string {
  let id = "";
  for (const k in labels) id += labels[k] + "\u0000";
  return id;
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
