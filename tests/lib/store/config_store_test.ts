import assert from "node:assert/strict";
import { InvalidConfigError } from "../../../lib/config_document.ts";
import { ConfigStore, ConflictError } from "../../../lib/store/config_store.ts";
import { keys } from "../../../lib/store/keys.ts";

const upstream = (name: string, keys: string[] = ["sk-test-1"]) => ({
  name,
  baseUrl: "https://api.example.com/v1/",
  serviceType: "anthropic",
  apiKeys: keys,
});

Deno.test("config store: a fresh store has an empty document with the default strategy", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = await ConfigStore.open(kv, "round-robin", { watch: false });
  assert.deepEqual(store.snapshot.doc, {
    upstream: [],
    currentUpstream: 0,
    loadBalance: "round-robin",
  });
  assert.equal(store.snapshot.version, null);
});

Deno.test("config store: replace validates, normalises and bumps the version", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = await ConfigStore.open(kv, "failover", { watch: false });
  const snap = await store.replace({ upstream: [upstream("a")] });
  assert.equal(snap.doc.upstream[0].baseUrl, "https://api.example.com/v1");
  assert.equal(snap.doc.loadBalance, "failover");
  assert.ok(snap.version);
  const reopened = await ConfigStore.open(kv, "failover", { watch: false });
  assert.deepEqual(reopened.snapshot, snap);
});

Deno.test("config store: invalid input lists every problem and changes nothing", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = await ConfigStore.open(kv, "failover", { watch: false });
  const before = await store.replace({ upstream: [upstream("a")] });
  await assert.rejects(
    store.replace({
      upstream: [
        { ...upstream("a"), baseUrl: "not a url", serviceType: "bogus" },
        upstream("A"),
        { ...upstream("c"), fallback: "nowhere" },
      ],
      loadBalance: "fastest",
      currentUpstream: 9,
    }),
    (err: unknown) => {
      assert.ok(err instanceof InvalidConfigError);
      const text = err.problems.join("\n");
      assert.match(text, /upstream\.0\.baseUrl/);
      assert.match(text, /upstream\.0\.serviceType/);
      assert.match(text, /loadBalance/);
      // Rules between upstreams are listed in the same answer.
      assert.match(text, /used by another upstream/);
      assert.match(text, /no upstream is named "nowhere"/);
      assert.match(text, /currentUpstream/);
      return true;
    },
  );
  await assert.rejects(
    store.replace({
      upstream: [upstream("a"), upstream("A"), { ...upstream("c"), fallback: "nowhere" }],
      currentUpstream: 9,
    }),
    (err: unknown) => {
      assert.ok(err instanceof InvalidConfigError);
      const text = err.problems.join("\n");
      assert.match(text, /used by another upstream/);
      assert.match(text, /no upstream is named "nowhere"/);
      assert.match(text, /currentUpstream/);
      return true;
    },
  );
  const after = await ConfigStore.open(kv, "failover", { watch: false });
  assert.deepEqual(after.snapshot, before);
});

Deno.test("config store: a save based on a stale version is refused, not lost silently", async () => {
  using kv = await Deno.openKv(":memory:");
  const a = await ConfigStore.open(kv, "failover", { watch: false });
  const b = await ConfigStore.open(kv, "failover", { watch: false });
  const first = await a.replace({ upstream: [upstream("one")] });
  await b.refresh();
  await a.replace({ upstream: [upstream("two")] }, first.version);
  await assert.rejects(b.replace({ upstream: [upstream("three")] }, first.version), ConflictError);
  assert.equal((await b.refresh()).doc.upstream[0].name, "two");
});

Deno.test("config store: saves without a version made at once all land, the last one stays", async () => {
  using kv = await Deno.openKv(":memory:");
  const a = await ConfigStore.open(kv, "failover", { watch: false });
  const b = await ConfigStore.open(kv, "failover", { watch: false });
  const names = Array.from({ length: 20 }, (_, i) => `up-${i}`);
  const saved = await Promise.all(
    names.map((name, i) => (i % 2 ? a : b).replace({ upstream: [upstream(name)] })),
  );
  const last = saved.reduce((x, y) => y.version! > x.version! ? y : x);
  assert.deepEqual((await a.refresh()).doc, last.doc);
});

Deno.test("config store: the original config.json imports as it is", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = await ConfigStore.open(kv, "failover", { watch: false });
  const original = {
    upstream: [
      {
        baseUrl: "https://generativelanguage.googleapis.com/v1beta",
        apiKeys: ["AIza-test-1", "AIza-test-2"],
        serviceType: "anthropic",
        description: "from the old proxy",
        modelMapping: { opus: "big", sonnet: "mid", haiku: "small" },
      },
      {
        name: "claude-up",
        baseUrl: "https://api.anthropic.com",
        apiKeys: [],
        serviceType: "claude",
      },
    ],
    currentUpstream: 1,
    loadBalance: "random",
  };
  const { doc } = await store.replace(original);
  assert.equal(doc.upstream[0].name, "anthropic-1");
  assert.deepEqual(doc.upstream[0].models, { opus: "big", sonnet: "mid", haiku: "small" });
  assert.equal(doc.upstream[0].description, "from the old proxy");
  assert.equal(doc.upstream[1].serviceType, "claude");
  assert.equal(doc.currentUpstream, 1);
  assert.equal(doc.loadBalance, "random");
});

