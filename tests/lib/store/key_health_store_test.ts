import assert from "node:assert/strict";
import { KeyHealthStore } from "../../../lib/store/key_health_store.ts";

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
    await other.disable("up", "key1", "401: invalid key");
    const started = Date.now();
    while (!here.get("up", "key1", "m")) {
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
      await store.disable("u", "k", "401");
      await Promise.all([store.clear("u", "k"), store.reload()]);
      assert.equal(store.get("u", "k", "*"), undefined, `round ${i}`);
    }
  } finally {
    store.close();
    kv.close();
  }
});
