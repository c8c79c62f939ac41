// /static: the stylesheet, the admin's one small script, and htmx from its npm package (never
// committed, never a CDN). All three are imported as text, so they are part of the module graph and
// served the same on Deno Deploy.
import { Hono } from "hono";
import htmx from "htmx.org/dist/htmx.min.js" with { type: "text" };
import adminCss from "../static/admin.css" with { type: "text" };
import adminJs from "../static/admin.js" with { type: "text" };

// A Map: the name comes from the URL, and a plain object would answer "constructor" too.
const assets = new Map<string, { body: string; type: string }>([
  ["htmx.min.js", { body: htmx, type: "text/javascript; charset=utf-8" }],
  ["admin.css", { body: adminCss, type: "text/css; charset=utf-8" }],
  ["admin.js", { body: adminJs, type: "text/javascript; charset=utf-8" }],
]);

export function staticRoutes(): Hono {
  const app = new Hono();
  app.get("/:file", (c) => {
    const asset = assets.get(c.req.param("file"));
    if (!asset) return c.text("Not found", 404);
    return c.body(asset.body, 200, {
      "content-type": asset.type,
      "cache-control": "public, max-age=3600",
    });
  });
  return app;
}
