// Key health (cooling down until T for a model, or disabled with a reason) shared through KV by
// every instance; each keeps an in-memory copy refreshed by kv.watch, so picking a key never waits.
// A state belongs to a key at a server (its health id), not to an upstream's name: a rename
// writes nothing, and no crash between two commits can lose it.
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
  /** A disabled key: when a background check last found it still refused. */
  checkedAt?: number;
}

/** What the configuration holds now, as far as key health cares. */
export interface HealthIndex {
  /** The health id of every key of every upstream. */
  ids: ReadonlySet<string>;
  /** The health id of the old layout's (upstream name, key id); undefined when that key is gone. */
  legacy(upstream: string, keyId: string): string | undefined;
  /** The configuration's version these come from (null before its first save). */
  version: string | null;
}

/** Health of every key, by health id and model. */
export class KeyHealthStore {
  #states = new Map<string, KeyState>();
  #listeners = new Set<() => void>();
  #unfollow?: () => void;
  /** Moves before and after each of this instance's own writes, so a reload can tell it raced one. */
  #gen = 0;
  /** This instance's writes under way: a reload listing meanwhile may read KV from before one. */
  #writing = 0;
  #seenVersion: string | null = null;
  /** Prunes one after another: a caller awaiting one also waits for any before it. */
  #pruned: Promise<void> = Promise.resolve();

  private constructor(private kv: Deno.Kv, private now: () => number) {}

