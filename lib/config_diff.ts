// What replacing one configuration document by another changes, for an import's preview and report.
import type { Strategy } from "./config.ts";
import type { ConfigDocument } from "./config_document.ts";

export interface UpstreamChange {
  name: string;
  /** Settings that differ, keys aside. */
  fields: string[];
  keysAdded: number;
  keysRemoved: number;
}

export interface ConfigDiff {
  added: string[];
  removed: string[];
  changed: UpstreamChange[];
  unchanged: string[];
  keys: { before: number; after: number };
  strategy?: { before: Strategy; after: Strategy };
  current?: { before: string | null; after: string | null };
  /** The order of the upstreams that are in both differs. */
  reordered: boolean;
  hasChanges: boolean;
}

/** What replacing `before` by `after` changes, upstreams matched by name. */
export function diffConfig(before: ConfigDocument, after: ConfigDocument): ConfigDiff {
  const byName = (doc: ConfigDocument) =>
    new Map(doc.upstream.map((u) => [u.name.toLowerCase(), u] as const));
  const old = byName(before);
  const neu = byName(after);
  const diff: ConfigDiff = {
    added: after.upstream.filter((u) => !old.has(u.name.toLowerCase())).map((u) => u.name),
    removed: before.upstream.filter((u) => !neu.has(u.name.toLowerCase())).map((u) => u.name),
    changed: [],
    unchanged: [],
    keys: { before: countKeys(before), after: countKeys(after) },
    reordered: false,
    hasChanges: false,
  };
  for (const u of after.upstream) {
    const prev = old.get(u.name.toLowerCase());
    if (!prev) continue;
    const fields = [...new Set([...Object.keys(prev), ...Object.keys(u)])]
      .filter((f) => f !== "apiKeys" && stable(prev[f]) !== stable(u[f]));
    // Sets, not includes(): an upstream may hold thousands of keys.
    const had = new Set(prev.apiKeys);
    const has = new Set(u.apiKeys);
    const keysAdded = u.apiKeys.filter((k) => !had.has(k)).length;
    const keysRemoved = prev.apiKeys.filter((k) => !has.has(k)).length;
    const keyOrder = !keysAdded && !keysRemoved && stable(prev.apiKeys) !== stable(u.apiKeys);
    if (keyOrder) fields.push("key order");
    if (fields.length || keysAdded || keysRemoved) {
      diff.changed.push({ name: u.name, fields, keysAdded, keysRemoved });
    } else {
      diff.unchanged.push(u.name);
    }
  }
  const common = (doc: ConfigDocument, other: Map<string, unknown>) =>
    doc.upstream.map((u) => u.name.toLowerCase()).filter((n) => other.has(n));
  diff.reordered = stable(common(before, neu)) !== stable(common(after, old));
  if (before.loadBalance !== after.loadBalance) {
    diff.strategy = { before: before.loadBalance, after: after.loadBalance };
  }
  const currentName = (doc: ConfigDocument) => doc.upstream[doc.currentUpstream]?.name ?? null;
  if (currentName(before) !== currentName(after)) {
    diff.current = { before: currentName(before), after: currentName(after) };
  }
  diff.hasChanges = diff.added.length > 0 || diff.removed.length > 0 || diff.changed.length > 0 ||
    diff.reordered || !!diff.strategy || !!diff.current;
  return diff;
}

export function countKeys(doc: ConfigDocument): number {
  return doc.upstream.reduce((n, u) => n + u.apiKeys.length, 0);
}

function stable(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
        : v,
  ) ?? "undefined";
}
