import assert from "node:assert/strict";
import { AdminInputError } from "../../lib/admin_service.ts";
import type { ConfigDocument } from "../../lib/config_document.ts";
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