  /**
   * With `index` (the configuration now), states in the old layout are moved to the new one and
   * states of keys no longer configured are dropped.
   */
  static async open(
    kv: Deno.Kv,
    options: {
      now?: () => number;
      watch?: boolean;
      pollMs?: number;
      onError?: StoreErrorReport;
      index?: () => HealthIndex;
    } = {},
  ): Promise<KeyHealthStore> {
    const report = options.onError ?? reportToConsole;
    const store = new KeyHealthStore(kv, options.now ?? Date.now);
    if (options.index) await store.#migrate(options.index(), report);
    await store.reload();
    // Leftovers only cost space: a store that cannot drop them now still serves.
    if (options.index) {
      await store.prune(options.index()).catch((err) => report("key health prune", err));
    }
    if (options.watch !== false) {
      store.#unfollow = followKey(kv, keys.keyHealthVersion(), async (versionstamp) => {
        if (versionstamp !== store.#seenVersion) await store.reload();
      }, { pollMs: options.pollMs, onError: (err) => report("key health watch", err) });
    }
    return store;
  }

  /** The key's state for a model, or undefined when it is healthy. Memory only. */
  get(healthId: string, model: string): KeyState | undefined {
    if (this.#states.size === 0) return undefined;
    const now = this.now();
    for (const m of [model, "*"]) {
      const s = this.#states.get(mapKey(healthId, m));
      if (s && (s.state === "disabled" || (s.until ?? 0) > now)) return s;
    }
    return undefined;
  }

  /** Every state that still holds, for the admin pages. */
  list(): Array<KeyState & { healthId: string }> {
    const now = this.now();
    const out: Array<KeyState & { healthId: string }> = [];
    for (const [k, s] of this.#states) {
      if (s.state === "cooldown" && (s.until ?? 0) <= now) continue;
      out.push({ ...s, healthId: splitKey(k)[0] });
    }
    return out;
  }

  async coolDown(healthId: string, model: string, ms: number, reason: string): Promise<void> {
    const now = this.now();
    const state: KeyState = { state: "cooldown", until: now + ms, model, reason, since: now };
    await this.#write(async () => {
      this.#states.set(mapKey(healthId, model), state);
      await this.kv.atomic()
        .set(keys.keyHealth(healthId, model), state, { expireIn: Math.max(1000, ms) })
        .set(keys.keyHealthVersion(), crypto.randomUUID())
        .commit();
    });
  }

  async disable(healthId: string, reason: string): Promise<void> {
    const state: KeyState = { state: "disabled", model: "*", reason, since: this.now() };
    await this.#write(async () => {
      this.#states.set(mapKey(healthId, "*"), state);
      await this.kv.atomic()
        .set(keys.keyHealth(healthId, "*"), state)
        .set(keys.keyHealthVersion(), crypto.randomUUID())
        .commit();
    });
  }

  /** A disabled key's background check found it still refused: no instance checks it again soon. */
  async checked(healthId: string): Promise<void> {
    const k = mapKey(healthId, "*");
    const state = this.#states.get(k);
    if (state?.state !== "disabled") return;
    const next: KeyState = { ...state, checkedAt: this.now() };
    await this.#write(async () => {
      this.#states.set(k, next);
      await this.kv.atomic()
        .set(keys.keyHealth(healthId, "*"), next)
        .set(keys.keyHealthVersion(), crypto.randomUUID())
        .commit();
    });
  }

  /** Ends a key's cooldown after a passing fault (for every model): it answered again. */
  async recovered(healthId: string): Promise<void> {
    const k = mapKey(healthId, "*");
    if (this.#states.get(k)?.state !== "cooldown") return;
    await this.#write(async () => {
      this.#states.delete(k);
      await this.kv.atomic()
        .delete(keys.keyHealth(healthId, "*"))
        .set(keys.keyHealthVersion(), crypto.randomUUID())
        .commit();
    });
  }

  /** Clears every state of a key, for every model (re-enable). */
  async clear(healthId: string): Promise<void> {
    await this.#write(async () => {
      const op = this.kv.atomic();
      for (const [k] of this.#states) {
        const [id, model] = splitKey(k);
        if (id !== healthId) continue;
        this.#states.delete(k);
        op.delete(keys.keyHealth(id, model));
      }
      // States another instance wrote that this one has not heard of yet.
      for await (const e of this.kv.list({ prefix: [...keys.keyHealthPrefix(), healthId] })) {
        op.delete(e.key);
      }
      await op.set(keys.keyHealthVersion(), crypto.randomUUID()).commit();
    });
  }

  /**
   * Drops the states of keys the configuration no longer holds (an upstream or key removed, a base
   * URL changed), so none lingers in KV. Only while the configuration is still at `index.version`:
   * an instance that has not seen a newer one must not drop the states of keys added since.
   */
  prune(index: HealthIndex): Promise<void> {
    const run = this.#pruned.then(() => this.#prune(index));
    this.#pruned = run.catch(() => {});
    return run;
  }

  async #prune(index: HealthIndex): Promise<void> {
    const gone = [...this.#states.keys()].filter((k) => !index.ids.has(splitKey(k)[0]));
    if (gone.length === 0) return;
    let stale = false;
    await this.#write(async () => {
      for (const k of gone) this.#states.delete(k);
      for (let i = 0; i < gone.length && !stale; i += BATCH) {
        const op = this.kv.atomic().check({ key: keys.configMeta(), versionstamp: index.version });
        for (const k of gone.slice(i, i + BATCH)) op.delete(keys.keyHealth(...splitKey(k)));
        const res = await op.set(keys.keyHealthVersion(), crypto.randomUUID()).commit();
        stale = !res.ok;
      }
    });
    // A newer configuration took over: it prunes by itself, and memory follows KV again.
    if (stale) await this.reload();
  }

  /**
   * Moves states of the old layout (by upstream name and key id) to their health id, in atomic
   * batches, each checking the entries it moves, so instances opening at once move each once.
   */
  async #migrate(index: HealthIndex, report: StoreErrorReport): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
      const old: Deno.KvEntry<KeyState>[] = [];
      for await (const e of this.kv.list<KeyState>({ prefix: keys.legacyKeyHealthPrefix() })) {
        old.push(e);
      }
      if (old.length === 0) return;
      const now = this.now();
      const units = legacyUnits(old, await this.#current(), index, now);
      let raced = false;
      for (const batch of batches(units)) {
        const op = this.kv.atomic();
        for (const u of batch) u(op);
        const res = await op.set(keys.keyHealthVersion(), crypto.randomUUID()).commit();
        if (!res.ok) raced = true;
      }
      if (!raced) return;
    }
    report("key health migration", new Error("old key health kept changing; left for later"));
  }

  /** Every state in the new layout, straight from KV. */
  async #current(): Promise<Map<string, Deno.KvEntry<KeyState>>> {
    const out = new Map<string, Deno.KvEntry<KeyState>>();
    for await (const e of this.kv.list<KeyState>({ prefix: keys.keyHealthPrefix() })) {
      const [, id, model] = e.key as [string, string, string];
      out.set(mapKey(id, model), e);
    }
    return out;
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
        const [, id, model] = e.key as [string, string, string];
        next.set(mapKey(id, model), e.value);
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

