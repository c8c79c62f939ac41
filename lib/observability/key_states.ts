// How many keys of each upstream are usable, cooling down or disabled, for /metrics and the
// dashboard; a key cooling down for one model only counts as cooling down.
import type { ConfigDocument } from "../config_document.ts";
import { healthId } from "../key_pool.ts";
import { stateOf } from "../key_status.ts";
import type { KeyHealthStore } from "../store/key_health_store.ts";
import type { KeyStateCount } from "./metrics.ts";

export function keyStateCounts(
  doc: Pick<ConfigDocument, "upstream">,
  health: Pick<KeyHealthStore, "list">,
): KeyStateCount[] {
  const states = Map.groupBy(health.list(), (s) => s.healthId);
  return doc.upstream.map((u) => {
    const count: KeyStateCount = { upstream: u.name, active: 0, cooldown: 0, disabled: 0 };
    for (const key of new Set(u.apiKeys)) {
      count[stateOf(states.get(healthId(u.baseUrl, key)) ?? [])]++;
    }
    return count;
  });
}
