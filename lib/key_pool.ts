// Which key serves the next attempt: the strategy's order over the healthy keys of an upstream,
// kept in memory per instance so the hot path never waits on KV.
import { sha256Hex } from "./auth.ts";
import type { Strategy } from "./config.ts";
import type { ConfigDocument } from "./config_document.ts";
import type { UpstreamConfig, UpstreamFailure } from "./providers/types.ts";
import type { HealthIndex, KeyHealthStore } from "./store/key_health_store.ts";
import { clip } from "./secret_mask.ts";

/**
 * Ids remembered, past which they are forgotten (keys replaced again and again). Above any store's
 * keys (it holds some 25,000): at 10,000, an upstream of 11,000 keys had each hashed twice for
 * every request, 150 ms of the event loop.
 */
const MAX_REMEMBERED = 100_000;

const ids = new Map<string, string>();

/** A stable, non-reversible id of a key, for logs, metrics and the admin pages. */
export function keyId(key: string): string {
  let id = ids.get(key);
  if (!id) {
    id = sha256Hex(key).slice(0, 16);
    if (ids.size > MAX_REMEMBERED) ids.clear();
    ids.set(key, id);
  }
  return id;
}

/** By base URL, then key: looked up for every key of every request, so no string is built. */
const healthIds = new Map<string, Map<string, string>>();
let healthIdCount = 0;

/**
 * What key health is kept under: the key at one server. Not the key alone, since upstreams at
 * different servers may share a placeholder key ("EMPTY", "ollama") that one of them refuses; not
 * the upstream's name, so a rename keeps it and a new base URL starts afresh.
 */
export function healthId(baseUrl: string, key: string): string {
  let byKey = healthIds.get(baseUrl);
  let id = byKey?.get(key);
  if (!id) {
    id = sha256Hex(`${baseUrl}\u0000${key}`).slice(0, 16);
    if (healthIdCount > MAX_REMEMBERED) {
      healthIds.clear();
      healthIdCount = 0;
      byKey = undefined;
    }
    if (!byKey) healthIds.set(baseUrl, byKey = new Map());
    byKey.set(key, id);
    healthIdCount++;
  }
  return id;
}

/** The configuration as key health sees it (see HealthIndex). */
export function healthIndex(
  snapshot: { doc: Pick<ConfigDocument, "upstream">; version: string | null },
): HealthIndex {
  const all = new Set<string>();
  for (const u of snapshot.doc.upstream) {
    for (const key of u.apiKeys) all.add(healthId(u.baseUrl, key));
  }
  return {
    ids: all,
    version: snapshot.version,
    legacy(upstream, id) {
      const u = snapshot.doc.upstream.find((x) => x.name === upstream);
      const key = u?.apiKeys.find((k) => keyId(k) === id);
      return u && key !== undefined ? healthId(u.baseUrl, key) : undefined;
    },
  };
}

/**
 * Cooldown when a 429 names no time: short at first (a per-minute window may reopen in seconds,
 * and a one-key upstream turns every request away meanwhile), doubling while the key stays limited.
 */
const DEFAULT_RATE_LIMIT_COOLDOWN = 10_000;
const DEFAULT_RATE_LIMIT_COOLDOWN_MAX = 60_000;
/** Cooldown after a 5xx, timeout or connection error: short, growing with repeated failures. */
const TRANSIENT_COOLDOWN = 5_000;
const TRANSIENT_COOLDOWN_MAX = 120_000;
const PROBE_FORGET_MS = 60_000;
/**
 * The longest a 429 sets a key aside, whatever time it names: a day's quota resets within a day,
 * and a broken or hostile `retry-after` (years) would otherwise take the key for good.
 */
const RATE_LIMIT_COOLDOWN_MAX = 24 * 3_600_000;

export interface Candidate {
  key: string;
  /** keyId(key), for the log and the admin pages. */
  id: string;
}

export class KeyPool {
  #cursors = new Map<string, number>();
  #failures = new Map<string, number>();

  /**
   * `slowKeyMs`: how long a key that let a request wait out its timeout stays aside at least
   * (twice REQUEST_TIMEOUT, at most ten minutes): tried again after a short cooldown, it would
   * make the next request wait the whole timeout again while another key could answer at once.
   */
  constructor(
    readonly health: KeyHealthStore,
    private random: () => number = Math.random,
    private slowKeyMs = 0,
  ) {}

  /** Keys being tried while set aside, with when: one request at a time finds out. */
  #probing = new Map<string, number>();

  /**
   * The healthy keys of `upstream` for `model`, in the order the strategy would try them. With
   * `probe`, when none is healthy, one set aside after a passing fault (see #probe).
   */
  order(upstream: UpstreamConfig, strategy: Strategy, model: string, probe = true): Candidate[] {
    const all = upstream.apiKeys;
    const n = all.length;
    if (n === 0) return [];
    let start = 0;
    if (strategy === "round-robin") start = this.#cursors.get(upstream.name) ?? 0;
    else if (strategy === "random") start = Math.floor(this.random() * n);
    const out: Candidate[] = [];
    let next = (start + 1) % n;
    for (let i = 0; i < n; i++) {
      const at = (start + i) % n;
      const key = all[at];
      if (!this.health.get(healthId(upstream.baseUrl, key), model)) {
        if (!out.length) next = (at + 1) % n;
        out.push({ key, id: keyId(key) });
      }
    }
    // The turn passes the key that served, not only the cursor: a key after one set aside would
    // otherwise serve both their turns, twice its share, toward a limit of its own.
    if (strategy === "round-robin") this.#cursors.set(upstream.name, next);
    return out.length > 0 || !probe ? out : this.#probe(upstream, model);
  }

