import assert from "node:assert/strict";
import { AdminInputError, parseKeyList } from "../../lib/admin_service.ts";
import { diffConfig } from "../../lib/config_diff.ts";
import type { ConfigDocument } from "../../lib/config_document.ts";
import { maskKey } from "../../lib/secret_mask.ts";
import { healthId, keyId } from "../../lib/key_pool.ts";
import { disableKey, enableAllKeys, enableKey, keyStatuses } from "../../lib/key_status.ts";
import { KeyHealthStore } from "../../lib/store/key_health_store.ts";

const KEY_A = "sk-aaaaaaaaaaaaaaaaaaaa1111";
const KEY_B = "sk-bbbbbbbbbbbbbbbbbbbb2222";
const KEY_C = "sk-cccccccccccccccccccc3333";

const doc = {
  upstream: [
    {
      name: "one",
      baseUrl: "https://one.example",
      serviceType: "openai",
      apiKeys: [KEY_A, KEY_B, KEY_C],
    },
    { name: "two", baseUrl: "https://two.example", serviceType: "anthropic", apiKeys: [KEY_B] },
  ],
  currentUpstream: 1,
  loadBalance: "failover",
} as ConfigDocument;

Deno.test("key states: disable, enable, re-enable all, cooldowns with their model", async () => {
  const kv = await Deno.openKv(":memory:");
  let now = 1_000_000;
  const health = await KeyHealthStore.open(kv, { watch: false, now: () => now });
  try {
    await disableKey(health, doc, "one", keyId(KEY_A));
    await disableKey(health, doc, "one", keyId(KEY_B));
    const at = (key: string) => healthId(doc.upstream[0].baseUrl, key);
    await health.coolDown(at(KEY_C), "claude-sonnet-4", 30_000, "429: slow down");
    let [one] = keyStatuses(doc, health.list());
    assert.deepEqual(one.keys.map((k) => k.state), ["disabled", "disabled", "cooldown"]);
    assert.equal(one.keys[0].reason, "admin: disabled by hand");
    assert.equal(one.keys[2].model, "claude-sonnet-4");
    assert.equal(one.keys[2].until, 1_030_000);
    assert.equal(one.keys[0].masked, "sk-aaa…1111");

    await health.disable(at(KEY_A), `401: Incorrect API key provided: ${KEY_A}`);
    [one] = keyStatuses(doc, health.list(), (t) => t.replace("Incorrect", "[REDACTED]"));
    assert.equal(one.keys[0].reason, "401: [REDACTED] API key provided: sk-aaa…1111");

    // A model name is the client's text: a secret in it is masked like one in a reason.
    await health.coolDown(at(KEY_C), `gpt ${KEY_B} pw-Secret`, 20_000, "429");
    [one] = keyStatuses(doc, health.list(), (t) => t.replace("pw-Secret", "[REDACTED]"));
    assert.equal(one.keys[2].model, "claude-sonnet-4, gpt sk-bbb…2222 [REDACTED]");

    await enableKey(health, doc, "one", keyId(KEY_A));
    assert.equal(await enableAllKeys(health, doc, "one"), 1);
    [one] = keyStatuses(doc, health.list());
    assert.deepEqual(one.keys.map((k) => k.state), ["active", "active", "cooldown"]);
    now += 31_000;
    [one] = keyStatuses(doc, health.list());
    assert.equal(one.keys[2].state, "active");
    await assert.rejects(disableKey(health, doc, "one", "nope"), AdminInputError);
  } finally {
    health.close();
    kv.close();
  }
});

Deno.test("an upstream of 20,000 keys: pasting, diffing and listing them with their reasons stay quick", () => {
  const keys = Array.from({ length: 20_000 }, (_, i) => `sk-proj-${i}-${crypto.randomUUID()}`);
  const big: ConfigDocument = {
    upstream: [{
      name: "big",
      baseUrl: "https://big.example",
      serviceType: "openai",
      apiKeys: keys,
    }],
    currentUpstream: 0,
    loadBalance: "failover",
  };
  const started = performance.now();
  // Half the keys again, plus new ones, pasted at once.
  const pasted = parseKeyList([...keys.slice(0, 10_000), "sk-new-one-0000", keys[0]].join("\n"));
  assert.equal(pasted.keys.length, 10_001);
  assert.equal(pasted.repeated, 1);
  const renewed = { ...big, upstream: [{ ...big.upstream[0], apiKeys: keys.slice(5_000) }] };
  const diff = diffConfig(big, renewed);
  assert.deepEqual(diff.changed[0], { name: "big", fields: [], keysAdded: 0, keysRemoved: 5_000 });
  // Every key refused, each reason quoting its key: each shown masked.
  const states = keys.map((key, i) => ({
    healthId: healthId(big.upstream[0].baseUrl, key),
    state: "disabled" as const,
    reason: `401: Incorrect API key provided: ${key} (${i})`,
    model: "*",
    since: 0,
  }));
  const [listed] = keyStatuses(big, states);
  assert.equal(
    listed.keys[12_345].reason,
    `401: Incorrect API key provided: ${maskKey(keys[12_345])} (12345)`,
  );
  const ms = performance.now() - started;
  // Key by key (includes() and a loop over every key per reason), this took 36 s; 1-2 s now, and
  // the bound leaves room for a CI machine many times slower (11 s seen under a parallel load).
  assert.ok(ms < 20_000, `${Math.round(ms)} ms`);
});
