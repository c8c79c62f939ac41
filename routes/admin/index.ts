// The admin surface; answers 403 with instructions until ADMIN_PASSWORD is set.
import { Hono } from "hono";
import type { AppEnv } from "../../lib/app.ts";
import type { Services } from "../../lib/services.ts";

export function adminRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.all("*", (c) => {
    if (!services.config.adminPassword) {
      return c.text("The admin pages are disabled: set ADMIN_PASSWORD and restart to enable them.", 403);
    }
    return c.text("Not found", 404);
  });
  return app;
}
