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

/** A usage write that failed part-way: `unwritten` is what is not counted yet. */
export class UsageWriteError extends Error {
  constructor(
    readonly unwritten: { deltas: UsageDelta[]; minutes: MinuteDelta[] },
    cause?: unknown,
  ) {
    super(
      cause instanceof Error ? cause.message : "usage counters write was rejected",
      { cause },
    );
    this.name = "UsageWriteError";
  }
}

export function bucketStart(bucket: Bucket | "minute", time: number): number {
  const size = bucket === "minute" ? MINUTE_MS : BUCKET_MS[bucket];
  return time - (time % size);
}

export class UsageStore {
  constructor(private kv: Deno.Kv) {}

  /**
   * Adds every delta with atomic sums, in as few commits as KV's limits allow. When a commit
   * fails, the error is a UsageWriteError holding what was not written: the commits before it
   * are in, and trying them again would count them twice.
   */
  async add(deltas: UsageDelta[], minutes: MinuteDelta[] = []): Promise<void> {
    const pending = {
      deltas: deltas.filter((d) => d.value > 0),
      minutes: minutes.filter((m) => m.value > 0),
    };
    while (pending.deltas.length + pending.minutes.length > 0) {
      const deltaCount = Math.min(pending.deltas.length, MAX_MUTATIONS);
      const minuteCount = Math.min(pending.minutes.length, MAX_MUTATIONS - deltaCount);
      const op = this.kv.atomic();
      for (let i = 0; i < deltaCount; i++) {
        const d = pending.deltas[i];
        op.sum(keys.usage(d.bucket, d.start, d.dimension, d.metric), BigInt(Math.round(d.value)));
      }
      for (let i = 0; i < minuteCount; i++) {
        const m = pending.minutes[i];
        op.sum(keys.usageMinute(m.start, m.metric), BigInt(Math.round(m.value)));
      }
      let ok = false;
      let cause: unknown;
      try {
        ok = (await op.commit()).ok;
      } catch (err) {
        cause = err;
      }
      if (!ok) throw new UsageWriteError(pending, cause);
      pending.deltas = pending.deltas.slice(deltaCount);
      pending.minutes = pending.minutes.slice(minuteCount);
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
