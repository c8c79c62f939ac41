// GET /v1/models and /v1/models/{id} in Anthropic's shapes (lib/model_catalog.ts decides what).
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "../lib/app.ts";
import { type CatalogAnswer, findModel, listModels } from "../lib/model_catalog.ts";
import type { Services } from "../lib/services.ts";
import { queryOf } from "../lib/url_query.ts";

function answer(c: Context<AppEnv>, result: CatalogAnswer): Response {
  return "relay" in result ? result.relay : c.json(result.json);
}

export function modelsRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get(
    "/models",
    async (c) => answer(c, await listModels(services, c.req.raw.headers, queryOf(c.req.url))),
  );
  // Ids may hold slashes (OpenRouter's `vendor/model`).
  app.get(
    "/models/:id{.+}",
    async (c) => answer(c, await findModel(services, c.req.raw.headers, c.req.param("id"))),
  );
  return app;
}
