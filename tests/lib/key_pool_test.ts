import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { healthId, keyId, KeyPool } from "../../lib/key_pool.ts";
import { KeyHealthStore } from "../../lib/store/key_health_store.ts";
import { startFakeOpenAI } from "../fakes/openai_upstream.ts";
import { ACCESS_KEY, startTestServer } from "../helpers/server.ts";

const upstream = {
  name: "u",
  baseUrl: "https://x",
  serviceType: "openai",
  apiKeys: ["k1", "k2", "k3"],
};

async function pool(random?: () => number) {
  const kv = await Deno.openKv(":memory:");
  const health = await KeyHealthStore.open(kv, { watch: false });
  return { kv, health, pool: new KeyPool(health, random) };
}

Deno.test("key pool: round-robin starts one key further each request", async () => {
  const t = await pool();
  try {
    const firsts = [1, 2, 3, 4].map(() => t.pool.order(upstream, "round-robin", "m")[0].key);
    assert.deepEqual(firsts, ["k1", "k2", "k3", "k1"]);
    assert.deepEqual(t.pool.order(upstream, "round-robin", "m").map((c) => c.key), [
      "k2",
      "k3",
      "k1",
    ]);
  } finally {
    t.kv.close();
  }
});

Deno.test("key pool: round-robin shares the turns of a key set aside among the others, not to the next", async () => {
  const t = await pool();
  try {
    const four = { ...upstream, apiKeys: ["k1", "k2", "k3", "k4"] };
    await t.pool.recordFailure(four, { key: "k2", id: keyId("k2") }, "m", {
      status: 429,
      type: "rate_limit_error",
      message: "slow",
      keyFault: "rate_limit",
      retryAfterMs: 60_000,
    });
    const served = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const first = t.pool.order(four, "round-robin", "m")[0].key;
      served.set(first, (served.get(first) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(served), { k1: 100, k3: 100, k4: 100 });
  } finally {
    t.kv.close();
  }
});

Deno.test("key pool: under round-robin the turn after a key that took over from a failed one is the next key's", async () => {
  const fake = await startFakeOpenAI();
  const server = await startTestServer({
    config: {
      upstream: [{
        name: "rr",
        baseUrl: fake.url,
        serviceType: "openai",
        apiKeys: ["sk-rr-a", "sk-rr-b", "sk-rr-c"],
        models: { default: "gpt-fake" },
      }],
      currentUpstream: 0,
      loadBalance: "round-robin",
    },
  });
  const client = new Anthropic({ apiKey: ACCESS_KEY, baseURL: server.url, maxRetries: 0 });
  try {
    const ask = {
      model: "m",
      max_tokens: 10,
      messages: [{ role: "user" as const, content: "hi" }],
    };
    await client.messages.create(ask);
    // b is rate limited: c takes over, and the next request is a's, not c's again.
    fake.enqueue({
      status: 429,
      json: { error: { message: "slow down", type: "requests", code: "rate_limit_exceeded" } },
      headers: { "retry-after": "30" },
    });
    for (let i = 0; i < 5; i++) await client.messages.create(ask);
    const served = fake.requests.map((r) => r.headers.get("authorization")!.slice(-1));
    assert.deepEqual(served, ["a", "b", "c", "a", "c", "a", "c"]);
  } finally {
    await server.close();
    await fake.close();
  }
});

Deno.test("key pool: failover always starts with the first healthy key; random uses the source", async () => {
  const t = await pool(() => 0.7);
  try {
    assert.deepEqual(t.pool.order(upstream, "failover", "m").map((c) => c.key), ["k1", "k2", "k3"]);
    assert.deepEqual(t.pool.order(upstream, "random", "m").map((c) => c.key), ["k3", "k1", "k2"]);
  } finally {
    t.kv.close();
  }
});

Deno.test("key pool: cooling keys are skipped for their model only; disabled keys for all", async () => {
  const t = await pool();
  try {
    await t.pool.recordFailure(upstream, { key: "k1", id: keyId("k1") }, "gpt-4o", {
      status: 429,
      type: "rate_limit_error",
      message: "slow",
      keyFault: "rate_limit",
      retryAfterMs: 5_000,
    });
    await t.pool.recordFailure(upstream, { key: "k2", id: keyId("k2") }, "gpt-4o", {
      status: 401,
      type: "authentication_error",
      message: "bad",
      keyFault: "auth",
    });
    assert.deepEqual(t.pool.order(upstream, "failover", "gpt-4o").map((c) => c.key), ["k3"]);
    assert.deepEqual(t.pool.order(upstream, "failover", "o3").map((c) => c.key), ["k1", "k3"]);
    const soonest = t.pool.soonestRecovery(upstream, "gpt-4o")!;
    assert.ok(soonest > 4_000 && soonest <= 5_000);
    // A 400 is the request's fault: nothing recorded against the key.
    await t.pool.recordFailure(upstream, { key: "k3", id: keyId("k3") }, "gpt-4o", {
      status: 400,
      type: "invalid_request_error",
      message: "bad request",
    });
    assert.deepEqual(t.pool.order(upstream, "failover", "gpt-4o").map((c) => c.key), ["k3"]);
  } finally {
    t.kv.close();
  }
});

Deno.test("key pool: a 429 naming years (a broken or hostile retry-after) sets the key aside a day at most", async () => {
  const t = await pool();
  try {
    await t.pool.recordFailure(upstream, { key: "k1", id: keyId("k1") }, "gpt-4o", {
      status: 429,
      type: "rate_limit_error",
      message: "slow",
      keyFault: "rate_limit",
      retryAfterMs: 99999999999999999999 * 1000,
    });
    const soonest = t.pool.soonestRecovery(upstream, "gpt-4o")!;
    assert.ok(soonest > 23 * 3_600_000 && soonest <= 24 * 3_600_000, `${soonest} ms`);
  } finally {
    t.kv.close();
  }
});

Deno.test("key pool: repeated 5xx lengthen the cooldown; a success resets it", async () => {
  let now = 1_000_000;
  const kv = await Deno.openKv(":memory:");
  try {
    const health = await KeyHealthStore.open(kv, { watch: false, now: () => now });
    const p = new KeyPool(health);
    const c = { key: "k1", id: keyId("k1") };
    const boom = {
      status: 500,
      type: "api_error" as const,
      message: "x",
      keyFault: "transient" as const,
    };
    await p.recordFailure(upstream, c, "m", boom);
    const first = health.get(healthId(upstream.baseUrl, c.key), "m")!.until! - now;
    now += first + 1;
    await p.recordFailure(upstream, c, "m", boom);
    const second = health.get(healthId(upstream.baseUrl, c.key), "m")!.until! - now;
    assert.equal(second, first * 2);
    now += second + 1;
    await p.recordSuccess(upstream, c);
    await p.recordFailure(upstream, c, "m", boom);
    assert.equal(health.get(healthId(upstream.baseUrl, c.key), "m")!.until! - now, first);
  } finally {
    kv.close();
  }
});

Deno.test("key pool: with every key set aside, the one soonest back from a 5xx is tried anyway", async () => {
  const t = await pool();
  const fail = (key: string, fault: "transient" | "rate_limit" | "auth", retryAfterMs?: number) =>
    t.pool.recordFailure(upstream, { key, id: keyId(key) }, "m", {
      status: fault === "auth" ? 401 : fault === "rate_limit" ? 429 : 503,
      type: "api_error",
      message: "down",
      keyFault: fault,
      retryAfterMs,
    });
  try {
    await fail("k1", "transient", 30_000);
    await fail("k2", "transient", 10_000);
    await fail("k3", "auth");
    assert.deepEqual(t.pool.order(upstream, "failover", "m").map((c) => c.key), ["k2"]);
    // A rate limit the upstream named is waited out: no probe then.
    await fail("k2", "rate_limit", 10_000);
    assert.deepEqual(t.pool.order(upstream, "failover", "m").map((c) => c.key), ["k1"]);
    await fail("k1", "rate_limit", 10_000);
    assert.deepEqual(t.pool.order(upstream, "failover", "m"), []);
  } finally {
    t.kv.close();
  }
});

Deno.test("key pool: a 5xx met by many requests in flight at once is one fault, not many", async () => {
  let now = 1_000_000;
  const kv = await Deno.openKv(":memory:");
  try {
    const health = await KeyHealthStore.open(kv, { watch: false, now: () => now });
    const p = new KeyPool(health);
    const c = { key: "k1", id: keyId("k1") };
    const boom = {
      status: 500,
      type: "api_error" as const,
      message: "x",
      keyFault: "transient" as const,
    };
    // Eight requests were waiting on k1 when it blipped: each sees the same 500.
    await Promise.all(Array.from({ length: 8 }, () => p.recordFailure(upstream, c, "m", boom)));
    const first = health.get(healthId(upstream.baseUrl, c.key), "m")!.until! - now;
    assert.ok(first <= 5_000, `one blip set the key aside for ${first} ms`);
    // A failure once it is back is a second fault: that one lengthens the cooldown.
    now += first + 1;
    await p.recordFailure(upstream, c, "m", boom);
    assert.equal(health.get(healthId(upstream.baseUrl, c.key), "m")!.until! - now, first * 2);
    // A request that started before a 401 disabled the key, and then met a 5xx, leaves it disabled.
    await p.recordFailure(upstream, { key: "k2", id: keyId("k2") }, "m", {
      ...boom,
      status: 401,
      keyFault: "auth",
    });
    await p.recordFailure(upstream, { key: "k2", id: keyId("k2") }, "m", boom);
    await p.recordFailure(upstream, { key: "k2", id: keyId("k2") }, "m", {
      ...boom,
      retryAfterMs: 1_000,
    });
    now += 200_000;
    assert.equal(health.get(healthId(upstream.baseUrl, "k2"), "m")?.state, "disabled");
  } finally {
    kv.close();
  }
});

Deno.test("key pool: a probe that fails during its key's cooldown lengthens it", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const health = await KeyHealthStore.open(kv, { watch: false });
    const p = new KeyPool(health);
    const one = { ...upstream, apiKeys: ["k1"] };
    const boom = {
      status: 503,
      type: "api_error" as const,
      message: "x",
      keyFault: "transient" as const,
    };
    const c = { key: "k1", id: keyId("k1") };
    await p.recordFailure(one, c, "m", boom);
    const first = health.get(healthId(upstream.baseUrl, c.key), "m")!.until! - Date.now();
    assert.deepEqual(p.order(one, "failover", "m").map((k) => k.key), ["k1"]);
    await p.recordFailure(one, c, "m", boom);
    const second = health.get(healthId(upstream.baseUrl, c.key), "m")!.until! - Date.now();
    assert.ok(second > first + 4_000, `probe failure: ${first} then ${second}`);
  } finally {
    kv.close();
  }
});

