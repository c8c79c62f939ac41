// Disabled keys are checked now and then with a tiny request; one that works again is re-enabled.
import { healthId, keyId } from "./key_pool.ts";
import { probeKey } from "./key_probe.ts";
import type { Services } from "./services.ts";

const CHECK_EVERY = 10 * 60_000;

/** Checks every disabled key once; returns how many were re-enabled. */
export async function recoverDisabledKeys(s: Services): Promise<number> {
  let recovered = 0;
  for (const upstream of s.store.snapshot.doc.upstream) {
    for (const key of upstream.apiKeys) {
      const id = keyId(key);
      const health = healthId(upstream.baseUrl, key);
      const state = s.health.get(health, "*");
      if (state?.state !== "disabled" || state.reason.startsWith("admin")) continue;
      const result = await probeKey(s, upstream, key).catch((err) => {
        // A probe answers failures as results: one that throws is a bug worth seeing.
        s.log.log("error", "disabled key check could not run", {
          upstream: upstream.name,
          keyId: id,
          error: String(err),
        });
        return undefined;
      });
      if (result?.ok) {
        await s.health.clear(health);
        recovered++;
        s.log.log("info", "a disabled key works again and was re-enabled", {
          upstream: upstream.name,
          keyId: id,
        });
      }
    }
  }
  return recovered;
}

export function startKeyRecovery(s: Services, every = CHECK_EVERY): () => void {
  const timer = setInterval(() => {
    recoverDisabledKeys(s).catch((err) =>
      s.log.log("error", "disabled key check failed", { error: String(err) })
    );
  }, every);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}
