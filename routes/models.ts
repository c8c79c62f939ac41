// GET /v1/models: the upstream's own list for Anthropic-compatible upstreams, else the names the
// model map knows, in Anthropic's list shape.
import { Hono } from "hono";
import type { AppEnv } from "../lib/app.ts";
import { providerFor } from "../lib/providers/registry.ts";
import type { Services } from "../lib/services.ts";

const FAMILY_KEYS = new Set(["haiku", "sonnet", "opus", "default"]);
const EPOCH = "2024-01-01T00:00:00Z";

export function modelsRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/models", async (c) => {
    const { doc } = services.store.snapshot;
    const upstream = doc.upstream[doc.currentUpstream];
    const provider = upstream && providerFor(upstream.serviceType);
    if (upstream && provider?.modelsRequest) {
      const [candidate] = services.pool.order(upstream, doc.loadBalance, "*");
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
          if (res.ok) {
            return c.body(await res.text(), 200, { "content-type": "application/json" });
          }
          await res.body?.cancel();
        } catch { /* fall back to the local list */ }
      }
    }
    const ids = new Set<string>();
    for (const [from, to] of Object.entries(upstream?.models ?? {})) {
      if (!FAMILY_KEYS.has(from)) ids.add(from);
      ids.add(to);
    }
    const data = [...ids].map((id) => ({
      type: "model",
      id,
      display_name: id,
      created_at: EPOCH,
    }));
    return c.json({
      data,
      has_more: false,
      first_id: data[0]?.id ?? null,
      last_id: data[data.length - 1]?.id ?? null,
    });
  });
  return app;
}
