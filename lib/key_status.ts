// What the admin sees of each key's health (active, cooling down, disabled, reasons masked), and
// taking a key out of rotation or back by hand; the pages, the admin JSON API and the CLI share it.
import { findKey, findUpstream, type UpstreamRef } from "./admin_service.ts";
import type { ConfigDocument } from "./config_document.ts";
import { maskKey } from "./secret_mask.ts";
import { healthId, keyId } from "./key_pool.ts";
import { type Masker, maskerFor } from "./secret_mask.ts";
import type { KeyHealthStore, KeyState } from "./store/key_health_store.ts";

export interface KeyStatus {
  index: number;
  keyId: string;
  masked: string;
  state: "active" | "cooldown" | "disabled";
  /** Cooling keys: when the key may be used again (ms since epoch); several models: the latest. */
  until?: number;
  model?: string;
  reason?: string;
}

/**
 * A key's state from its health entries (one per model it cools down for, or one disabling it):
 * disabled outweighs cooling down, cooling down for any model counts.
 */
export function stateOf(entries: readonly KeyState[]): KeyStatus["state"] {
  if (entries.some((s) => s.state === "disabled")) return "disabled";
  return entries.length ? "cooldown" : "active";
}

/** How many of the keys are in each state. */
export function stateCounts(keys: KeyStatus[]): Record<KeyStatus["state"], number> {
  const counts = { active: 0, cooldown: 0, disabled: 0 };
  for (const k of keys) counts[k.state]++;
  return counts;
}

export interface UpstreamStatus {
  index: number;
  name: string;
  serviceType: string;
  current: boolean;
  keys: KeyStatus[];
}

const keyMaskers = new WeakMap<ConfigDocument, Masker>();

/**
 * `text` with every key of the document masked as the pages show keys (an upstream's error may
 * quote the key): one masker per document, whatever the number of reasons and keys.
 */
export function maskKeysIn(text: string, doc: ConfigDocument): string {
  let mask = keyMaskers.get(doc);
  if (!mask) {
    const keys = doc.upstream.flatMap((u) => u.apiKeys).filter((k) => k.length >= 4);
    keyMaskers.set(doc, mask = maskerFor(keys, maskKey));
  }
  return mask(text);
}

/**
 * Every key of every upstream with its health, secrets masked, in the reasons too; `redact`
 * removes any other secret (the logger's list).
 */
export function keyStatuses(
  doc: ConfigDocument,
  states: Array<KeyState & { healthId: string }>,
  redact: (text: string) => string = (t) => t,
): UpstreamStatus[] {
  const clean = (reason: string) => redact(maskKeysIn(reason, doc));
  const byId = Map.groupBy(states, (s) => s.healthId);
  return doc.upstream.map((u, index) => ({
    index,
    name: u.name,
    serviceType: u.serviceType,
    current: index === doc.currentUpstream,
    keys: u.apiKeys.map((key, i): KeyStatus => {
      const mine = byId.get(healthId(u.baseUrl, key)) ?? [];
      const base = { index: i, keyId: keyId(key), masked: maskKey(key) };
      const state = stateOf(mine);
      if (state === "disabled") {
        const disabled = mine.find((s) => s.state === "disabled")!;
        return { ...base, state, reason: clean(disabled.reason) };
      }
      if (state === "cooldown") {
        const cooling = mine.toSorted((a, b) => (b.until ?? 0) - (a.until ?? 0));
        return {
          ...base,
          state: "cooldown",
          until: cooling[0].until,
          // The client named the model: it may hold anything, a secret included.
          model: clean(cooling.map((s) => s.model).join(", ")),
          reason: clean(cooling[0].reason),
        };
      }
      return { ...base, state: "active" };
    }),
  }));
}

const DISABLED_BY_HAND = "admin: disabled by hand";

/** The health id of an upstream's key given as findKey takes it. */
function healthOf(doc: ConfigDocument, ref: UpstreamRef, which: string): string {
  const u = doc.upstream[findUpstream(doc, ref)];
  return healthId(u.baseUrl, u.apiKeys[findKey(u, which)]);
}

/** Takes a key out of rotation until it is enabled again. */
export async function disableKey(
  health: KeyHealthStore,
  doc: ConfigDocument,
  ref: UpstreamRef,
  id: string,
): Promise<void> {
  await health.disable(healthOf(doc, ref, id), DISABLED_BY_HAND);
}

/** Puts a key back in rotation, cooldowns included. */
export async function enableKey(
  health: KeyHealthStore,
  doc: ConfigDocument,
  ref: UpstreamRef,
  id: string,
): Promise<void> {
  await health.clear(healthOf(doc, ref, id));
}

/** Re-enables every disabled key of an upstream; returns how many there were. */
export async function enableAllKeys(
  health: KeyHealthStore,
  doc: ConfigDocument,
  ref: UpstreamRef,
): Promise<number> {
  const u = doc.upstream[findUpstream(doc, ref)];
  const ids = new Set(u.apiKeys.map((k) => healthId(u.baseUrl, k)));
  const disabled = new Set(
    health.list().filter((s) => s.state === "disabled" && ids.has(s.healthId)).map((s) =>
      s.healthId
    ),
  );
  for (const id of disabled) await health.clear(id);
  return disabled.size;
}
