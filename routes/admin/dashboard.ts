// GET /admin (the dashboard) and its key-state fragment, polled for the live countdowns.
import { Hono } from "hono";
import { maskUrl } from "../../lib/secret_mask.ts";
import { keyStatuses } from "../../lib/key_status.ts";
import type { Services } from "../../lib/services.ts";
import { DashboardPage } from "../../views/dashboard_page.tsx";
import { KeyStatesPanel } from "../../views/key_states.tsx";
import {
  buildUsageReport,
  keyLabels,
  lastHourCounts,
  type UsageReport,
} from "../../lib/observability/usage_report.ts";
import { chrome } from "./respond.ts";
import { publicOrigin } from "./session.ts";
import type { AdminEnv } from "./session.ts";

/**
 * The requests of the last hour and the last 24 hours' report, of every instance together (this
 * one's counts not yet written are written first); a store that cannot be read leaves them empty.
 */
export async function dashboardUsage(services: Services, now = services.now()): Promise<{
  lastHour: { requests: number; errors: number };
  usage: UsageReport | null;
}> {
  const obs = services.observability;
  const flushed = obs.flushUsage();
  const lastHour = await flushed.then(() => lastHourCounts(obs.usage, now))
    .catch(() => ({ requests: 0, errors: 0 }));
  const labels = keyLabels(services.store.snapshot.doc);
  const usage = await flushed.then(() => buildUsageReport(obs.usage, now, { hours: 24, labels }))
    .catch(() => null);
  return { lastHour, usage };
}

export function dashboardRoutes(services: Services): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const statuses = () =>
    keyStatuses(services.store.snapshot.doc, services.health.list(), services.log.redact);

  app.get("/", async (c) => {
    const { doc } = services.store.snapshot;
    const current = doc.upstream[doc.currentUpstream];
    const now = services.now();
    const { lastHour, usage } = await dashboardUsage(services, now);
    return c.html(DashboardPage({
      chrome: chrome(c),
      usage,
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
