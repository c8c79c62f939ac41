import assert from "node:assert/strict";
import type { RequestLogEntry } from "../../../lib/observability/request_log_entry.ts";
import { RequestLogStore } from "../../../lib/store/request_log_store.ts";

const HOUR = 3_600_000;

function entry(i: number, over: Partial<RequestLogEntry> = {}): RequestLogEntry {
  return {
    id: `req_${String(i).padStart(5, "0")}`,
    time: 1_700_000_000_000 + i * 1000,
    path: "/v1/messages",
    stream: false,
    model: i % 2 ? "claude-haiku-4-5" : "claude-sonnet-4-5",
    upstreamModel: i % 2 ? "gpt-4o-mini" : "gpt-4o",
    upstream: i % 3 ? "main" : "backup",
    status: i % 5 === 0 ? 529 : i % 7 === 0 ? 400 : 200,
    error: i % 5 === 0 || i % 7 === 0,
    totalMs: 100 + i,
    tries: 1,
    retries: 0,
    fallbacks: [],
    attempts: [],
    ...over,
  };
}

async function withStore(
  options: { max: number; ttlMs?: number; now?: () => number },
  fn: (store: RequestLogStore, kv: Deno.Kv) => Promise<void>,
) {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(
      new RequestLogStore(kv, { ttlMs: 24 * HOUR, now: () => 1_700_000_000_000, ...options }),
      kv,
    );
  } finally {
    kv.close();
  }
}

async function keyCount(kv: Deno.Kv, prefix: string): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix: [prefix] })) n++;
  return n;
}

Deno.test("lists newest first, pages with a cursor, gets by id", async () => {
  await withStore({ max: 100 }, async (store) => {
    await store.append(Array.from({ length: 30 }, (_, i) => entry(i)));
    const first = await store.list({}, { limit: 10 });
    assert.deepEqual(first.items.map((s) => s.id).slice(0, 2), ["req_00029", "req_00028"]);
    assert.ok(first.cursor);
    const second = await store.list({}, { limit: 10, cursor: first.cursor });
    assert.equal(second.items[0].id, "req_00019");
    const third = await store.list({}, { limit: 10, cursor: second.cursor });
    assert.equal(third.items.at(-1)!.id, "req_00000");
    const got = await store.get("req_00012");
    assert.equal(got?.totalMs, 112);
    assert.equal(await store.get("req_nope"), null);
    // The summary leaves out the heavy parts.
    assert.equal("attempts" in first.items[0], false);
  });
});

Deno.test("filters by status class, exact status, upstream, model and errors", async () => {
  await withStore({ max: 100 }, async (store) => {
    await store.append(Array.from({ length: 30 }, (_, i) => entry(i)));
    const ids = async (f: Parameters<RequestLogStore["list"]>[0]) =>
      (await store.list(f, { limit: 100 })).items.map((s) => Number(s.id.slice(4)));
    assert.deepEqual(await ids({ status: "5xx" }), [25, 20, 15, 10, 5, 0]);
    assert.deepEqual(await ids({ status: "400" }), [28, 21, 14, 7]);
    assert.equal((await ids({ status: "2xx" })).length, 30 - 6 - 4);
    assert.equal((await ids({ errorsOnly: true })).length, 10);
    assert.ok((await ids({ upstream: "backup" })).every((i) => i % 3 === 0));
    assert.ok((await ids({ model: "HAIKU" })).every((i) => i % 2 === 1));
    assert.ok((await ids({ model: "4o-mini" })).every((i) => i % 2 === 1));
    assert.deepEqual(await ids({ upstream: "backup", status: "5xx" }), [15, 0]);
  });
});

