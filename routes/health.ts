// GET /health in the original proxy's shape.
import { Hono } from "hono";
import type { AppEnv } from "../lib/app.ts";
import type { Services } from "../lib/services.ts";

export function healthRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  if (!services.config.healthCheckEnabled) return app;
  app.get(services.config.healthCheckPath, (c) => {
    const { doc } = services.store.snapshot;
    const current = doc.upstream[doc.currentUpstream];
    return c.json({
      status: "healthy",
      timestamp: new Date(services.now()).toISOString(),
      uptime: Math.round((services.now() - services.startedAt) / 1000),
      config: {
        upstreamCount: doc.upstream.length,
        currentUpstream: current?.name ?? null,
        loadBalance: doc.loadBalance,
      },
    });
  });
  return app;
}
