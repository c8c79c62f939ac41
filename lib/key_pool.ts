// Which key serves the next attempt: the strategy's order over the healthy keys of an upstream,
// kept in memory per instance so the hot path never waits on KV.
import { createHash } from "node:crypto";
import type { Strategy } from "./config.ts";
import type { UpstreamConfig, UpstreamFailure } from "./providers/types.ts";
import type { KeyHealthStore } from "./store/key_health_store.ts";

const ids = new Map<string, string>();

/** A stable, non-reversible id of a key, for KV, logs and the admin pages. */
export function keyId(key: string): string {
  let id = ids.get(key);
  if (!id) {
    id = createHash("sha256").update(key).digest("hex").slice(0, 16);
    if (ids.size > 10_000) ids.clear();
    ids.set(key, id);
  }
  return id;
}

/** Cooldown when a 429 names no time. */
export const DEFAULT_RATE_LIMIT_COOLDOWN = 60_000;
/** Cooldown after a 5xx, timeout or connection error: short, growing with repeated failures. */
export const TRANSIENT_COOLDOWN = 5_000;
const TRANSIENT_COOLDOWN_MAX = 120_000;

export interface Candidate {
  key: string;
  id: string;
}

export class KeyPool {
  #cursors = new Map<string, number>();
  #failures = new Map<string, number>();

  constructor(readonly health: KeyHealthStore, private random: () => number = Math.random) {}

  /** The healthy keys of `upstream` for `model`, in the order the strategy would try them. */
  order(upstream: UpstreamConfig, strategy: Strategy, model: string): Candidate[] {
    const all = upstream.apiKeys;
    const n = all.length;
    if (n === 0) return [];
    let start = 0;
    if (strategy === "round-robin") {
      start = this.#cursors.get(upstream.name) ?? 0;
      this.#cursors.set(upstream.name, (start + 1) % n);
    } else if (strategy === "random") {
      start = Math.floor(this.random() * n);
    }
    const out: Candidate[] = [];
    for (let i = 0; i < n; i++) {
      const key = all[(start + i) % n];
      const id = keyId(key);
      if (!this.health.get(upstream.name, id, model)) out.push({ key, id });
    }
    return out.length > 0 ? out : this.#probe(upstream, model);
  }

  /**
   * With every key set aside, the one soonest back from a passing fault (5xx, timeout, refused
   * connection) is tried anyway: an upstream that blipped once must not turn every request away
   * for a cooldown that outlasts the blip. Rate-limited and disabled keys stay out.
   */
  #probe(upstream: UpstreamConfig, model: string): Candidate[] {
    let best: (Candidate & { until: number }) | undefined;
    for (const key of upstream.apiKeys) {
      const id = keyId(key);
      const s = this.health.get(upstream.name, id, model);
      if (s?.state !== "cooldown" || s.model !== "*") continue;
      const until = s.until ?? 0;
      if (!best || until < best.until) best = { key, id, until };
    }
    return best ? [{ key: best.key, id: best.id }] : [];
  }

  /** Milliseconds until the first cooling key of the upstream recovers; undefined if none will. */
  soonestRecovery(upstream: UpstreamConfig, model: string, now = Date.now()): number | undefined {
    let soonest: number | undefined;
    for (const key of upstream.apiKeys) {
      const s = this.health.get(upstream.name, keyId(key), model);
      if (s?.state === "cooldown" && s.until !== undefined) {
        soonest = Math.min(soonest ?? Infinity, Math.max(0, s.until - now));
      }
    }
    return soonest;
  }

  /** Records a failed attempt: cool the key down or disable it, as the failure calls for. */
  async recordFailure(
    upstream: UpstreamConfig,
    candidate: Candidate,
    model: string,
    failure: UpstreamFailure,
  ): Promise<void> {
    const name = upstream.name;
    const reason = `${failure.status || "network"}: ${failure.message}`.slice(0, 300);
    if (failure.keyFault === "auth") {
      await this.health.disable(name, candidate.id, reason);
    } else if (failure.keyFault === "rate_limit") {
      await this.health.coolDown(
        name,
        candidate.id,
        model,
        failure.retryAfterMs ?? DEFAULT_RATE_LIMIT_COOLDOWN,
        reason,
      );
    } else if (failure.keyFault === "transient") {
      const count = (this.#failures.get(candidate.id) ?? 0) + 1;
      this.#failures.set(candidate.id, count);
      const ms = Math.min(
        TRANSIENT_COOLDOWN_MAX,
        failure.retryAfterMs ?? TRANSIENT_COOLDOWN * 2 ** (count - 1),
      );
      await this.health.coolDown(name, candidate.id, "*", ms, reason);
    }
  }

  recordSuccess(candidate: Candidate): void {
    if (this.#failures.size) this.#failures.delete(candidate.id);
  }
}
