// /static: the stylesheet, and htmx served from its npm package (never committed, never a CDN).
import { Hono } from "hono";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const assets: Record<string, { path: () => string; type: string }> = {
  "htmx.min.js": {
    path: () => require.resolve("htmx.org/dist/htmx.min.js"),
    type: "text/javascript; charset=utf-8",
  },
  "admin.css": {
    path: () => new URL("../static/admin.css", import.meta.url).pathname,
    type: "text/css; charset=utf-8",
  },
};

export function staticRoutes(): Hono {
  const app = new Hono();
  const cache = new Map<string, Uint8Array>();
  app.get("/:file", async (c) => {
    const asset = assets[c.req.param("file")];
    if (!asset) return c.text("Not found", 404);
    let bytes = cache.get(c.req.param("file"));
    if (!bytes) {
      bytes = await Deno.readFile(asset.path());
      cache.set(c.req.param("file"), bytes);
    }
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "content-type": asset.type,
      "cache-control": "public, max-age=3600",
    });
  });
  return app;
}
