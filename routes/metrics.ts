// GET /metrics: this instance's counters in Prometheus text format, behind METRICS_TOKEN when set.
import { Hono } from "hono";
import type { AppEnv } from "../lib/app.ts";
import { bearerOf, secretsEqual } from "../lib/auth.ts";
import { keyStateCounts } from "../lib/observability/key_states.ts";
import type { Services } from "../lib/services.ts";

export function metricsRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/metrics", (c) => {
    const token = services.config.metricsToken;
    if (token) {
      const given = bearerOf(c.req.raw.headers) ?? "";
      if (!secretsEqual(given, token)) {
        return c.text("Unauthorized: send Authorization: Bearer <METRICS_TOKEN>\n", 401, {
          "www-authenticate": 'Bearer realm="metrics"',
        });
      }
    }
    const body = services.observability.metrics.render({
      inFlight: services.inFlight.count,
      keyStates: keyStateCounts(services.store.snapshot.doc, services.health),
      uptimeSeconds: (services.now() - services.startedAt) / 1000,
    });
    return c.body(body, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });
  return app;
}