Deno.test("key pool: a key is one key at one server, whatever the upstreams sharing it are named", async () => {
  const t = await pool();
  try {
    const one = { ...upstream, name: "one", apiKeys: ["EMPTY", "k2"] };
    const two = { ...upstream, name: "two", apiKeys: ["EMPTY"] };
    const elsewhere = { ...upstream, name: "three", baseUrl: "https://y", apiKeys: ["EMPTY"] };
    await t.pool.recordFailure(one, { key: "EMPTY", id: keyId("EMPTY") }, "m", {
      status: 401,
      type: "authentication_error",
      message: "bad",
      keyFault: "auth",
    });
    assert.deepEqual(t.pool.order(one, "failover", "m").map((c) => c.key), ["k2"]);
    assert.deepEqual(t.pool.order(two, "failover", "m"), [], "the same key at the same server");
    assert.deepEqual(t.pool.order(elsewhere, "failover", "m").map((c) => c.key), ["EMPTY"]);
  } finally {
    t.kv.close();
  }
});

Deno.test("key pool: a placeholder key one server refuses still serves at another (a real client)", async () => {
  // Local servers often take any key ("EMPTY", "ollama"); a 401 from one says nothing of another.
  const strict = await startFakeOpenAI({ requireKey: ["sk-the-real-one"] });
  const open = await startFakeOpenAI();
  const server = await startTestServer({
    config: {
      upstream: [
        {
          name: "vllm-a",
          baseUrl: strict.url,
          serviceType: "openai",
          apiKeys: ["EMPTY"],
          models: { default: "gpt-fake" },
          fallback: "vllm-b",
        },
        {
          name: "vllm-b",
          baseUrl: open.url,
          serviceType: "openai",
          apiKeys: ["EMPTY"],
          models: { default: "gpt-fake" },
        },
      ],
      currentUpstream: 0,
      loadBalance: "failover",
    },
  });
  const client = new Anthropic({ apiKey: ACCESS_KEY, baseURL: server.url, maxRetries: 0 });
  try {
    for (let i = 0; i < 2; i++) {
      const answer = await client.messages.create({
        model: "claude-sonnet-test",
        max_tokens: 16,
        messages: [{ role: "user", content: "hi" }],
      });
      assert.equal(answer.type, "message");
    }
    assert.equal(strict.requests.length, 1, "the refused key was set aside there");
    assert.equal(open.requests.length, 2);
  } finally {
    await server.close();
    await strict.close();
    await open.close();
  }
});
