import assert from "node:assert/strict";
import { healthId } from "../../lib/key_pool.ts";
import { recoverDisabledKeys } from "../../lib/key_recovery.ts";
import { keys } from "../../lib/store/keys.ts";
import { startFakeAnthropic } from "../fakes/anthropic_upstream.ts";
import { startTestServer } from "../helpers/server.ts";

Deno.test("key recovery: a disabled key that works again is re-enabled; a dead one stays off", async () => {
  const fake = await startFakeAnthropic({ requireKey: ["sk-revived-key-0001"] });
  const server = await startTestServer({
    config: {
      upstream: [{
        name: "u",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: ["sk-revived-key-0001", "sk-still-dead-0002", "sk-admin-off-0003"],
      }],
    },
  });
  try {
    const { health } = server.services;
    const id = (key: string) => healthId(fake.url, key);
    await health.disable(id("sk-revived-key-0001"), "401: invalid x-api-key");
    await health.disable(id("sk-still-dead-0002"), "401: invalid x-api-key");
    await health.disable(id("sk-admin-off-0003"), "admin: disabled by hand");
    assert.equal(await recoverDisabledKeys(server.services), 1);
    assert.equal(health.get(id("sk-revived-key-0001"), "*"), undefined);
    assert.equal(health.get(id("sk-still-dead-0002"), "*")?.state, "disabled");
    // A key an admin switched off is not probed at all.
    assert.equal(health.get(id("sk-admin-off-0003"), "*")?.state, "disabled");
    assert.equal(
      fake.requests.filter((r) => r.headers.get("x-api-key") === "sk-admin-off-0003").length,
      0,
    );
  } finally {
    await server.close();
    await fake.close();
  }
});

Deno.test("key recovery: a check the upstream answers with a rate limit re-enables the key (it was accepted)", async () => {
  const fake = await startFakeAnthropic();
  const server = await startTestServer({
    config: {
      upstream: [{
        name: "u",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: ["sk-limited-key-0001"],
      }],
    },
  });
  try {
    const { health } = server.services;
    const id = healthId(fake.url, "sk-limited-key-0001");
    await health.disable(id, "401: invalid x-api-key");
    fake.enqueue({
      status: 429,
      headers: { "retry-after": "30" },
      json: { type: "error", error: { type: "rate_limit_error", message: "Rate limited" } },
    });
    assert.equal(await recoverDisabledKeys(server.services), 1);
    assert.equal(health.get(id, "*"), undefined);
  } finally {
    await server.close();
    await fake.close();
  }
});

Deno.test("maxTokens caps what Claude Code asks for (64000) to what the upstream allows", async () => {
  const fake = await startFakeAnthropic();
  const server = await startTestServer({
    config: {
      upstream: [{
        name: "u",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: ["sk-cap-1"],
        maxTokens: 8192,
      }],
    },
  });
  try {
    const res = await fetch(`${server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": "test-access-key-0123456789", "content-type": "application/json" },
      body: JSON.stringify({
        model: "m",
        max_tokens: 64000,
        messages: [{ role: "user", content: "x" }],
      }),
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(fake.requests[0].body.max_tokens, 8192);
  } finally {
    await server.close();
    await fake.close();
  }
});

Deno.test("key recovery: a key is checked once it is due, and a failed check is kept in KV so no instance checks it again soon", async () => {
  const fake = await startFakeAnthropic({ requireKey: ["sk-other-key-0009"] });
  const server = await startTestServer({
    config: {
      upstream: [{
        name: "u",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: ["sk-still-dead-0002"],
      }],
    },
  });
  try {
    const { health } = server.services;
    const id = healthId(fake.url, "sk-still-dead-0002");
    const probes = () => fake.requests.length;
    await health.disable(id, "401: invalid x-api-key");
    // Disabled a moment ago: not due a check for a while.
    await recoverDisabledKeys(server.services, 60_000);
    assert.equal(probes(), 0);
    await recoverDisabledKeys(server.services, 0);
    assert.equal(probes(), 1);
    const stored = await server.kv.get<{ checkedAt?: number }>(keys.keyHealth(id, "*"));
    assert.ok(stored.value?.checkedAt, "the check is kept with the key's state");
    assert.equal(health.get(id, "*")?.state, "disabled");
    // Checked a moment ago: not again until it is due once more.
    await recoverDisabledKeys(server.services, 60_000);
    assert.equal(probes(), 1);
  } finally {
    await server.close();
    await fake.close();
  }
});
