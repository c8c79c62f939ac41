import assert from "node:assert/strict";
import { diffConfig } from "../../lib/config_diff.ts";
import type { ConfigDocument } from "../../lib/config_document.ts";

const KEY_A = "sk-aaaaaaaaaaaaaaaaaaaa1111";
const KEY_B = "sk-bbbbbbbbbbbbbbbbbbbb2222";
const KEY_C = "sk-cccccccccccccccccccc3333";

const twoUpstreams = {
  upstream: [
    { name: "one", baseUrl: "https://one.example", serviceType: "openai", apiKeys: [KEY_A] },
    {
      name: "two",
      baseUrl: "https://two.example",
      serviceType: "anthropic",
      apiKeys: [KEY_B],
      fallback: "one",
    },
  ],
  currentUpstream: 1,
  loadBalance: "failover",
};

Deno.test("diffConfig names added, removed and changed upstreams, keys and order", () => {
  const before = structuredClone(twoUpstreams) as ConfigDocument;
  const after = structuredClone(twoUpstreams) as ConfigDocument;
  after.upstream.reverse();
  after.currentUpstream = 0;
  after.upstream[1].apiKeys.push(KEY_C);
  after.upstream[1].baseUrl = "https://uno.example";
  after.upstream.push({
    name: "three",
    baseUrl: "https://3.example",
    serviceType: "openai",
    apiKeys: [],
  });
  const d = diffConfig(before, after);
  assert.deepEqual(d.added, ["three"]);
  assert.deepEqual(d.removed, []);
  assert.deepEqual(d.changed, [{ name: "one", fields: ["baseUrl"], keysAdded: 1, keysRemoved: 0 }]);
  assert.deepEqual(d.unchanged, ["two"]);
  assert.equal(d.reordered, true);
  assert.equal(d.current, undefined, "two stays current");
  assert.deepEqual(d.keys, { before: 2, after: 3 });
  assert.equal(d.hasChanges, true);
});

Deno.test("diffConfig sees no change in a document equal but for the order of its fields", () => {
  const before = structuredClone(twoUpstreams) as ConfigDocument;
  const after = structuredClone(twoUpstreams) as ConfigDocument;
  after.upstream[1] = Object.fromEntries(
    Object.entries(after.upstream[1]).reverse(),
  ) as ConfigDocument["upstream"][number];
  const d = diffConfig(before, after);
  assert.deepEqual(d.unchanged, ["one", "two"]);
  assert.equal(d.hasChanges, false);
});
