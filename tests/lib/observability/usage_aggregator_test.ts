import assert from "node:assert/strict";
import { UsageAggregator } from "../../../lib/observability/usage_aggregator.ts";
import type { RequestRecord } from "../../../lib/request_record.ts";

const DAY = 86_400_000;

function rec(time: number, model: string): RequestRecord {
  return {
    id: "req_1",
    time,
    path: "/v1/messages",
    stream: false,
    requestedModel: model,
    attempts: [],
    fallbacks: [],
    status: 200,
    totalMs: 5,
  };
}

function models(agg: UsageAggregator): Set<string> {
  return new Set(
    agg.drain().deltas.filter((d) => d.dimension.startsWith("model:")).map((d) => d.dimension),
  );
}

Deno.test("usage: a client naming a new model with every request gets 100 counted apart a day, the rest as (other)", () => {
  const agg = new UsageAggregator();
  const day = 20_000 * DAY;
  // Over several flushes: the names counted apart are remembered between them.
  for (let i = 0; i < 80; i++) agg.add(rec(day + i, `made-up-${i}`));
  assert.equal(models(agg).size, 80);
  for (let i = 80; i < 300; i++) agg.add(rec(day + i, `made-up-${i}`));
  const later = models(agg);
  assert.equal(later.size, 21, "20 more names and (other)");
  assert.ok(later.has("model:(other)"));
  // A name already counted keeps its own row.
  agg.add(rec(day + 400, "made-up-5"));
  assert.deepEqual(models(agg), new Set(["model:made-up-5"]));
  // The next day, names are counted apart again: 100 of them, yesterday's among them, not on top.
  for (let i = 0; i < 100; i++) agg.add(rec(day + DAY + i, `made-up-${i}`));
  for (let i = 300; i < 400; i++) agg.add(rec(day + DAY + i, `made-up-${i}`));
  const next = models(agg);
  assert.equal(next.size, 101, "100 names and (other)");
  assert.ok(next.has("model:made-up-0") && !next.has("model:made-up-300"));
});
