import assert from "node:assert/strict";
import { followKey } from "../../../lib/store/follow_key.ts";

/** The same KV, with kv.watch replaced: as on a runtime or a store where watching fails. */
function withWatch(
  kv: Deno.Kv,
  watch: () => ReadableStream<Deno.KvEntryMaybe<unknown>[]>,
): Deno.Kv {
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "watch") return watch;
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Resolves with the ms it took for `seen` to hold, or rejects after `ms`. */
async function within(ms: number, seen: () => boolean): Promise<number> {
  const started = Date.now();
  while (!seen()) {
    if (Date.now() - started > ms) throw new Error(`not seen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}

Deno.test("follow key: where kv.watch is unavailable, a change is still seen within a second", async () => {
  using kv = await Deno.openKv(":memory:");
  const broken = withWatch(kv, () => {
    throw new TypeError("kv.watch is not supported here");
  });
  const reports: unknown[] = [];
  const seen: Array<string | null> = [];
  const stop = followKey(broken, ["k"], (v) => {
    seen.push(v);
  }, { onError: (err) => reports.push(err) });
  try {
    const { versionstamp } = await kv.set(["k"], 1);
    await within(1000, () => seen.includes(versionstamp));
    assert.equal(reports.length, 1, "the failed watch is reported once");
  } finally {
    stop();
  }
});

Deno.test("follow key: a watch that breaks after starting is followed by polling, then watched again", async () => {
  using kv = await Deno.openKv(":memory:");
  let calls = 0;
  const flaky = withWatch(kv, () => {
    calls++;
    // The first watch delivers the current value, then its connection drops.
    if (calls === 1) {
      return new ReadableStream({
        async start(c) {
          c.enqueue([await kv.get(["k"])]);
          c.error(new Error("watch connection lost"));
        },
      });
    }
    return kv.watch([["k"]]);
  });
  const seen: Array<string | null> = [];
  const stop = followKey(flaky, ["k"], (v) => {
    seen.push(v);
  }, { onError: () => {} });
  try {
    await within(1000, () => seen.length > 0);
    const first = await kv.set(["k"], 1);
    await within(1000, () => seen.includes(first.versionstamp));
    // A later watch takes over from the polling.
    await within(3000, () => calls >= 2);
    const second = await kv.set(["k"], 2);
    await within(1000, () => seen.includes(second.versionstamp));
  } finally {
    stop();
  }
});

Deno.test("follow key: a change whose handling failed (a KV read that failed) is handled again without another change", async () => {
  using kv = await Deno.openKv(":memory:");
  const reports: unknown[] = [];
  const handled: Array<string | null> = [];
  let failures = 2;
  const stop = followKey(kv, ["k"], (v) => {
    // As a config reload whose read of KV failed twice: nothing else would try again until the
    // next change, and on Deno Deploy (watch only) none may come for days.
    if (v !== null && failures-- > 0) throw new Error("KV read failed");
    handled.push(v);
  }, { onError: (err) => reports.push(err) });
  try {
    const { versionstamp } = await kv.set(["k"], 1);
    await within(2000, () => handled.includes(versionstamp));
    assert.equal(reports.length, 1, "a failure is reported once, not on every try");
  } finally {
    stop();
  }
});
