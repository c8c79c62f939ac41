// Usage counters read back for people: totals per hour, per upstream, model and key, percentile
// estimates from the latency buckets, and the CSV export.
import { maskKey } from "../secret_mask.ts";
import type { ConfigDocument } from "../config_document.ts";
import { keyId } from "../key_pool.ts";
import {
  type Bucket,
  BUCKET_MS,
  bucketStart,
  MINUTE_MS,
  type UsageRow,
  type UsageStore,
} from "../store/usage_store.ts";
import { estimatePercentile, LATENCY_BUCKETS_MS } from "./latency_buckets.ts";
import { latencyMetric } from "./usage_aggregator.ts";

export interface UsageTotals {
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  latencyMsSum: number;
  /** Requests per latency bucket (not cumulative). */
  latency: number[];
}

interface Dimension {
  type: "all" | "upstream" | "model" | "key";
  name: string;
  upstream?: string;
  keyId?: string;
}

export interface UsageReport {
  from: number;
  to: number;
  /** One point per hour, oldest first, zeros included. */
  hours: Array<{ start: number; totals: UsageTotals }>;
  total: UsageTotals;
  byUpstream: Array<{ name: string; totals: UsageTotals }>;
  byModel: Array<{ name: string; totals: UsageTotals }>;
  byKey: Array<{ upstream: string; keyId: string; label: string; totals: UsageTotals }>;
}

function emptyTotals(): UsageTotals {
  return {
    requests: 0,
    errors: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheCreationTokens: 0,
    latencyMsSum: 0,
    latency: new Array(LATENCY_BUCKETS_MS.length + 1).fill(0),
  };
}

function totalsOf(metrics: Record<string, number>): UsageTotals {
  const t = emptyTotals();
  t.requests = metrics.requests ?? 0;
  t.errors = metrics.errors ?? 0;
  t.inputTokens = metrics.input_tokens ?? 0;
  t.outputTokens = metrics.output_tokens ?? 0;
  t.cacheReadTokens = metrics.cache_read_tokens ?? 0;
  t.cacheCreationTokens = metrics.cache_creation_tokens ?? 0;
  t.latencyMsSum = metrics.latency_ms_sum ?? 0;
  t.latency = t.latency.map((_, i) => metrics[latencyMetric(i)] ?? 0);
  return t;
}

function addTotals(into: UsageTotals, more: UsageTotals): UsageTotals {
  into.requests += more.requests;
  into.errors += more.errors;
  into.inputTokens += more.inputTokens;
  into.outputTokens += more.outputTokens;
  into.cacheReadTokens += more.cacheReadTokens;
  into.cacheCreationTokens += more.cacheCreationTokens;
  into.latencyMsSum += more.latencyMsSum;
  into.latency = into.latency.map((n, i) => n + (more.latency[i] ?? 0));
  return into;
}

/** Estimated latency percentile in ms (p in 0..1), undefined with no requests. */
export function latencyPercentile(t: UsageTotals, p: number): number | undefined {
  return estimatePercentile(t.latency, p);
}

export function averageLatency(t: UsageTotals): number | undefined {
  return t.requests > 0 ? t.latencyMsSum / t.requests : undefined;
}

function parseDimension(dim: string): Dimension {
  if (dim === "all") return { type: "all", name: "all" };
  const colon = dim.indexOf(":");
  const type = dim.slice(0, colon);
  const name = dim.slice(colon + 1);
  if (type === "key") {
    const slash = name.lastIndexOf("/");
    return { type, name, upstream: name.slice(0, slash), keyId: name.slice(slash + 1) };
  }
  if (type === "upstream" || type === "model") return { type, name };
  return { type: "model", name: dim };
}

/** The keys of the configuration as the usage figures name them. */
export interface KeyLabels {
  /** `upstream/keyId` → the key as shown (masked). */
  shown: Map<string, string>;
  /** keyId → `upstream/keyId` where the key is now, for a key in one upstream only. */
  home: Map<string, string | null>;
}

export function keyLabels(doc: Pick<ConfigDocument, "upstream">): KeyLabels {
  const shown = new Map<string, string>();
  const home = new Map<string, string | null>();
  for (const u of doc.upstream) {
    for (const k of u.apiKeys) {
      const id = keyId(k);
      const name = `${u.name}/${id}`;
      shown.set(name, maskKey(k));
      home.set(id, home.has(id) ? null : name);
    }
  }
  return { shown, home };
}

/**
 * Where a key's figures go: under its upstream's name when they were counted; a key still in the
 * configuration under a renamed upstream goes with its figures since, not shown as removed.
 */
