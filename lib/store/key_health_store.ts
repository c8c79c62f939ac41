// Key health (cooling down until T for a model, or disabled with a reason) shared through KV by
// every instance; each keeps an in-memory copy refreshed by kv.watch, so picking a key never waits.
import { followKey, reportToConsole, type StoreErrorReport } from "./follow_key.ts";
import { keys } from "./keys.ts";

export interface KeyState {
  state: "cooldown" | "disabled";
  /** For a cooldown: when the key may be used again (ms since epoch). */
  until?: number;
  /** The model the cooldown applies to; `*` for every model. */
  model: string;
  reason: string;
  since: number;
}

/** Health of every key, by upstream name, key id and model. */
export class KeyHealthStore {
  #states = new Map<string, KeyState>();
  #listeners = new Set<() => void>();
  #unfollow?: () => void;
  /** Moves before and after each of this instance's own writes, so a reload can tell it raced one. */
  #gen = 0;
  /** This instance's writes under way: a reload listing meanwhile may read KV from before one. */
  #writing = 0;
  #seenVersion: string | null = null;

  private constructor(private kv: Deno.Kv, private now: () => number) {}

  static async open(
    kv: Deno.Kv,
    options: {
      now?: () => number;
      watch?: boolean;
      pollMs?: number;
      onError?: StoreErrorReport;
    } = {},
  ): Promise<KeyHealthStore> {
    const report = options.onError ?? reportToConsole;
    const store = new KeyHealthStore(kv, options.now ?? Date.now);
    await store.reload();
    if (options.watch !== false) {
      store.#unfollow = followKey(kv, keys.keyHealthVersion(), async (versionstamp) => {
        if (versionstamp !== store.#seenVersion) await store.reload();
      }, { pollMs: options.pollMs, onError: (err) => report("key health watch", err) });
    }
    return store;
  }

  /** The key's state for a model, or undefined when it is healthy. Memory only. */
  get(upstream: string, keyId: string, model: string): KeyState | undefined {
    if (this.#states.size === 0) return undefined;
    const now = this.now();
    for (const m of [model, "*"]) {
      const s = this.#states.get(mapKey(upstream, keyId, m));
      if (s && (s.state === "disabled" || (s.until ?? 0) > now)) return s;
    }
    return undefined;
  }

  /** Every state of one upstream's keys that still holds, for the admin pages. */
  list(upstream?: string): Array<KeyState & { upstream: string; keyId: string }> {
    const now = this.now();
    const out: Array<KeyState & { upstream: string; keyId: string }> = [];
    for (const [k, s] of this.#states) {
      const [u, keyId] = splitKey(k);
      if (upstream !== undefined && u !== upstream) continue;
      if (s.state === "cooldown" && (s.until ?? 0) <= now) continue;
      out.push({ ...s, upstream: u, keyId });
    }
    return out;
  }

  async coolDown(
    upstream: string,
    keyId: string,
    model: string,
    ms: number,
    reason: string,
  ): Promise<void> {
    const now = this.now();
    const state: KeyState = { state: "cooldown", until: now + ms, model, reason, since: now };
    await this.#write(async () => {
      this.#states.set(mapKey(upstream, keyId, model), state);
      await this.kv.atomic()
        .set(keys.keyHealth(upstream, keyId, model), state, { expireIn: Math.max(1000, ms) })
        .set(keys.keyHealthVersion(), crypto.randomUUID())
        .commit();
    });
  }

  async disable(upstream: string, keyId: string, reason: string): Promise<void> {
    const state: KeyState = { state: "disabled", model: "*", reason, since: this.now() };
    await this.#write(async () => {
      this.#states.set(mapKey(upstream, keyId, "*"), state);
      await this.kv.atomic()
        .set(keys.keyHealth(upstream, keyId, "*"), state)
        .set(keys.keyHealthVersion(), crypto.randomUUID())
        .commit();
    });
  }

  /** Ends a key's cooldown after a passing fault (for every model): it answered again. */
  async recovered(upstream: string, keyId: string): Promise<void> {
    const k = mapKey(upstream, keyId, "*");
    if (this.#states.get(k)?.state !== "cooldown") return;
    await this.#write(async () => {
      this.#states.delete(k);
      await this.kv.atomic()
        .delete(keys.keyHealth(upstream, keyId, "*"))
        .set(keys.keyHealthVersion(), crypto.randomUUID())
        .commit();
    });
  }

  /** Clears every state of a key (re-enable), or of all keys of an upstream when keyId is omitted. */
  async clear(upstream: string, keyId?: string): Promise<void> {
    await this.#write(async () => {
      const op = this.kv.atomic();
      for (const [k] of this.#states) {
        const [u, id, model] = splitKey(k);
        if (u !== upstream || (keyId !== undefined && id !== keyId)) continue;
        this.#states.delete(k);
        op.delete(keys.keyHealth(u, id, model));
      }
      for await (const e of this.kv.list({ prefix: [...keys.keyHealthPrefix(), upstream] })) {
        if (keyId === undefined || e.key[2] === keyId) op.delete(e.key);
      }
      await op.set(keys.keyHealthVersion(), crypto.randomUUID()).commit();
    });
  }

  /** Carries every state of an upstream over to its new name (an upstream was renamed). */
  async rename(from: string, to: string): Promise<void> {
    if (from === to) return;
    await this.#write(async () => {
      const now = this.now();
      const op = this.kv.atomic();
      for await (
        const e of this.kv.list<KeyState>({ prefix: [...keys.keyHealthPrefix(), from] })
      ) {
        const [, , keyId, model] = e.key as [string, string, string, string];
        const s = e.value;
        op.delete(e.key);
        this.#states.delete(mapKey(from, keyId, model));
        if (s.state === "cooldown" && (s.until ?? 0) <= now) continue;
        op.set(
          keys.keyHealth(to, keyId, model),
          s,
          s.state === "cooldown" ? { expireIn: Math.max(1000, s.until! - now) } : undefined,
        );
        this.#states.set(mapKey(to, keyId, model), s);
      }
      await op.set(keys.keyHealthVersion(), crypto.randomUUID()).commit();
    });
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** One of this instance's own writes: its states in memory and in KV, which a reload must not undo. */
  async #write(change: () => Promise<void>): Promise<void> {
    this.#gen++;
    this.#writing++;
    try {
      await change();
    } finally {
      this.#writing--;
      this.#gen++;
    }
  }

  async reload(): Promise<void> {
    // A write of this instance made while listing would be undone by the older list: list again.
    for (let attempt = 0; attempt < 5; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 10 * attempt));
      const gen = this.#gen;
      const busy = this.#writing > 0;
      const seen = (await this.kv.get(keys.keyHealthVersion())).versionstamp;
      const next = new Map<string, KeyState>();
      for await (const e of this.kv.list<KeyState>({ prefix: keys.keyHealthPrefix() })) {
        const [, upstream, keyId, model] = e.key as [string, string, string, string];
        next.set(mapKey(upstream, keyId, model), e.value);
      }
      if (busy || gen !== this.#gen) continue;
      this.#states = next;
      // Only once the states are in: a reload that failed half-way must look unseen, to be redone.
      this.#seenVersion = seen;
      break;
    }
    for (const l of this.#listeners) l();
  }

  close(): void {
    this.#unfollow?.();
  }
}

// Looked up for every key on every request: a plain join, not JSON.
const SEP = "\u0000";

function mapKey(upstream: string, keyId: string, model: string): string {
  return upstream + SEP + keyId + SEP + model;
}

function splitKey(key: string): [string, string, string] {
  return key.split(SEP) as [string, string, string];
}
