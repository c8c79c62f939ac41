// Admin request log pages (placeholder until the views land).
import { Hono } from "hono";
import type { AppEnv } from "../../lib/app.ts";
import type { Services } from "../../lib/services.ts";

export function logsRoutes(_services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/", (c) => c.html("<!doctype html><title>Logs</title><h1>Request log</h1>"));
  return app;
}
