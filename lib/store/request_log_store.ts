// The request log in KV. Entries are written in batches, one KV value per batch (split to stay
// under the value size limit), because one value per entry made the log the costliest part of a
// request. Every entry has a sequence number shared by all instances; the count limit deletes the
// batches below `next - max` and hides the rest of a straddling one; age is kept by expireIn and
// by filtering on read.
import {
  entryCost,
  type RequestLogEntry,
  type RequestLogSummary,
  summaryOf,
} from "../observability/request_log_entry.ts";
import { keys } from "./keys.ts";

export interface RequestLogFilter {
  /** `2xx`, `4xx`, `5xx` or an exact status such as `429`. */
  status?: string;
  upstream?: string;
  /** Matches the requested or upstream model, case-insensitively, in part. */
  model?: string;
  errorsOnly?: boolean;
}

export interface RequestLogPage {
  items: RequestLogSummary[];
  /** Where the next (older) page starts, when there may be one. */
  cursor?: string;
}

interface Batch {
  /** Sequence number of `entries[0]`. */
  first: number;
  entries: RequestLogEntry[];
}

/** One batch value stays under KV's 64 KiB value limit. */
const MAX_BATCH_COST = 60_000;
const MAX_COMMIT_COST = 600_000;
/** How often (in appends) batches written by others are looked for and trimmed. */
const SWEEP_EVERY = 50;

/** Entries cut into batch values that each stay under the value size limit. */
function pack(entries: RequestLogEntry[], first: number): Array<{ batch: Batch; cost: number }> {
  const out: Array<{ batch: Batch; cost: number }> = [];
  let current: { batch: Batch; cost: number } | undefined;
  let seq = first;
  for (const entry of entries) {
    const size = entryCost(entry);
    if (!current || (current.batch.entries.length > 0 && current.cost + size > MAX_BATCH_COST)) {
      current = { batch: { first: seq, entries: [] }, cost: 0 };
      out.push(current);
    }
    current.batch.entries.push(entry);
    current.cost += size;
    seq++;
  }
  return out;
}

export class RequestLogStore {
  readonly max: number;
  readonly ttlMs: number;

  #now: () => number;
  /** Batches this instance wrote, oldest first, until the limit passes them. */
  #written: Array<{ first: number; end: number }> = [];
  #appends = 0;

  constructor(
    private kv: Deno.Kv,
    options: { max: number; ttlMs: number; now?: () => number },
  ) {
    this.max = options.max;
    this.ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  /** KV deletes expired keys lazily: reads skip what is past its age themselves. */
  #cutoff(): number {
    return this.#now() - this.ttlMs;
  }

  /** Stores entries (oldest first) and drops what they push past the count limit. */
  async append(entries: RequestLogEntry[]): Promise<void> {
    if (this.max <= 0 || entries.length === 0) return;
    // One atomic write reserves the sequence numbers, stores the batches and deletes this
    // instance's batches the limit passed: each commit costs KV more than the bytes it writes.
    for (let attempt = 0; attempt < 20; attempt++) {
      const meta = await this.kv.get<number>(keys.requestLogMeta("next"));
      const first = meta.value ?? 0;
      const end = first + entries.length;
      const floor = end - this.max;
      const kept = entries.slice(Math.max(0, floor - first));
      const batches = pack(kept, end - kept.length);
      const stale = this.#written.filter((b) => b.end <= floor);
      let op = this.kv.atomic().check(meta).set(keys.requestLogMeta("next"), end);
      let opCost = 0;
      let mutations = 2;
      let checked = true;
      const flush = async () => {
        const res = await op.commit();
        if (!res.ok) {
          if (checked) return false;
          throw new Error("request log write was rejected");
        }
        checked = false;
        op = this.kv.atomic();
        opCost = 0;
        mutations = 0;
        return true;
      };
      let lost = false;
      for (const b of batches) {
        // An atomic operation carries at most about 800 KB and 1000 mutations.
        if (opCost + b.cost > MAX_COMMIT_COST && mutations > 0) {
          if (!await flush()) {
            lost = true;
            break;
          }
        }
        op.set(keys.requestLogBatch(b.batch.first), b.batch, { expireIn: this.ttlMs });
        opCost += b.cost;
        mutations++;
      }
      if (lost) continue;
      for (const b of stale) {
        if (mutations >= 900 && !await flush()) {
          lost = true;
          break;
        }
        op.delete(keys.requestLogBatch(b.first));
        mutations++;
      }
      if (lost || (mutations > 0 && !await flush())) continue;
      const dropped = new Set(stale);
      this.#written = this.#written.filter((b) => !dropped.has(b));
      for (const b of batches) {
        this.#written.push({ first: b.batch.first, end: b.batch.first + b.batch.entries.length });
      }
      // Batches of other instances (or from before a restart) are swept now and then.
      if (++this.#appends % SWEEP_EVERY === 1) await this.trimBefore(floor);
      return;
    }
    throw new Error("could not reserve request log sequence numbers (too much contention)");
  }

  /**
   * Deletes the batches whose entries are all numbered below `seq`. A batch that straddles it is
   * kept whole (rewriting it on every flush cost more than the log itself); readers hide its
   * entries below the limit, so the log never shows more than `max`.
   */
  async trimBefore(seq: number): Promise<number> {
    if (seq <= 0) return 0;
    let removed = 0;
    let op = this.kv.atomic();
    let mutations = 0;
    const iter = this.kv.list<Batch>({
      start: keys.requestLogBatchPrefix(),
      end: keys.requestLogBatch(seq),
    }, { batchSize: 500 });
    for await (const e of iter) {
      const { first, entries } = e.value;
      if (first + entries.length > seq) continue;
      op.delete(e.key);
      removed += entries.length;
      if (++mutations >= 500) {
        await commit(op);
        op = this.kv.atomic();
        mutations = 0;
      }
    }
    if (mutations > 0) await commit(op);
    return removed;
  }

  /** The lowest sequence number still shown: entries below it are past the count limit. */
  async #floor(): Promise<number> {
    const next = (await this.kv.get<number>(keys.requestLogMeta("next"))).value ?? 0;
    return next - this.max;
  }

