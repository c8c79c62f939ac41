// GET /admin (the dashboard) and its key-state fragment, polled for the live countdowns.
import { Hono } from "hono";
import { maskUrl } from "../../lib/config_document.ts";
import { keyStatuses } from "../../lib/key_status.ts";
import type { Services } from "../../lib/services.ts";
import { DashboardPage } from "../../views/dashboard_page.tsx";
import { KeyStatesPanel } from "../../views/key_states.tsx";
import { recentCounts } from "../../views/usage_panel.tsx";
import { chrome, publicOrigin } from "./respond.ts";
import type { AdminEnv } from "./session.ts";

export function dashboardRoutes(services: Services): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const statuses = () =>
    keyStatuses(services.store.snapshot.doc, services.health.list(), services.log.redact);

  app.get("/", async (c) => {
    const { doc } = services.store.snapshot;
    const current = doc.upstream[doc.currentUpstream];
    const now = services.now();
    const lastHour = await recentCounts(services).catch(() => ({ requests: 0, errors: 0 }));
    return c.html(DashboardPage({
      chrome: chrome(c),
      services,
      uptimeMs: now - services.startedAt,
      current: current
        ? {
          name: current.name,
          serviceType: current.serviceType,
          baseUrl: maskUrl(current.baseUrl),
        }
        : null,
      strategy: doc.loadBalance,
      upstreams: statuses(),
      lastHour,
      origin: publicOrigin(c),
      accessKeySet: !!services.config.proxyAccessKey,
      now,
    }));
  });

  app.get("/fragments/key-states", (c) => {
    return c.html(KeyStatesPanel({ upstreams: statuses(), now: services.now() }));
  });

  return app;
}