function keyRow(name: string, labels: KeyLabels | undefined): string {
  if (!labels || labels.shown.has(name)) return name;
  return labels.home.get(name.slice(name.lastIndexOf("/") + 1)) ?? name;
}

/** The last `hours` hours (the current one included), hour by hour and by dimension. */
export async function buildUsageReport(
  store: UsageStore,
  now: number,
  options: { hours?: number; labels?: KeyLabels } = {},
): Promise<UsageReport> {
  const hours = options.hours ?? 24;
  const to = bucketStart("hour", now) + BUCKET_MS.hour;
  const from = to - hours * BUCKET_MS.hour;
  const rows = await store.query("hour", from, to);
  const perHour = new Map<number, UsageTotals>();
  for (let t = from; t < to; t += BUCKET_MS.hour) perHour.set(t, emptyTotals());
  const total = emptyTotals();
  const groups = {
    upstream: new Map<string, UsageTotals>(),
    model: new Map(),
    key: new Map(),
  } as Record<"upstream" | "model" | "key", Map<string, UsageTotals>>;
  for (const row of rows) {
    const dim = parseDimension(row.dimension);
    const totals = totalsOf(row.metrics);
    if (dim.type === "all") {
      addTotals(perHour.get(row.start) ?? emptyTotals(), totals);
      addTotals(total, totals);
      continue;
    }
    const group = groups[dim.type];
    const name = dim.type === "key" ? keyRow(dim.name, options.labels) : dim.name;
    group.set(name, addTotals(group.get(name) ?? emptyTotals(), totals));
  }
  const byRequests = <T extends { totals: UsageTotals }>(a: T, b: T) =>
    b.totals.requests - a.totals.requests;
  return {
    from,
    to,
    hours: [...perHour].map(([start, totals]) => ({ start, totals })),
    total,
    byUpstream: [...groups.upstream].map(([name, totals]) => ({ name, totals })).sort(byRequests),
    byModel: [...groups.model].map(([name, totals]) => ({ name, totals })).sort(byRequests),
    byKey: [...groups.key].map(([name, totals]) => {
      const d = parseDimension(`key:${name}`);
      return {
        upstream: d.upstream!,
        keyId: d.keyId!,
        label: options.labels?.shown.get(name) ?? `${d.keyId!.slice(0, 8)}… (removed)`,
        totals,
      };
    }).sort(byRequests),
  };
}

/** Requests and errors in the 60 minutes before `now`, every instance included. */
export async function lastHourCounts(
  store: UsageStore,
  now: number,
): Promise<{ requests: number; errors: number }> {
  const minutes = await store.minutes(now - 60 * MINUTE_MS + 1);
  let requests = 0;
  let errors = 0;
  for (const m of minutes.values()) {
    requests += m.requests ?? 0;
    errors += m.errors ?? 0;
  }
  return { requests, errors };
}

const CSV_COLUMNS = [
  "bucket",
  "start",
  "dimension_type",
  "dimension",
  "requests",
  "errors",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_creation_tokens",
  "latency_ms_avg",
  "latency_ms_p50",
  "latency_ms_p95",
  "latency_ms_p99",
  ...LATENCY_BUCKETS_MS.map((le) => `latency_le_${le}ms`),
  "latency_gt_300000ms",
];

/** Every counter of the range as CSV, one line per bucket and dimension. */
export async function usageCsv(
  store: UsageStore,
  bucket: Bucket,
  from: number,
  to: number,
): Promise<string> {
  const rows: UsageRow[] = await store.query(bucket, from, to);
  const lines = [CSV_COLUMNS.join(",")];
  const fixed = (n: number | undefined) => n === undefined ? "" : n.toFixed(1);
  for (const row of rows) {
    const dim = parseDimension(row.dimension);
    const t = totalsOf(row.metrics);
    lines.push(
      [
        bucket,
        new Date(row.start).toISOString(),
        dim.type,
        dim.name,
        t.requests,
        t.errors,
        t.inputTokens,
        t.outputTokens,
        t.cacheReadTokens,
        t.cacheCreationTokens,
        fixed(averageLatency(t)),
        fixed(latencyPercentile(t, 0.5)),
        fixed(latencyPercentile(t, 0.95)),
        fixed(latencyPercentile(t, 0.99)),
        ...t.latency,
      ].map((v) => csvField(String(v))).join(","),
    );
  }
  return lines.join("\r\n") + "\r\n";
}

/** Quoted when needed; a leading formula character is defused for spreadsheets. */
function csvField(value: string): string {
  // Only a number may keep its leading minus: "-1+cmd|…" is a formula all the same.
  const safe = /^[=+\-@\t\r]/.test(value) && !/^-?\d+(\.\d+)?$/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
