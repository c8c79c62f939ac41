// KV calls retried while another process holds the file's lock: what is retried, for how long,
// and what is let through.
import assert from "node:assert/strict";
import {
  isBusy,
  retryingKv,
  retryWhenBusy,
  StoreBusyError,
} from "../../../lib/store/busy_retry.ts";

const locked = () => new TypeError("database is locked");
const noWait = { sleep: () => Promise.resolve() };

Deno.test("busy retry: a locked file is tried again until it answers", async () => {
  let calls = 0;
  const value = await retryWhenBusy(() => {
    calls++;
    return calls < 4 ? Promise.reject(locked()) : Promise.resolve("done");
  }, noWait);
  assert.equal(value, "done");
  assert.equal(calls, 4);
});

Deno.test("busy retry: any other error is let through at once", async () => {
  let calls = 0;
  await assert.rejects(
    retryWhenBusy(() => {
      calls++;
      return Promise.reject(new TypeError("Value too large"));
    }, noWait),
    /Value too large/,
  );
  assert.equal(calls, 1);
  assert.equal(isBusy(new Error("database table is locked")), true);
  assert.equal(isBusy(new Error("SQLITE_BUSY: database is busy")), true);
  assert.equal(isBusy("database is locked"), false);
});

Deno.test("busy retry: a file locked past the budget is a StoreBusyError", async () => {
  let now = 0;
  let calls = 0;
  await assert.rejects(
    retryWhenBusy(() => {
      calls++;
      return Promise.reject(locked());
    }, {
      budgetMs: 1_000,
      now: () => now,
      sleep: (ms) => {
        now += ms;
        return Promise.resolve();
      },
    }),
    (err) => {
      assert.ok(err instanceof StoreBusyError);
      assert.match(String((err.cause as Error).message), /database is locked/);
      return true;
    },
  );
  assert.ok(calls > 5, `${calls} tries`);
  assert.ok(now >= 1_000);
});

Deno.test("busy retry: every kind of KV call of the wrapped store is retried", async () => {
  const real = await Deno.openKv(":memory:");
  // Each call fails once as if the file were locked, then reaches the real store.
  let failNext = 0;
  const flaky =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => (...args: A): Promise<R> => {
      if (failNext > 0) {
        failNext--;
        return Promise.reject(locked());
      }
      return fn(...args);
    };
  const fake = {
    get: flaky((key: Deno.KvKey) => real.get(key)),
    getMany: flaky((keys: Deno.KvKey[]) => real.getMany(keys)),
    set: flaky((key: Deno.KvKey, value: unknown) => real.set(key, value)),
    delete: flaky((key: Deno.KvKey) => real.delete(key)),
    atomic() {
      const op = real.atomic();
      op.commit = flaky(op.commit.bind(op));
      return op;
    },
    list(selector: Deno.KvListSelector) {
      const iter = real.list(selector);
      iter.next = flaky(iter.next.bind(iter));
      return iter;
    },
    close: () => real.close(),
  } as unknown as Deno.Kv;
  const kv = retryingKv(fake, noWait);
  try {
    failNext = 1;
    await kv.set(["a"], 1);
    failNext = 1;
    assert.equal((await kv.get(["a"])).value, 1);
    failNext = 1;
    assert.deepEqual((await kv.getMany([["a"], ["b"]])).map((e) => e.value), [1, null]);
    failNext = 1;
    const res = await kv.atomic().check({ key: ["b"], versionstamp: null }).set(["b"], 2).commit();
    assert.equal(res.ok, true);
    const seen: unknown[] = [];
    for await (const e of kv.list({ prefix: [] })) {
      failNext = 1;
      seen.push(e.value);
    }
    assert.deepEqual(seen, [1, 2]);
    failNext = 1;
    await kv.delete(["a"]);
    assert.equal((await real.get(["a"])).value, null);
    assert.equal(failNext, 0, "every failure was met and retried");
  } finally {
    kv.close();
  }
});
