// /static serves its three assets and nothing else, whatever name is asked for.
import assert from "node:assert/strict";
import { staticRoutes } from "../../routes/static.ts";

Deno.test("static: the stylesheet, the admin script and htmx are served", async () => {
  const app = staticRoutes();
  const assets: Array<[string, RegExp, string]> = [
    ["admin.css", /^text\/css/, ".top nav"],
    ["admin.js", /javascript/, "showCurrentSection"],
    ["htmx.min.js", /javascript/, "htmx"],
  ];
  for (const [file, type, holds] of assets) {
    const res = await app.request(`/${file}`);
    assert.equal(res.status, 200, file);
    assert.match(res.headers.get("content-type") ?? "", type);
    assert.ok((await res.text()).includes(holds), file);
  }
});

Deno.test("static: names of an object's built-in members are a 404, not an internal error", async () => {
  const app = staticRoutes();
  for (
    const file of ["constructor", "toString", "hasOwnProperty", "__proto__", "..%2fdeno.json"]
  ) {
    const res = await app.request(`/${file}`);
    assert.equal(res.status, 404, file);
    assert.equal(await res.text(), "Not found");
  }
});
