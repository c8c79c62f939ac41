// Disabled keys are checked now and then with a tiny request; one that works again is re-enabled.
// When a key was last checked is kept with its state in KV, so that instances that live only
// minutes (Deno Deploy stops idle ones) still check it, and several do not check it at once.
import { healthId, keyId } from "./key_pool.ts";
import { probeKey } from "./key_probe.ts";
import type { Services } from "./services.ts";

const CHECK_EVERY = 10 * 60_000;
/** How often an instance looks for keys due a check (a look costs no KV read). */
const LOOK_EVERY = 60_000;

/**
 * Checks every disabled key disabled or last checked at least `dueAfter` ms ago; returns how many
 * were re-enabled.
 */
export async function recoverDisabledKeys(s: Services, dueAfter = 0): Promise<number> {
  let recovered = 0;
  for (const upstream of s.store.snapshot.doc.upstream) {
    for (const key of upstream.apiKeys) {
      const id = keyId(key);
      const health = healthId(upstream.baseUrl, key);
      const state = s.health.get(health, "*");
      if (state?.state !== "disabled" || state.reason.startsWith("admin")) continue;
      if (s.now() - (state.checkedAt ?? state.since) < dueAfter) continue;
      const result = await probeKey(s, upstream, key).catch((err) => {
        // A probe answers failures as results: one that throws is a bug worth seeing.
        s.log.log("error", "disabled key check could not run", {
          upstream: upstream.name,
          keyId: id,
          error: String(err),
        });
        return undefined;
      });
      if (!result?.ok) {
        await s.health.checked(health);
        continue;
      }
      await s.health.clear(health);
      recovered++;
      s.log.log("info", "a disabled key works again and was re-enabled", {
        upstream: upstream.name,
        keyId: id,
      });
    }
  }
  return recovered;
}

export function startKeyRecovery(s: Services, every = CHECK_EVERY, look = LOOK_EVERY): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    recoverDisabledKeys(s, every).catch((err) =>
      s.log.log("error", "disabled key check failed", { error: String(err) })
    ).finally(() => running = false);
  }, look);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}