  /** The entry with this id; `batchHint` (from a listing) finds it without a scan. */
  async get(id: string, batchHint?: number): Promise<RequestLogEntry | null> {
    const cutoff = this.#cutoff();
    if (batchHint !== undefined && Number.isSafeInteger(batchHint)) {
      const batch = (await this.kv.get<Batch>(keys.requestLogBatch(batchHint))).value;
      const hit = batch?.entries.find((e) => e.id === id);
      if (hit) return hit.time >= cutoff ? hit : null;
    }
    for await (
      const e of this.kv.list<Batch>({ prefix: keys.requestLogBatchPrefix() }, {
        reverse: true,
        batchSize: 100,
      })
    ) {
      const hit = e.value.entries.find((x) => x.id === id);
      if (hit) return hit.time >= cutoff ? hit : null;
    }
    return null;
  }

  /**
   * Newest first, filtered; reads at most `scanLimit` entries per page. Each summary carries
   * `batch`, the hint for `get`.
   */
  async list(
    filter: RequestLogFilter = {},
    options: { limit?: number; cursor?: string; scanLimit?: number } = {},
  ): Promise<RequestLogPage> {
    const limit = options.limit ?? 50;
    const scanLimit = options.scanLimit ?? 5_000;
    const match = matcher(filter);
    const cutoff = this.#cutoff();
    const floor = await this.#floor();
    const [batchFrom, afterId] = parseCursor(options.cursor);
    const iter = this.kv.list<Batch>({
      start: keys.requestLogBatchPrefix(),
      end: keys.requestLogBatch(batchFrom === undefined ? Number.MAX_SAFE_INTEGER : batchFrom + 1),
    }, { reverse: true, batchSize: 50 });
    const items: RequestLogSummary[] = [];
    let scanned = 0;
    for await (const e of iter) {
      const key = e.key[1] as number;
      const entries = e.value.entries;
      let i = entries.length - 1;
      if (key === batchFrom && afterId) {
        const at = entries.findIndex((x) => x.id === afterId);
        i = at === -1 ? i : at - 1;
      }
      for (; i >= 0; i--) {
        const entry = entries[i];
        if (e.value.first + i < floor) return { items };
        scanned++;
        if (entry.time >= cutoff) {
          const summary = summaryOf(entry);
          if (match(summary)) items.push({ ...summary, batch: key });
        }
        if (items.length >= limit || scanned >= scanLimit) {
          return { items, cursor: `${key}:${entry.id}` };
        }
      }
    }
    return { items };
  }

  /** Entries currently kept (a full count: for tests and the admin page, not the hot path). */
  async count(): Promise<number> {
    const cutoff = this.#cutoff();
    const floor = await this.#floor();
    let n = 0;
    for await (const e of this.kv.list<Batch>({ prefix: keys.requestLogBatchPrefix() })) {
      e.value.entries.forEach((entry, i) => {
        if (entry.time >= cutoff && e.value.first + i >= floor) n++;
      });
    }
    return n;
  }
}

function parseCursor(cursor: string | undefined): [number | undefined, string | undefined] {
  const m = cursor?.match(/^(\d+):([\w-]{1,100})$/);
  return m ? [Number(m[1]), m[2]] : [undefined, undefined];
}

function matcher(filter: RequestLogFilter): (s: RequestLogSummary) => boolean {
  const status = filter.status?.trim().toLowerCase();
  const klass = status && /^[1-5]xx$/.test(status) ? Number(status[0]) : undefined;
  const exact = status && /^\d{3}$/.test(status) ? Number(status) : undefined;
  const model = filter.model?.trim().toLowerCase();
  const upstream = filter.upstream?.trim();
  return (s) => {
    if (filter.errorsOnly && !s.error) return false;
    if (klass !== undefined && Math.floor(s.status / 100) !== klass) return false;
    if (exact !== undefined && s.status !== exact) return false;
    if (upstream && s.upstream !== upstream) return false;
    if (
      model && !s.model.toLowerCase().includes(model) &&
      !(s.upstreamModel?.toLowerCase().includes(model) ?? false)
    ) return false;
    return true;
  };
}

async function commit(op: Deno.AtomicOperation): Promise<void> {
  const res = await op.commit();
  if (!res.ok) throw new Error("request log write was rejected");
}
