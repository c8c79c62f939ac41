// The request log never holds more than REQUEST_LOG_MAX entries, however many requests pass.
import assert from "node:assert/strict";
import { ACCESS_KEY, startTestServer } from "../../helpers/server.ts";
import { messageReply, startAnthropicFake } from "./anthropic_fake.ts";

Deno.test("the request log keeps the newest REQUEST_LOG_MAX requests", async () => {
  const fake = startAnthropicFake(() => messageReply("ok"));
  const server = await startTestServer({
    env: { REQUEST_LOG_MAX: "7", ENABLE_REQUEST_LOGS: "true" },
    config: {
      upstream: [{
        name: "main",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: ["sk-ant-retention-key-0001"],
      }],
    },
  });
  const obs = server.services.observability;
  const countKeys = async (prefix: string) => {
    let n = 0;
    for await (const _ of server.kv.list({ prefix: [prefix] })) n++;
    return n;
  };
  try {
    const ids: string[] = [];
    for (let round = 0; round < 6; round++) {
      // Bursts of concurrent requests, so batches of different sizes reach the store.
      const burst = await Promise.all(Array.from({ length: round * 2 + 1 }, async () => {
        const res = await fetch(`${server.url}/v1/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": ACCESS_KEY },
          body: JSON.stringify({
            model: "claude-haiku-4-5",
            max_tokens: 8,
            messages: [{ role: "user", content: "hi" }],
          }),
        });
        await res.text();
        return res.headers.get("request-id")!;
      }));
      ids.push(...burst);
      await obs.flush();
      for (const prefix of ["request_log"]) {
        const n = await countKeys(prefix);
        assert.ok(n <= 7, `${prefix} holds ${n} batches after round ${round}`);
        assert.ok(await obs.requestLog.count() <= 7, `more than 7 entries after round ${round}`);
      }
    }
    assert.equal(ids.length, 36);
    assert.equal(await obs.requestLog.count(), 7);
    const kept = (await obs.requestLog.list({}, { limit: 100 })).items.map((s) => s.id);
    assert.equal(kept.length, 7);
    // A burst finishes in any order; what is kept is the last seven recorded (one line each).
    const recorded = server.logs
      .filter((l) => l.includes(" /v1/messages 200 "))
      .map((l) => l.match(/requestId=(req_\w+)/)![1]);
    assert.equal(recorded.length, 36);
    assert.deepEqual(new Set(kept), new Set(recorded.slice(-7)));
    assert.equal(await obs.requestLog.get(ids[0]), null, "the oldest entry is gone");
  } finally {
    await obs.flush();
    await server.close();
    await fake.close();
  }
});