function mapKey(healthId: string, model: string): string {
  return healthId + SEP + model;
}

function splitKey(key: string): [string, string] {
  return key.split(SEP) as [string, string];
}

/** Deletes per commit: Deno KV takes at most 1000 mutations, one goes to the version. */
const BATCH = 900;
/** Checks per commit: Deno KV takes at most 100. */
const MAX_CHECKS = 100;

/** A part of the migration that must commit whole: its checks and mutations. */
interface Unit {
  (op: Deno.AtomicOperation): void;
  checks: number;
  mutations: number;
}

function unit(checks: number, mutations: number, apply: (op: Deno.AtomicOperation) => void): Unit {
  return Object.assign(apply, { checks, mutations });
}

function batches(units: Unit[]): Unit[][] {
  const out: Unit[][] = [];
  let checks = MAX_CHECKS;
  let mutations = BATCH;
  for (const u of units) {
    if (checks + u.checks > MAX_CHECKS || mutations + u.mutations > BATCH) {
      out.push([]);
      checks = 0;
      mutations = 0;
    }
    out.at(-1)!.push(u);
    checks += u.checks;
    mutations += u.mutations;
  }
  return out;
}

function holds(s: KeyState | undefined, now: number): boolean {
  if (s?.state === "disabled") return true;
  return s?.state === "cooldown" && (s.until ?? 0) > now;
}

/** Which of two states of one key and model wins: disabled, else the longer cooldown. */
function stronger(a: KeyState, b: KeyState): boolean {
  if (a.state !== b.state) return a.state === "disabled";
  return a.state === "cooldown" && (a.until ?? 0) > (b.until ?? 0);
}

/**
 * The migration of old-layout entries as units: each old entry is deleted under a check of the
 * version it was read at; the strongest state of a key and model (the same key at the same server
 * under two names) is set under a check that the new entry has not changed since it was read.
 * Entries whose upstream or key is gone, or whose cooldown is over, are only deleted.
 */
function legacyUnits(
  old: Deno.KvEntry<KeyState>[],
  current: Map<string, Deno.KvEntry<KeyState>>,
  index: HealthIndex,
  now: number,
): Unit[] {
  const groups = new Map<string, { id: string; model: string; from: Deno.KvEntry<KeyState>[] }>();
  const units: Unit[] = [];
  const drop = (e: Deno.KvEntry<KeyState>) => unit(1, 1, (op) => op.check(e).delete(e.key));
  for (const e of old) {
    const [, upstream, keyId, model] = e.key;
    const id = e.key.length === 4 && typeof upstream === "string" && typeof keyId === "string" &&
        typeof model === "string"
      ? index.legacy(upstream, keyId)
      : undefined;
    if (id === undefined || !holds(e.value, now)) {
      units.push(drop(e));
      continue;
    }
    const k = mapKey(id, model as string);
    const g = groups.get(k) ?? { id, model: model as string, from: [] };
    g.from.push(e);
    groups.set(k, g);
  }
  for (const [k, g] of groups) {
    const existing = current.get(k);
    let best: KeyState | undefined = holds(existing?.value, now) ? existing!.value : undefined;
    let moved = false;
    for (const e of g.from) {
      if (!best || stronger(e.value, best)) {
        best = e.value;
        moved = true;
      }
    }
    const [first, ...rest] = g.from;
    const target = keys.keyHealth(g.id, g.model);
    const won = best!;
    units.push(unit(2, moved ? 2 : 1, (op) => {
      op.check(first).check({ key: target, versionstamp: existing?.versionstamp ?? null });
      op.delete(first.key);
      if (!moved) return;
      const expireIn = won.state === "cooldown" ? Math.max(1000, won.until! - now) : undefined;
      op.set(target, won, expireIn === undefined ? undefined : { expireIn });
    }));
    for (const from of rest) units.push(drop(from));
  }
  return units;
}
