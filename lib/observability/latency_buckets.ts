// Fixed latency buckets shared by the usage counters and /metrics, so both can be compared and
// percentiles estimated from counts summed across instances.

/** Upper bounds in ms; a last, unbounded bucket follows. */
export const LATENCY_BUCKETS_MS = [
  100,
  250,
  500,
  1_000,
  2_500,
  5_000,
  10_000,
  30_000,
  60_000,
  120_000,
  300_000,
] as const;

/** Index of the bucket holding `ms` (LATENCY_BUCKETS_MS.length for the unbounded one). */
export function bucketIndex(ms: number): number {
  for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) {
    if (ms <= LATENCY_BUCKETS_MS[i]) return i;
  }
  return LATENCY_BUCKETS_MS.length;
}

/**
 * Estimates a percentile (0..1) from per-bucket counts (not cumulative), interpolating inside the
 * bucket; the unbounded bucket reports its lower bound. Undefined with no observations.
 */
export function estimatePercentile(counts: readonly number[], p: number): number | undefined {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 0) continue;
    if (seen + counts[i] >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1];
      if (i >= LATENCY_BUCKETS_MS.length) return lower;
      const upper = LATENCY_BUCKETS_MS[i];
      return lower + (upper - lower) * ((rank - seen) / counts[i]);
    }
    seen += counts[i];
  }
  return undefined;
}