  /**
   * With every key set aside, the one soonest back from a passing fault (5xx, timeout, refused
   * connection) is tried anyway, by one request at a time: an upstream that blipped once must
   * not turn every request away for a cooldown that outlasts the blip, nor a hanging one hold
   * every request. Rate-limited and disabled keys stay out.
   */
  #probe(upstream: UpstreamConfig, model: string): Candidate[] {
    const now = Date.now();
    let best: (Candidate & { until: number; health: string }) | undefined;
    for (const key of upstream.apiKeys) {
      const health = healthId(upstream.baseUrl, key);
      const s = this.health.get(health, model);
      if (s?.state !== "cooldown" || s.model !== "*") continue;
      // A probe whose outcome never came back (a client that left) is forgotten after a while.
      if (now - (this.#probing.get(health) ?? -Infinity) < PROBE_FORGET_MS) return [];
      const until = s.until ?? 0;
      if (!best || until < best.until) best = { key, id: keyId(key), until, health };
    }
    if (!best) return [];
    this.#probing.set(best.health, now);
    return [{ key: best.key, id: best.id }];
  }

  /** Milliseconds until the first cooling key of the upstream recovers; undefined if none will. */
  soonestRecovery(upstream: UpstreamConfig, model: string, now = Date.now()): number | undefined {
    let soonest: number | undefined;
    for (const key of upstream.apiKeys) {
      const s = this.health.get(healthId(upstream.baseUrl, key), model);
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
    const id = healthId(upstream.baseUrl, candidate.key);
    const probed = this.#probing.delete(id);
    const reason = clip(`${failure.status || "network"}: ${failure.message}`, 300);
    if (failure.keyFault === "auth") {
      await this.health.disable(id, reason);
    } else if (failure.keyFault === "rate_limit") {
      let ms = failure.retryAfterMs;
      if (ms === undefined) {
        const again = this.health.get(id, model) === undefined;
        ms = this.#backoff(id, again, DEFAULT_RATE_LIMIT_COOLDOWN, DEFAULT_RATE_LIMIT_COOLDOWN_MAX);
      }
      await this.health.coolDown(id, model, Math.min(ms, RATE_LIMIT_COOLDOWN_MAX), reason);
    } else if (failure.keyFault === "transient") {
      const current = this.health.get(id, "*");
      // A 401 to another request meanwhile outweighs this passing fault.
      if (current?.state === "disabled") return;
      const again = probed || current === undefined;
      if (!again && failure.retryAfterMs === undefined) return;
      const backoff = this.#backoff(id, again, TRANSIENT_COOLDOWN, TRANSIENT_COOLDOWN_MAX);
      let ms = Math.min(TRANSIENT_COOLDOWN_MAX, failure.retryAfterMs ?? backoff);
      if (failure.type === "timeout_error") ms = Math.max(ms, this.slowKeyMs);
      await this.health.coolDown(id, "*", ms, reason);
    }
  }

  /**
   * The cooldown for a key's `count`-th failure in a row, `base` doubling up to `max`. Requests in
   * flight together that fail on one key met one fault: only a failure after its cooldown (`again`:
   * the key was back, or this was the probe sent during it) counts anew. Counted per request, a
   * blip met by a few requests at once set the key aside for minutes.
   */
  #backoff(id: string, again: boolean, base: number, max: number): number {
    const count = (this.#failures.get(id) ?? 0) + (again ? 1 : 0) || 1;
    this.#failures.set(id, count);
    return Math.min(max, base * 2 ** (count - 1));
  }

  /**
   * An attempt the key did not fail (the request's own fault, or a client that left): a probe on
   * it is over, so the next request finds out instead of being turned away until it is forgotten.
   */
  settle(upstream: UpstreamConfig, candidate: Candidate): void {
    if (this.#probing.size) this.#probing.delete(healthId(upstream.baseUrl, candidate.key));
  }

  /**
   * A key that took over from one that failed served this request: under round-robin the next
   * turn is the key after it, or it would serve the next request too.
   */
  passTurn(upstream: UpstreamConfig, candidate: Candidate): void {
    if (!this.#cursors.has(upstream.name)) return;
    const at = upstream.apiKeys.indexOf(candidate.key);
    if (at >= 0) this.#cursors.set(upstream.name, (at + 1) % upstream.apiKeys.length);
  }

  /** A success clears the failure count; a probe's success ends its key's cooldown for all. */
  async recordSuccess(upstream: UpstreamConfig, candidate: Candidate): Promise<void> {
    if (!this.#failures.size && !this.#probing.size) return;
    const id = healthId(upstream.baseUrl, candidate.key);
    this.#failures.delete(id);
    if (this.#probing.delete(id)) await this.health.recovered(id);
  }
}
