import assert from "node:assert/strict";
import { healthId, healthIndex, keyId } from "../../../lib/key_pool.ts";
import { ConfigStore } from "../../../lib/store/config_store.ts";
import { openKv } from "../../../lib/store/open_kv.ts";
import { KeyHealthStore, type KeyState } from "../../../lib/store/key_health_store.ts";

Deno.test("key health: a key disabled by another instance is skipped even when reading it failed once", async () => {
  using kv = await Deno.openKv(":memory:");
  let failLists = 0;
  // This instance's KV: one listing fails after the change, as a read over the network can.
  const flaky = new Proxy(kv, {
    get(target, prop) {
      if (prop === "list" && failLists > 0) {
        failLists--;
        return () => {
          throw new Error("KV read failed");
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const other = await KeyHealthStore.open(kv, { watch: false });
  const here = await KeyHealthStore.open(flaky, { onError: () => {} });
  try {
    failLists = 1;
    await other.disable("key1", "401: invalid key");
    const started = Date.now();
    while (!here.get("key1", "m")) {
      if (Date.now() - started > 2000) assert.fail("the disabled key is still used after 2 s");
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(failLists, 0);
  } finally {
    here.close();
    other.close();
  }
});

Deno.test("key health: a reload running beside this instance's own write never undoes it", async () => {
  // A key re-enabled on the admin page showed as disabled again: a reload triggered by the
  // disable listed KV before the re-enable was committed, and put its old list in place.
  const kv = await Deno.openKv(":memory:");
  const store = await KeyHealthStore.open(kv, { watch: false });
  try {
    for (let i = 0; i < 50; i++) {
      await store.disable("k", "401");
      await Promise.all([store.clear("k"), store.reload()]);
      assert.equal(store.get("k", "*"), undefined, `round ${i}`);
    }
  } finally {
    store.close();
    kv.close();
  }
});

const A = "https://a.example/v1";
const B = "https://b.example/v1";
/** The configuration the old states below belong to. */
const migrationDoc = {
  upstream: [
    { name: "a", baseUrl: A, serviceType: "openai", apiKeys: ["sk-dead", "sk-slow", "sk-old"] },
    { name: "a-too", baseUrl: A, serviceType: "openai", apiKeys: ["sk-slow"] },
    { name: "b", baseUrl: B, serviceType: "openai", apiKeys: ["sk-dead"] },
  ],
  loadBalance: "failover" as const,
};

/** A KV file as a deployment from before left it: config saved, key health in the old layout. */
async function oldDeployment(
  states: Array<[string, string, string, KeyState]>,
): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".kv" });
  const kv = await Deno.openKv(path);
  const config = await ConfigStore.open(kv, "failover", { watch: false });
  await config.replace(migrationDoc);
  config.close();
  for (const [upstream, key, model, state] of states) {
    await kv.set(["key_health", upstream, keyId(key), model], state);
  }
  kv.close();
  return path;
}

async function openWithConfig(kv: Deno.Kv, now?: () => number): Promise<KeyHealthStore> {
  const config = await ConfigStore.open(kv, "failover", { watch: false });
  config.close();
  return await KeyHealthStore.open(kv, {
    watch: false,
    now,
    index: () => healthIndex(config.snapshot),
  });
}

async function listKeys(kv: Deno.Kv, prefix: string): Promise<Deno.KvKey[]> {
  const out: Deno.KvKey[] = [];
  for await (const e of kv.list({ prefix: [prefix] })) out.push(e.key);
  return out;
}

Deno.test("key health: states stored by upstream name are moved to the key at its server on open", async () => {
  const now = Date.now();
  const disabled = (reason: string): KeyState => ({
    state: "disabled",
    model: "*",
    reason,
    since: 1,
  });
  const cooling = (until: number): KeyState => ({
    state: "cooldown",
    until,
    model: "gpt-4o",
    reason: "429",
    since: 1,
  });
  const path = await oldDeployment([
    ["a", "sk-dead", "*", disabled("401: revoked")],
    ["a", "sk-slow", "gpt-4o", cooling(now + 60_000)],
    // The same key at the same server under another name, cooling down longer there: that wins.
    ["a-too", "sk-slow", "gpt-4o", cooling(now + 90_000)],
    ["a", "sk-old", "gpt-4o", cooling(now - 1_000)],
    ["gone", "sk-dead", "*", disabled("401: of an upstream since removed")],
    ["a", "sk-removed", "*", disabled("401: of a key since removed")],
  ]);
  try {
    {
      using kv = await Deno.openKv(path);
      const health = await openWithConfig(kv);
      health.close();
      assert.equal(health.get(healthId(A, "sk-dead"), "m")?.reason, "401: revoked");
      // "b" holds the same key at another server: what "a"'s server said does not apply there.
      assert.equal(health.get(healthId(B, "sk-dead"), "m"), undefined);
      assert.equal(health.get(healthId(A, "sk-slow"), "gpt-4o")?.until, now + 90_000);
      assert.equal(health.get(healthId(A, "sk-slow"), "o3"), undefined);
      assert.equal(health.get(healthId(A, "sk-old"), "gpt-4o"), undefined);
      assert.deepEqual(await listKeys(kv, "key_health"), [], "every old entry is gone");
      assert.equal((await listKeys(kv, "key_health_by_server")).length, 2, "the dropped stay out");
    }
    // Opening again finds nothing to move and writes nothing.
    using kv = await Deno.openKv(path);
    const version = (await kv.get(["key_health_version"])).versionstamp;
    const again = await openWithConfig(kv);
    again.close();
    assert.equal(again.list().length, 2);
    assert.equal((await kv.get(["key_health_version"])).versionstamp, version);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("key health: instances opening at once on old states move each one, in batches KV accepts", async () => {
  const keys = Array.from({ length: 260 }, (_, i) => `sk-many-${i}`);
  const path = await Deno.makeTempFile({ suffix: ".kv" });
  try {
    {
      using kv = await Deno.openKv(path);
      const config = await ConfigStore.open(kv, "failover", { watch: false });
      await config.replace({
        upstream: [{ name: "many", baseUrl: A, serviceType: "openai", apiKeys: keys }],
      });
      config.close();
      for (const key of keys) {
        await kv.set(
          ["key_health", "many", keyId(key), "*"],
          {
            state: "disabled",
            model: "*",
            reason: `401: ${key}`,
            since: 1,
          } satisfies KeyState,
        );
      }
    }
    // As the servers open it: a file several processes share, locked by turns.
    const kvs = await Promise.all([0, 1, 2].map(() => openKv({ kvPath: path, onDeploy: false })));
    try {
      const stores = await Promise.all(kvs.map((kv) => openWithConfig(kv)));
      for (const store of stores) {
        store.close();
        await store.reload();
        for (const key of keys) {
          assert.equal(store.get(healthId(A, key), "m")?.reason, `401: ${key}`, key);
        }
      }
      assert.deepEqual(await listKeys(kvs[0], "key_health"), []);
      assert.equal((await listKeys(kvs[0], "key_health_by_server")).length, keys.length);
    } finally {
      kvs.forEach((kv) => kv.close());
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("key health: states of keys the configuration no longer holds are dropped, unless it moved on", async () => {
  using kv = await Deno.openKv(":memory:");
  const config = await ConfigStore.open(kv, "failover", { watch: false });
  await config.replace(migrationDoc);
  const health = await KeyHealthStore.open(kv, { watch: false });
  try {
    await health.disable(healthId(A, "sk-dead"), "401");
    await health.disable(healthId(B, "sk-dead"), "401");
    const before = config.snapshot;
    // "b" removed: its key's state goes; "a"'s same key at its own server stays.
    await config.replace({ ...migrationDoc, upstream: migrationDoc.upstream.slice(0, 2) });
    // An instance that has not seen that change yet drops nothing.
    await health.prune(healthIndex({ ...before, doc: { upstream: [] } }));
    assert.equal(health.list().length, 2);
    await health.prune(healthIndex(config.snapshot));
    assert.deepEqual(health.list().map((s) => s.healthId), [healthId(A, "sk-dead")]);
    assert.equal((await listKeys(kv, "key_health_by_server")).length, 1);
  } finally {
    health.close();
    config.close();
  }
});

Deno.test("key health: a store that cannot drop leftover states at start still opens and serves", async () => {
  using kv = await Deno.openKv(":memory:");
  const first = await KeyHealthStore.open(kv, { watch: false });
  await first.disable(healthId(A, "sk-removed"), "401");
  await first.disable(healthId(A, "sk-dead"), "401");
  // Writes fail from here on, as on a store gone read-only.
  const readOnly = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          op.commit = () => Promise.reject(new Error("write refused"));
          return op;
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const reports: string[] = [];
  const doc = { upstream: [{ ...migrationDoc.upstream[0], apiKeys: ["sk-dead"] }] };
  const health = await KeyHealthStore.open(readOnly, {
    watch: false,
    onError: (message) => reports.push(message),
    index: () => healthIndex({ doc, version: null }),
  });
  health.close();
  assert.equal(health.get(healthId(A, "sk-dead"), "m")?.state, "disabled");
  assert.deepEqual(reports, ["key health prune"]);
});

Deno.test("key health: a key re-enabled while another instance was moving old states stays enabled", async () => {
  const path = await oldDeployment([
    ["a", "sk-dead", "*", { state: "disabled", model: "*", reason: "401", since: 1 }],
  ]);
  const kvs = await Promise.all([0, 1].map(() => openKv({ kvPath: path, onDeploy: false })));
  try {
    const [slowKv, fastKv] = kvs;
    let listed!: () => void;
    const proceed = new Promise<void>((r) => listed = r);
    let paused = false;
    // The slow instance reads the old states, then waits while the other one moves them and an
    // admin re-enables the key, before it commits its own move.
    const slow = new Proxy(slowKv, {
      get(target, prop) {
        if (prop === "list") {
          return (selector: Deno.KvListSelector) => {
            const inner = target.list(selector);
            if (!("prefix" in selector) || selector.prefix[0] !== "key_health" || paused) {
              return inner;
            }
            paused = true;
            return (async function* () {
              yield* inner;
              await proceed;
            })();
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const opening = openWithConfig(slow);
    while (!paused) await new Promise((r) => setTimeout(r, 5));
    const fast = await openWithConfig(fastKv);
    assert.equal(fast.get(healthId(A, "sk-dead"), "m")?.state, "disabled");
    await fast.clear(healthId(A, "sk-dead"));
    fast.close();
    listed();
    const late = await opening;
    late.close();
    assert.equal(
      late.get(healthId(A, "sk-dead"), "m"),
      undefined,
      "the re-enabled key came back disabled",
    );
  } finally {
    kvs.forEach((kv) => kv.close());
    await Deno.remove(path);
  }
});
