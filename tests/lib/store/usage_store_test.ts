import assert from "node:assert/strict";
import { bucketStart, RETENTION_MS, UsageStore } from "../../../lib/store/usage_store.ts";

const T = Date.UTC(2026, 0, 15, 10, 30);
const HOUR = 3_600_000;

async function withKv(fn: (kv: Deno.Kv) => Promise<void>) {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}

Deno.test("bucket starts", () => {
  assert.equal(bucketStart("hour", T), Date.UTC(2026, 0, 15, 10));
  assert.equal(bucketStart("day", T), Date.UTC(2026, 0, 15));
  assert.equal(bucketStart("minute", T + 59_999), T);
});

Deno.test("two instances' sums add up per bucket, dimension and metric", async () => {
  await withKv(async (kv) => {
    const a = new UsageStore(kv);
    const b = new UsageStore(kv);
    const h = bucketStart("hour", T);
    await Promise.all([
      a.add([
        { bucket: "hour", start: h, dimension: "all", metric: "requests", value: 3 },
        {
          bucket: "hour",
          start: h,
          dimension: "upstream:main",
          metric: "input_tokens",
          value: 100,
        },
      ]),
      b.add([
        { bucket: "hour", start: h, dimension: "all", metric: "requests", value: 4 },
        { bucket: "hour", start: h - HOUR, dimension: "all", metric: "requests", value: 1 },
        { bucket: "hour", start: h, dimension: "upstream:main", metric: "input_tokens", value: 20 },
        { bucket: "hour", start: h, dimension: "all", metric: "errors", value: 0 },
      ]),
    ]);
    const rows = await a.query("hour", h - HOUR, h + HOUR);
    const find = (start: number, dim: string) =>
      rows.find((r) => r.start === start && r.dimension === dim)?.metrics;
    assert.deepEqual(find(h, "all"), { requests: 7 });
    assert.deepEqual(find(h - HOUR, "all"), { requests: 1 });
    assert.deepEqual(find(h, "upstream:main"), { input_tokens: 120 });
    assert.deepEqual(await a.query("hour", h + HOUR, h + 2 * HOUR), []);
  });
});

Deno.test("more sums than one atomic commit takes are split", async () => {
  await withKv(async (kv) => {
    const store = new UsageStore(kv);
    const deltas = Array.from({ length: 1_234 }, (_, i) => ({
      bucket: "day" as const,
      start: bucketStart("day", T),
      dimension: `model:m${i}`,
      metric: "requests",
      value: i + 1,
    }));
    await store.add(deltas);
    const rows = await store.query("day", bucketStart("day", T), T + 86_400_000);
    assert.equal(rows.length, 1_234);
    assert.equal(rows.reduce((a, r) => a + r.metrics.requests, 0), (1_234 * 1_235) / 2);
  });
});

Deno.test("minutes give the last hour; pruning drops what is past retention", async () => {
  await withKv(async (kv) => {
    const store = new UsageStore(kv);
    const m = bucketStart("minute", T);
    await store.add([
      {
        bucket: "hour",
        start: bucketStart("hour", T) - RETENTION_MS.hour - HOUR,
        dimension: "all",
        metric: "requests",
        value: 1,
      },
      {
        bucket: "hour",
        start: bucketStart("hour", T),
        dimension: "all",
        metric: "requests",
        value: 2,
      },
      {
        bucket: "day",
        start: bucketStart("day", T) - RETENTION_MS.day - 86_400_000,
        dimension: "all",
        metric: "requests",
        value: 1,
      },
      {
        bucket: "day",
        start: bucketStart("day", T),
        dimension: "all",
        metric: "requests",
        value: 2,
      },
    ], [
      { start: m, metric: "requests", value: 5 },
      { start: m - 30 * 60_000, metric: "errors", value: 2 },
      { start: m - 3 * HOUR, metric: "requests", value: 9 },
    ]);
    const last = await store.minutes(T - HOUR);
    assert.deepEqual([...last.keys()], [m - 30 * 60_000, m]);
    assert.equal(await store.prune(T), 3);
    assert.equal((await store.query("hour", 0, T + HOUR)).length, 1);
    assert.equal((await store.query("day", 0, T + HOUR)).length, 1);
    assert.equal((await store.minutes(0)).size, 2);
    assert.equal(await store.prune(T), 0);
  });
});