Deno.test("config store: a document larger than one KV value round-trips", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = await ConfigStore.open(kv, "failover", { watch: false });
  const keys = Array.from(
    { length: 3000 },
    (_, i) => `sk-large-document-key-${i}-${"x".repeat(20)}`,
  );
  await store.replace({ upstream: [upstream("big", keys)] });
  const reopened = await ConfigStore.open(kv, "failover", { watch: false });
  assert.equal(reopened.snapshot.doc.upstream[0].apiKeys.length, 3000);
  await store.replace({ upstream: [upstream("small")] });
  assert.equal((await reopened.refresh()).doc.upstream[0].name, "small");
});

Deno.test("config store: another instance on the same KV file sees a change within a second", async () => {
  const path = await Deno.makeTempFile({ suffix: ".kv" });
  try {
    using kv1 = await Deno.openKv(path);
    using kv2 = await Deno.openKv(path);
    const a = await ConfigStore.open(kv1, "failover");
    const b = await ConfigStore.open(kv2, "failover");
    try {
      const changed = new Promise<void>((resolve) =>
        b.onChange((s) => s.doc.upstream[0]?.name === "live" && resolve())
      );
      const started = Date.now();
      await a.replace({ upstream: [upstream("live")] });
      await Promise.race([
        changed,
        new Promise((_, reject) => setTimeout(() => reject(new Error("not seen in 1s")), 1000)),
      ]);
      assert.ok(Date.now() - started < 1000);
      assert.equal(b.snapshot.doc.upstream[0].name, "live");
    } finally {
      a.close();
      b.close();
    }
  } finally {
    await Deno.remove(path).catch(() => {});
  }
});

Deno.test("config store: a stored document gone invalid is served and reported where it is told", async () => {
  using kv = await Deno.openKv(":memory:");
  const writer = await ConfigStore.open(kv, "failover", { watch: false });
  const { version } = await writer.replace({ upstream: [upstream("a")] });
  // As if written by a version of the proxy with other rules: a kind this one does not know.
  const bad = JSON.stringify({ upstream: [{ ...upstream("a"), serviceType: "retired" }] });
  const meta = await kv.get(keys.configMeta());
  assert.equal(meta.versionstamp, version);
  await kv.atomic().check(meta).set(keys.configChunk(0), bad).set(keys.configMeta(), {
    chunks: 1,
    updatedAt: Date.now(),
  }).commit();
  const reports: string[] = [];
  const store = await ConfigStore.open(kv, "failover", {
    watch: false,
    onError: (message, err) => reports.push(`${message}: ${(err as Error).message}`),
  });
  assert.equal(store.snapshot.doc.upstream[0].serviceType, "retired");
  assert.equal(reports.length, 1);
  assert.match(
    reports[0],
    /^stored configuration is invalid, serving it unvalidated: .*serviceType/,
  );
});

Deno.test("config store: a stored document that is no JSON at all, or no object with an upstream list, is reported, serves none, and a save replaces it", async () => {
  using kv = await Deno.openKv(":memory:");
  const writer = await ConfigStore.open(kv, "failover", { watch: false });
  await writer.replace({ upstream: [upstream("a")] });
  for (const stored of ['{"upstream":[{"name":"a"', "null", "42", '{"upstream":7}']) {
    const meta = await kv.get(keys.configMeta());
    await kv.atomic().check(meta).set(keys.configChunk(0), stored).set(
      keys.configMeta(),
      { chunks: 1, updatedAt: Date.now() },
    ).commit();
    const reports: string[] = [];
    const store = await ConfigStore.open(kv, "failover", {
      watch: false,
      onError: (message) => reports.push(message),
    });
    assert.deepEqual(store.snapshot.doc.upstream, [], stored);
    assert.match(reports[0], /no configuration document/);
    await store.replace({ upstream: [upstream("b")] });
    const again = await ConfigStore.open(kv, "failover", { watch: false });
    assert.equal(again.snapshot.doc.upstream[0].name, "b");
  }
});

Deno.test("config store: a document past what one KV write takes is refused by its size, not a crash", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = await ConfigStore.open(kv, "failover", { watch: false });
  const before = await store.replace({ upstream: [upstream("small")] });
  // ASCII takes a byte a character in KV, other text two: sizes on both sides of the limit.
  const docs = [20_000, 30_000, 34_000, 40_000].flatMap((n) => [
    { upstream: [upstream("big", Array.from({ length: n }, (_, i) => `sk-${i}`.padEnd(24, "x")))] },
    { upstream: [{ ...upstream("wide"), description: "é→".repeat(n * 7) }] },
  ]);
  let refused = 0;
  for (const doc of docs) {
    try {
      await store.replace(doc);
      await store.replace({ upstream: [upstream("small")] });
    } catch (err) {
      assert.ok(err instanceof InvalidConfigError, `refused as invalid, not ${err}`);
      assert.match(err.problems.join("\n"), /too large.*\d+ KB.*at most \d+ KB/);
      refused++;
    }
  }
  assert.ok(refused >= 2, `the largest ones are refused (${refused})`);
  const reopened = await ConfigStore.open(kv, "failover", { watch: false });
  assert.equal(reopened.snapshot.doc.upstream[0].name, "small");
  assert.notEqual(reopened.snapshot.version, before.version, "the ones that fit were stored");
});
