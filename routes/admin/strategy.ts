// /admin/strategy: round-robin, random or failover among the keys of the current upstream.
import { Hono } from "hono";
import { setStrategy, storeTarget } from "../../lib/admin_service.ts";
import { STRATEGIES, type Strategy } from "../../lib/config.ts";
import type { Services } from "../../lib/services.ts";
import { StrategyPage } from "../../views/strategy_page.tsx";
import {
  chrome,
  field,
  formShown,
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
    const { loadBalance } = services.store.snapshot.doc;
    return c.html(StrategyPage({ chrome: chrome(c), shown: loadBalance, strategy: loadBalance }));
  });

  app.post("/", async (c) => {
    const form = await readForm(c);
    const wanted = field(form, "loadBalance");
    try {
      const snap = await setStrategy(target, wanted, formShown(form));
      return redirectWith(c, "/admin/strategy", {
        kind: "ok",
        text: `Strategy set to ${snap.doc.loadBalance}.`,
      });
    } catch (err) {
      const status = statusFor(err);
      if (status === null) throw err;
      const now = services.store.snapshot.doc.loadBalance;
      const picked = (STRATEGIES as readonly string[]).includes(wanted) ? wanted as Strategy : now;
      const props = {
        // Saved again, the choice replaces the one made elsewhere.
        shown: now,
        strategy: picked,
        errors: status === 422 ? { loadBalance: [(err as Error).message] } : undefined,
        formErrors: status === 409
          ? [
            `The strategy was changed elsewhere (to ${now}) since this page was loaded, so ` +
            "nothing was saved. Save again to set yours.",
          ]
          : undefined,
      };
      return rerender(c, status, () => StrategyPage({ ...props, chrome: chrome(c) }));
    }
  });

  return app;
}
