import assert from "node:assert/strict";
import { mapModel } from "../../lib/model_map.ts";

Deno.test("model map: exact name beats family beats default; no match passes through", () => {
  const models = {
    "claude-opus-4-8": "o3-pro",
    opus: "o3",
    sonnet: "gpt-4o",
    haiku: "gpt-4o-mini",
    default: "gpt-4.1",
  };
  assert.equal(mapModel("claude-opus-4-8", models), "o3-pro");
  assert.equal(mapModel("claude-opus-4-1", models), "o3");
  assert.equal(mapModel("claude-3-5-Sonnet-latest", models), "gpt-4o");
  assert.equal(mapModel("claude-haiku-4-5", models), "gpt-4o-mini");
  assert.equal(mapModel("something-else", models), "gpt-4.1");
  assert.equal(mapModel("something-else", { sonnet: "x" }), "something-else");
  assert.equal(mapModel("claude-sonnet", undefined), "claude-sonnet");
});

Deno.test("a request offering web search takes the web_search model when there is one", () => {
  const models = { web_search: "gpt-4o-search-preview", sonnet: "gpt-4o", default: "gpt-4.1" };
  assert.equal(mapModel("claude-sonnet-4-5", models, true), "gpt-4o-search-preview");
  assert.equal(mapModel("claude-sonnet-4-5", models, false), "gpt-4o");
  assert.equal(mapModel("claude-sonnet-4-5", { default: "gpt-4.1" }, true), "gpt-4.1");
});

Deno.test("a requested name that is a member of every object (constructor, toString) passes unchanged", () => {
  const models = { haiku: "gpt-4o-mini", default: "gpt-4o" };
  for (const name of ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__"]) {
    assert.equal(mapModel(name, { haiku: "gpt-4o-mini" }), name);
    assert.equal(mapModel(name, models), "gpt-4o");
  }
  // Through JSON (the admin API) a "__proto__" entry is an own member like any other.
  assert.equal(mapModel("__proto__", JSON.parse('{"__proto__":"gpt-4.1"}')), "gpt-4.1");
});
