// GET /v1/models and /v1/models/{id} as the SDK's models.list() (with its auto-pagination) and
// models.retrieve() use them, through a translated upstream and through the passthrough.
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { startFakeAnthropic } from "../fakes/anthropic_upstream.ts";
import { startFakeOpenAI } from "../fakes/openai_upstream.ts";
import { proxyTo } from "../helpers/proxy_to.ts";
import { ACCESS_KEY } from "../helpers/server.ts";

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

Deno.test("models: a map target the upstream lists too has the upstream's date, not 1970, listed or retrieved", async () => {
  await using t = await openai({ sonnet: "gpt-fake-mini" });
  const listed = new Map<string, string>();
  for await (const m of t.client.models.list()) listed.set(m.id, m.created_at);
  assert.ok(listed.has("gpt-fake-mini"));
  assert.notEqual(listed.get("gpt-fake-mini"), "1970-01-01T00:00:00.000Z");
  assert.ok(Date.parse(listed.get("gpt-fake-mini")!) > Date.parse("2000-01-01"));
  // Asked for alone, it has the same date.
  const one = await t.client.models.retrieve("gpt-fake-mini");
  assert.equal(one.created_at, listed.get("gpt-fake-mini"));
});

Deno.test("models: a name the model map routes is dated as the model it routes to, listed or retrieved", async () => {
  await using t = await openai({ "claude-sonnet-4-5": "gpt-fake-mini", "my-alias": "not-listed" });
  const listed = new Map<string, string>();
  for await (const m of t.client.models.list()) listed.set(m.id, m.created_at);
  assert.ok(Date.parse(listed.get("gpt-fake-mini")!) > Date.parse("2000-01-01"));
  assert.equal(listed.get("claude-sonnet-4-5"), listed.get("gpt-fake-mini"));
  const one = await t.client.models.retrieve("claude-sonnet-4-5");
  assert.equal(one.created_at, listed.get("gpt-fake-mini"));
  // A target the upstream does not list has no date to give.
  assert.equal(listed.get("my-alias"), "1970-01-01T00:00:00.000Z");
});

Deno.test("models: a translated upstream's list comes in pages, by limit and cursor", async () => {
  const names = Object.fromEntries(MANY.map((id) => [id, "gpt-4o"]));
  await using t = await openai(names);
  const all = [...MANY, "gpt-4o", "gpt-fake", "gpt-fake-mini"];
  const seen: string[] = [];
  for await (const model of t.client.models.list({ limit: 10 })) {
    seen.push(model.id);
    if (seen.length > all.length * 2) break;
  }
  assert.deepEqual(seen, all);

  const get = async (query: string) => {
    const res = await fetch(`${t.server.url}/v1/models${query}`, {
      headers: { "x-api-key": ACCESS_KEY, "anthropic-version": "2023-06-01" },
    });
    return { status: res.status, body: await res.json() };
  };
  const first = await get("");
  assert.equal(first.body.data.length, 20);
  assert.equal(first.body.has_more, true);
  assert.equal(first.body.last_id, MANY[19]);
  const after = await get(`?limit=3&after_id=${MANY[1]}`);
  assert.deepEqual(after.body.data.map((m: { id: string }) => m.id), MANY.slice(2, 5));
  assert.equal(after.body.first_id, MANY[2]);
  assert.equal(after.body.has_more, true);
  const end = await get(`?limit=5&after_id=${MANY[23]}`);
  assert.deepEqual(end.body.data.map((m: { id: string }) => m.id), [MANY[24], ...all.slice(-3)]);
  assert.equal(end.body.has_more, false);
  const before = await get(`?limit=2&before_id=${MANY[4]}`);
  assert.deepEqual(before.body.data.map((m: { id: string }) => m.id), MANY.slice(2, 4));
  assert.equal(before.body.has_more, true);
  const bad = await get("?limit=0");
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.type, "invalid_request_error");
  assert.match(bad.body.error.message, /limit/);
});

Deno.test("models: an Anthropic upstream's list starts with the names the model map routes, and pages on as the upstream's", async () => {
  await using t = await passthrough({
    "claude-special": "claude-upstream-3",
    opus: "claude-upstream-2",
  });
  const seen: string[] = [];
  for await (const model of t.client.models.list({ limit: 10 })) {
    seen.push(model.id);
    if (seen.length > MANY.length * 2) break;
  }
  assert.deepEqual(seen, ["claude-special", ...MANY]);
  const special = await t.client.models.retrieve("claude-special");
  assert.match(special.display_name, /claude-upstream-3/);
});

Deno.test("models: through the passthrough and by family too, a name the map routes has its model's date, listed or retrieved", async () => {
  const epoch = "1970-01-01T00:00:00.000Z";
  {
    await using t = await passthrough({ "claude-opus-4-1": "claude-upstream-3" });
    const page = await t.client.models.list();
    const named = page.data.find((m) => m.id === "claude-opus-4-1")!;
    const target = await t.client.models.retrieve("claude-upstream-3");
    assert.notEqual(target.created_at, epoch);
    assert.equal(named.created_at, target.created_at);
    assert.equal((await t.client.models.retrieve("claude-opus-4-1")).created_at, target.created_at);
  }
  {
    await using t = await openai({ sonnet: "gpt-fake-mini" });
    const listed = new Map<string, string>();
    for await (const m of t.client.models.list()) listed.set(m.id, m.created_at);
    const date = listed.get("gpt-fake-mini")!;
    assert.notEqual(date, epoch);
    for (const id of ["claude-sonnet-4-5", "sonnet"]) {
      assert.equal((await t.client.models.retrieve(id)).created_at, date, id);
    }
  }
});

Deno.test("models: the list offers no upstream model the map would send elsewhere by its name", async () => {
  await using t = await openai({ default: "gpt-fake-mini" });
  const listed: string[] = [];
  for await (const m of t.client.models.list()) listed.push(m.id);
  // gpt-fake, asked for, would be gpt-fake-mini answering: not offered as itself; the map's own
  // target is.
  assert.deepEqual(listed, ["gpt-fake-mini"]);
  // A map target the default would take elsewhere by its own name says so when asked for.
  await using routed = await openai({ haiku: "gpt-fake", default: "gpt-fake-mini" });
  const one = await routed.client.models.retrieve("gpt-fake");
  assert.equal(one.display_name, "gpt-fake → gpt-fake-mini");
  await using plain = await openai({ sonnet: "gpt-fake-mini" });
  const all: string[] = [];
  for await (const m of plain.client.models.list()) all.push(m.id);
  assert.deepEqual(all, ["gpt-fake-mini", "gpt-fake"]);
});
