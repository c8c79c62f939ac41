// Usage counters in KV: per hour and per day, by dimension (everything, an upstream, a key, a
// model), plus per-minute totals for "the last hour". Every instance adds with atomic sums, so the
// figures add up across instances; old buckets are pruned since sums cannot carry an expiry.
import { keys } from "./keys.ts";

export type Bucket = "hour" | "day";

export const BUCKET_MS: Record<Bucket, number> = { hour: 3_600_000, day: 86_400_000 };
export const MINUTE_MS = 60_000;

/** How long buckets are kept. */
export const RETENTION_MS = {
  hour: 14 * 86_400_000,
  day: 400 * 86_400_000,
  minute: 2 * 3_600_000,
} as const;

export interface UsageDelta {
  bucket: Bucket;
  start: number;
  dimension: string;
  metric: string;
  value: number;
}

export interface MinuteDelta {
  start: number;
  metric: string;
  value: number;
}

export interface UsageRow {
  start: number;
  dimension: string;
  metrics: Record<string, number>;
}

const MAX_MUTATIONS = 500;

export function bucketStart(bucket: Bucket | "minute", time: number): number {
  const size = bucket === "minute" ? MINUTE_MS : BUCKET_MS[bucket];
  return time - (time % size);
}

export class UsageStore {
  constructor(private kv: Deno.Kv) {}

  /** Adds every delta with atomic sums, in as few commits as KV's limits allow. */
  async add(deltas: UsageDelta[], minutes: MinuteDelta[] = []): Promise<void> {
    const sums: Array<[Deno.KvKey, number]> = [
      ...deltas.map((d) =>
        [keys.usage(d.bucket, d.start, d.dimension, d.metric), d.value] as [Deno.KvKey, number]
      ),
      ...minutes.map((m) => [keys.usageMinute(m.start, m.metric), m.value] as [Deno.KvKey, number]),
    ].filter(([, v]) => v > 0);
    for (let i = 0; i < sums.length; i += MAX_MUTATIONS) {
      const op = this.kv.atomic();
      for (const [key, value] of sums.slice(i, i + MAX_MUTATIONS)) {
        op.sum(key, BigInt(Math.round(value)));
      }
      const res = await op.commit();
      if (!res.ok) throw new Error("usage counters write was rejected");
    }
  }

  /** Rows of every bucket starting in [from, to), oldest first. */
  async query(bucket: Bucket, from: number, to: number): Promise<UsageRow[]> {
    const rows = new Map<string, UsageRow>();
    const iter = this.kv.list<Deno.KvU64>({
      start: [...keys.usagePrefix(bucket), from],
      end: [...keys.usagePrefix(bucket), to],
    }, { batchSize: 1000 });
    for await (const e of iter) {
      const [, , start, dimension, metric] = e.key as [string, string, number, string, string];
      const id = `${start}\u0000${dimension}`;
      let row = rows.get(id);
      if (!row) {
        row = { start, dimension, metrics: {} };
        rows.set(id, row);
      }
      row.metrics[metric] = Number(e.value.value);
    }
    return [...rows.values()];
  }

  /** Per-minute totals from `from` on, by minute start. */
  async minutes(from: number): Promise<Map<number, Record<string, number>>> {
    const out = new Map<number, Record<string, number>>();
    const iter = this.kv.list<Deno.KvU64>({
      start: [...keys.usageMinutePrefix(), bucketStart("minute", from)],
      end: [...keys.usageMinutePrefix(), Number.MAX_SAFE_INTEGER],
    });
    for await (const e of iter) {
      const [, start, metric] = e.key as [string, number, string];
      const row = out.get(start) ?? {};
      row[metric] = Number(e.value.value);
      out.set(start, row);
    }
    return out;
  }

  /** Deletes buckets older than their retention; reads only what it deletes. */
  async prune(now: number): Promise<number> {
    let deleted = 0;
    const ranges: Deno.KvListSelector[] = [
      {
        start: keys.usagePrefix("hour"),
        end: [...keys.usagePrefix("hour"), now - RETENTION_MS.hour],
      },
      { start: keys.usagePrefix("day"), end: [...keys.usagePrefix("day"), now - RETENTION_MS.day] },
      {
        start: keys.usageMinutePrefix(),
        end: [...keys.usageMinutePrefix(), now - RETENTION_MS.minute],
      },
    ];
    for (const selector of ranges) {
      let op = this.kv.atomic();
      let n = 0;
      for await (const e of this.kv.list(selector)) {
        op.delete(e.key);
        deleted++;
        if (++n >= MAX_MUTATIONS) {
          await op.commit();
          op = this.kv.atomic();
          n = 0;
        }
      }
      if (n > 0) await op.commit();
    }
    return deleted;
  }
}
