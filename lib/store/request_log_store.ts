// The request log in KV: a summary per request under ["request_log", time, id] for newest-first
// lists, the full entry by id, and a write-order index so the count limit is kept by deleting a
// range of the oldest entries instead of counting the log. Age is kept by expireIn.
import {
  costOf,
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

type SeqPointer = [time: number, id: string];

/** A batch commit stays well under KV's limits on mutations and bytes per atomic operation. */
const MAX_MUTATIONS = 300;
const MAX_BATCH_COST = 400_000;

export class RequestLogStore {
  readonly max: number;
  readonly ttlMs: number;

  #now: () => number;

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

  /**
   * Stores entries (oldest first), after deleting what they push past the count limit, so the
   * log never holds more than `max`.
   */
  async append(entries: RequestLogEntry[]): Promise<void> {
    if (this.max <= 0 || entries.length === 0) return;
    const first = await this.#allocate(entries.length);
    const end = first + entries.length;
    await this.trimBefore(end - this.max);
    let op = this.kv.atomic();
    let mutations = 0;
    let cost = 0;
    for (let i = 0; i < entries.length; i++) {
      const seq = first + i;
      if (seq < end - this.max) continue;
      const entry = entries[i];
      const entryCost = costOf(entry) + 1_000;
      if (mutations > 0 && (mutations + 3 > MAX_MUTATIONS || cost + entryCost > MAX_BATCH_COST)) {
        await commit(op);
        op = this.kv.atomic();
        mutations = 0;
        cost = 0;
      }
      const expireIn = this.ttlMs;
      const pointer: SeqPointer = [entry.time, entry.id];
      op.set(keys.requestLog(entry.time, entry.id), summaryOf(entry), { expireIn })
        .set(keys.requestLogById(entry.id), entry, { expireIn })
        .set(keys.requestLogSeq(seq), pointer, { expireIn });
      mutations += 3;
      cost += entryCost;
    }
    if (mutations > 0) await commit(op);
    // Another instance may have taken later numbers and trimmed before these were written.
    const latest = (await this.kv.get<number>(keys.requestLogMeta("next"))).value ?? end;
    if (latest > end) await this.trimBefore(latest - this.max);
  }

  /**
   * Deletes every entry written before sequence `seq`. The range is listed from its start each
   * time: what was already deleted costs nothing to skip, and stragglers from a race are caught.
   */
  async trimBefore(seq: number): Promise<number> {
    if (seq <= 0) return 0;
    let deleted = 0;
    let op = this.kv.atomic();
    let mutations = 0;
    const iter = this.kv.list<SeqPointer>({
      start: keys.requestLogSeqPrefix(),
      end: keys.requestLogSeq(seq),
    }, { batchSize: 500 });
    for await (const e of iter) {
      const [time, id] = e.value;
      op.delete(e.key).delete(keys.requestLog(time, id)).delete(keys.requestLogById(id));
      mutations += 3;
      deleted++;
      if (mutations >= MAX_MUTATIONS) {
        await commit(op);
        op = this.kv.atomic();
        mutations = 0;
      }
    }
    if (mutations > 0) await commit(op);
    return deleted;
  }

  async get(id: string): Promise<RequestLogEntry | null> {
    const entry = (await this.kv.get<RequestLogEntry>(keys.requestLogById(id))).value;
    return entry && entry.time >= this.#cutoff() ? entry : null;
  }

  /** Newest first, filtered; reads at most `scanLimit` summaries per page. */
  async list(
    filter: RequestLogFilter = {},
    options: { limit?: number; cursor?: string; scanLimit?: number } = {},
  ): Promise<RequestLogPage> {
    const limit = options.limit ?? 50;
    const scanLimit = options.scanLimit ?? 5_000;
    const match = matcher(filter);
    const iter = this.kv.list<RequestLogSummary>({
      start: [...keys.requestLogPrefix(), this.#cutoff()],
      end: [...keys.requestLogPrefix(), Number.MAX_SAFE_INTEGER],
    }, {
      reverse: true,
      cursor: options.cursor || undefined,
      batchSize: Math.min(500, Math.max(limit, 50)),
    });
    const items: RequestLogSummary[] = [];
    let scanned = 0;
    for await (const e of iter) {
      scanned++;
      if (match(e.value)) items.push(e.value);
      if (items.length >= limit || scanned >= scanLimit) return { items, cursor: iter.cursor };
    }
    return { items };
  }

  /** Entries currently kept (a full count: for tests and the admin page, not the hot path). */
  async count(): Promise<number> {
    let n = 0;
    const iter = this.kv.list({
      start: [...keys.requestLogPrefix(), this.#cutoff()],
      end: [...keys.requestLogPrefix(), Number.MAX_SAFE_INTEGER],
    });
    for await (const _ of iter) n++;
    return n;
  }

  /** Reserves `n` sequence numbers, shared by every instance writing to the same KV. */
  async #allocate(n: number): Promise<number> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await this.kv.get<number>(keys.requestLogMeta("next"));
      const first = current.value ?? 0;
      const res = await this.kv.atomic()
        .check(current)
        .set(keys.requestLogMeta("next"), first + n)
        .commit();
      if (res.ok) return first;
    }
    throw new Error("could not reserve request log sequence numbers (too much contention)");
  }
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
