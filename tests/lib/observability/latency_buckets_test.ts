import assert from "node:assert/strict";
import {
  bucketIndex,
  estimatePercentile,
  LATENCY_BUCKETS_MS,
} from "../../../lib/observability/latency_buckets.ts";

Deno.test("observations land in the first bucket at or above them", () => {
  assert.equal(bucketIndex(0), 0);
  assert.equal(bucketIndex(100), 0);
  assert.equal(bucketIndex(101), 1);
  assert.equal(bucketIndex(999_999), LATENCY_BUCKETS_MS.length);
});

Deno.test("percentiles interpolate inside a bucket", () => {
  const counts = new Array(LATENCY_BUCKETS_MS.length + 1).fill(0);
  assert.equal(estimatePercentile(counts, 0.5), undefined);
  counts[bucketIndex(50)] = 50; // 0..100
  counts[bucketIndex(700)] = 50; // 500..1000
  assert.equal(estimatePercentile(counts, 0.5), 100);
  assert.equal(estimatePercentile(counts, 0.75), 750);
  assert.equal(estimatePercentile(counts, 1), 1000);
  counts[LATENCY_BUCKETS_MS.length] = 100;
  assert.equal(estimatePercentile(counts, 0.99), 300_000, "the open bucket reports its floor");
});
