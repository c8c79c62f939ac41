// GET /v1/models and /v1/models/{id} as the SDK's models.list() (with its auto-pagination) and
// models.retrieve() use them, through a translated upstream and through the passthrough.
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { startFakeAnthropic } from "../fakes/anthropic_upstream.ts";
import { startFakeOpenAI } from "../fakes/openai_upstream.ts";
import { proxyTo } from "../helpers/proxy_to.ts";

const MANY = Array.from({ length: 25 }, (_, i) => `claude-upstream-${i + 1}`);

async function passthrough(models?: Record<string, string>) {
  return await proxyTo(await startFakeAnthropic({ modelIds: MANY }), {
    name: "anthro",
    serviceType: "anthropic",
    apiKeys: ["sk-ant-upstream-key-1111"],
    models,
  });
}

async function openai(models: Record<string, string>) {
  const fake = await startFakeOpenAI();
  return await proxyTo(fake, {
    name: "oai",
    baseUrl: `${fake.url}/v1`,
    serviceType: "openai",
    apiKeys: ["sk-openai-test-key-aaaa"],
    models,
  });
}

Deno.test("models: the SDK pages through an Anthropic upstream's whole list, and stops", async () => {
  await using t = await passthrough();
  const seen: string[] = [];
  // Bounded: a proxy that drops the page parameters hands out the first page for ever.
  for await (const model of t.client.models.list({ limit: 10 })) {
    seen.push(model.id);
    if (seen.length > MANY.length * 2) break;
  }
  assert.deepEqual(seen, MANY);
  assert.match(t.fake.requests.at(-1)!.path, /after_id=claude-upstream-20/);
});

Deno.test("models: retrieve answers for the names the proxy serves, 404 for others", async () => {
  await using t = await openai({
    "claude-special": "gpt-4o",
    "vendor/model-x": "gpt-4o",
    sonnet: "gpt-4o-mini",
  });
  const exact = await t.client.models.retrieve("claude-special");
  assert.equal(exact.id, "claude-special");
  assert.equal(exact.type, "model");
  assert.equal((await t.client.models.retrieve("vendor/model-x")).id, "vendor/model-x");
  const family = await t.client.models.retrieve("claude-sonnet-4-5");
  assert.equal(family.id, "claude-sonnet-4-5");
  assert.match(family.display_name, /gpt-4o-mini/);
  // Not in the map: what the upstream lists is served as it is.
  assert.equal((await t.client.models.retrieve("gpt-fake-mini")).id, "gpt-fake-mini");
  await assert.rejects(
    t.client.models.retrieve("no-such-model"),
    (err: unknown) =>
      err instanceof Anthropic.NotFoundError &&
      (err.error as { error: { type: string } }).error.type === "not_found_error",
  );
});

Deno.test("models: with a default mapping every name is served, so retrieve finds each", async () => {
  await using t = await openai({ default: "gpt-4o" });
  assert.equal((await t.client.models.retrieve("anything-at-all")).id, "anything-at-all");
});

Deno.test("models: retrieve through the passthrough asks the upstream, mapped names answered", async () => {
  await using t = await passthrough({ opus: "claude-upstream-3" });
  assert.equal((await t.client.models.retrieve("claude-upstream-7")).id, "claude-upstream-7");
  assert.equal((await t.client.models.retrieve("claude-opus-4-1")).id, "claude-opus-4-1");
  await assert.rejects(
    t.client.models.retrieve("claude-gone"),
    (err: unknown) => err instanceof Anthropic.NotFoundError,
  );
});

Deno.test("models: an upstream whose list cannot be had still leaves the map's names, and the log says why", async () => {
  // Nothing listens on port 1: the upstream's list fails to load.
  const gone = { url: "http://127.0.0.1:1", close: () => Promise.resolve() };
  await using t = await proxyTo(gone, {
    name: "unreachable",
    serviceType: "openai",
    apiKeys: ["sk-openai-test-key-bbbb"],
    models: { "claude-special": "gpt-4o" },
  });
  const ids: string[] = [];
  for await (const model of t.client.models.list()) ids.push(model.id);
  assert.deepEqual(ids, ["claude-special", "gpt-4o"]);
  const line = t.server.logs.find((l) => /model list/.test(l));
  assert.ok(line, `no log line about the model list in:\n${t.server.logs.join("\n")}`);
  assert.match(line, /WARN/);
  assert.match(line, /upstream=unreachable/);
  assert.doesNotMatch(line, /sk-openai-test-key-bbbb/);
});

Deno.test("models: a map target the upstream lists too has the upstream's date, not 1970", async () => {
  await using t = await openai({ sonnet: "gpt-fake-mini" });
  const listed = new Map<string, string>();
  for await (const m of t.client.models.list()) listed.set(m.id, m.created_at);
  assert.ok(listed.has("gpt-fake-mini"));
  assert.notEqual(listed.get("gpt-fake-mini"), "1970-01-01T00:00:00.000Z");
  assert.ok(Date.parse(listed.get("gpt-fake-mini")!) > Date.parse("2000-01-01"));
});
