// /admin/strategy: round-robin, random or failover among the keys of the current upstream.
import { Hono } from "hono";
import { setStrategy, storeTarget } from "../../lib/admin_service.ts";
import type { Services } from "../../lib/services.ts";
import { StrategyPage } from "../../views/strategy_page.tsx";
import {
  chrome,
  CONFLICT_TEXT,
  field,
  formVersion,
  readForm,
  redirectWith,
  rerender,
  statusFor,
} from "./respond.ts";
import type { AdminEnv } from "./session.ts";

export function strategyRoutes(services: Services): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const target = storeTarget(services.store);

  app.get("/", (c) => {
    const { doc, version } = services.store.snapshot;
    return c.html(StrategyPage({ chrome: chrome(c), version, strategy: doc.loadBalance }));
  });

  app.post("/", async (c) => {
    const form = await readForm(c);
    const version = formVersion(form);
    const wanted = field(form, "loadBalance");
    try {
      const snap = await setStrategy(target, wanted, version);
      return redirectWith(c, "/admin/strategy", {
        kind: "ok",
        text: `Strategy set to ${snap.doc.loadBalance}.`,
      });
    } catch (err) {
      const status = statusFor(err);
      if (status === null) throw err;
      const props = {
        version: version ?? null,
        strategy: services.store.snapshot.doc.loadBalance,
        errors: status === 422 ? { loadBalance: [(err as Error).message] } : undefined,
        formErrors: status === 409 ? [CONFLICT_TEXT] : undefined,
      };
      return rerender(c, status, () => StrategyPage({ ...props, chrome: chrome(c) }));
    }
  });

  return app;
}
