// GET /v1/models in Anthropic's list shape: the names the model map offers first, then what the
// current upstream lists (an Anthropic-compatible upstream's answer goes out as it is).
import { Hono } from "hono";
import type { AppEnv } from "../lib/app.ts";
import { providerFor } from "../lib/providers/registry.ts";
import type { ModelInfo } from "../lib/providers/types.ts";
import type { Services } from "../lib/services.ts";

const FAMILY_KEYS = new Set(["haiku", "sonnet", "opus", "default"]);
const EPOCH = "1970-01-01T00:00:00.000Z";

export function modelsRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/models", async (c) => {
    const { doc } = services.store.snapshot;
    const upstream = doc.upstream[doc.currentUpstream];
    const provider = upstream && providerFor(upstream.serviceType);
    const listed: ModelInfo[] = [];
    if (upstream && provider?.modelsRequest) {
      const [candidate] = upstream.apiKeys.length
        ? services.pool.order(upstream, "failover", "*")
        : [{ key: "" }];
      if (candidate) {
        try {
          const req = provider.modelsRequest({
            upstream,
            apiKey: candidate.key,
            clientHeaders: c.req.raw.headers,
          });
          const res = await services.fetch(req.url, {
            method: req.method ?? "GET",
            headers: req.headers,
            signal: AbortSignal.timeout(10_000),
          });
          if (res.ok && !provider.parseModels) {
            return c.body(await res.text(), 200, { "content-type": "application/json" });
          }
          if (res.ok) listed.push(...provider.parseModels!(await res.json()));
          else await res.body?.cancel();
        } catch { /* the model map's names still answer */ }
      }
    }
    const seen = new Set<string>();
    const data: ModelInfo[] = [];
    const add = (m: ModelInfo) => {
      if (!seen.has(m.id)) {
        seen.add(m.id);
        data.push(m);
      }
    };
    for (const [from, to] of Object.entries(upstream?.models ?? {})) {
      if (!FAMILY_KEYS.has(from)) {
        add({ type: "model", id: from, display_name: `${from} → ${to}`, created_at: EPOCH });
      }
    }
    for (const to of Object.values(upstream?.models ?? {})) {
      add({ type: "model", id: to, display_name: to, created_at: EPOCH });
    }
    listed.forEach(add);
    return c.json({
      data,
      has_more: false,
      first_id: data[0]?.id ?? null,
      last_id: data[data.length - 1]?.id ?? null,
    });
  });
  return app;
}