Deno.test("never holds more than max, in every index, across many appends", async () => {
  await withStore({ max: 25 }, async (store, kv) => {
    let i = 0;
    for (const size of [1, 7, 30, 3, 25, 60, 2, 1, 11]) {
      await store.append(Array.from({ length: size }, () => entry(i++)));
      for (const prefix of ["request_log"]) {
        assert.ok(await keyCount(kv, prefix) <= 25, `${prefix} after ${i}`);
        assert.ok(await store.count() <= 25, `entries after ${i}`);
      }
    }
    assert.equal(await store.count(), 25);
    const kept = (await store.list({}, { limit: 100 })).items.map((s) => s.id);
    assert.equal(kept[0], `req_${String(i - 1).padStart(5, "0")}`);
    assert.equal(kept.at(-1), `req_${String(i - 25).padStart(5, "0")}`);
  });
});

Deno.test("two writers on one store share the limit", async () => {
  await withStore({ max: 10 }, async (a, kv) => {
    const b = new RequestLogStore(kv, { max: 10, ttlMs: 24 * HOUR, now: () => 1_700_000_000_000 });
    await Promise.all(
      Array.from(
        { length: 8 },
        (_, k) => (k % 2 ? a : b).append(Array.from({ length: 4 }, (_, j) => entry(k * 4 + j))),
      ),
    );
    assert.equal(await a.count(), 10);
    assert.equal(await keyCount(kv, "request_log") <= 10, true);
  });
});

Deno.test("entries older than the TTL are neither listed nor found", async () => {
  let now = 1_700_000_000_000 + 10_000;
  await withStore({ max: 100, ttlMs: HOUR, now: () => now }, async (store) => {
    await store.append([entry(1), entry(5)]);
    assert.equal((await store.list()).items.length, 2);
    now += HOUR - 7_000;
    assert.deepEqual((await store.list()).items.map((s) => s.id), ["req_00005"]);
    assert.equal(await store.get("req_00001"), null);
    assert.equal(await store.count(), 1);
  });
});

Deno.test("max 0 keeps nothing", async () => {
  await withStore({ max: 0 }, async (store, kv) => {
    await store.append([entry(1)]);
    assert.equal(await keyCount(kv, "request_log"), 0);
  });
});

Deno.test("entries of every shape are packed into values KV accepts", async () => {
  await withStore({ max: 10_000 }, async (store) => {
    const undefinedHeavy = (i: number): RequestLogEntry =>
      entry(i, {
        clientKey: undefined,
        upstreamModel: undefined,
        serviceType: undefined,
        key: undefined,
        errorType: undefined,
        errorMessage: undefined,
        stopReason: undefined,
        ttfbMs: undefined,
        tokens: undefined,
        attempts: Array.from({ length: i % 4 }, () => ({
          upstream: "main",
          keyId: "k",
          key: "sk-…abcd",
          outcome: "failed" as const,
          status: undefined,
          reason: undefined,
          ms: undefined,
        })),
      });
    const wide = (i: number): RequestLogEntry =>
      entry(i, { errorMessage: "ошибка ✻ ".repeat(100), model: "模型".repeat(90) });
    const entries = Array.from({ length: 3000 }, (_, i) => i % 3 ? undefinedHeavy(i) : wide(i));
    await store.append(entries);
    const page = await store.list({}, { limit: 3000 });
    assert.equal(page.items.length, 3000);
  });
});

Deno.test("batches left by another instance (or an earlier run) are trimmed too", async () => {
  await withStore({ max: 1000 }, async (earlier, kv) => {
    for (let k = 0; k < 4; k++) {
      await earlier.append(Array.from({ length: 5 }, (_, j) => entry(k * 5 + j)));
    }
    assert.equal(await keyCount(kv, "request_log"), 4, "four batches");
    const next = new RequestLogStore(kv, {
      max: 10,
      ttlMs: 24 * HOUR,
      now: () => 1_700_000_000_000,
    });
    await next.append(Array.from({ length: 5 }, (_, j) => entry(20 + j)));
    // The limit now starts at 15: the three batches wholly below it are gone.
    assert.equal(await keyCount(kv, "request_log"), 2);
    assert.equal(await next.count(), 10);
  });
});
