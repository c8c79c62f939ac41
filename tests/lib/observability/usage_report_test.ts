// The usage CSV as a spreadsheet opens it: model names a client chose never run as formulas.
import assert from "node:assert/strict";
import { buildUsageReport, keyLabels, usageCsv } from "../../../lib/observability/usage_report.ts";
import { keyId } from "../../../lib/key_pool.ts";
import { maskKey } from "../../../lib/secret_mask.ts";
import { UsageStore } from "../../../lib/store/usage_store.ts";

Deno.test("usage CSV: a model name shaped as a formula is defused, numbers stay numbers", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new UsageStore(kv);
    const start = 3_600_000 * 10;
    const models = ["-1+cmd|' /C calc'!A0", '+1+HYPERLINK("http://x")', "=SUM(A1)", "-2", "@x"];
    await store.add(models.map((m) => ({
      bucket: "hour" as const,
      start,
      dimension: `model:${m}`,
      metric: "requests",
      value: 3,
    })));
    const csv = await usageCsv(store, "hour", 0, start * 2);
    const names = csv.trim().split("\r\n").slice(1).map((line) => {
      const cells = line.match(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)!.map((c) => c.replace(/,$/, ""));
      return cells[3].replace(/^"|"$/g, "").replace(/""/g, '"');
    });
    for (const name of names) {
      // A spreadsheet takes a cell starting with = + - @ as a formula unless it is a number.
      assert.ok(!/^[=+\-@]/.test(name) || /^-?\d+(\.\d+)?$/.test(name), name);
    }
    assert.ok(names.includes("-2"));
  } finally {
    kv.close();
  }
});

Deno.test("usage by key: a key whose upstream was renamed keeps one row, shown as itself, not as removed", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new UsageStore(kv);
    const now = Date.now();
    const start = now - (now % 3_600_000);
    const key = "sk-live-key-0123456789abcdef";
    const gone = "sk-gone-key-0123456789abcdef";
    const counted = (dimension: string, value: number) => ({
      bucket: "hour" as const,
      start,
      dimension,
      metric: "requests",
      value,
    });
    await store.add([
      counted(`key:old-name/${keyId(key)}`, 225),
      counted(`key:new-name/${keyId(key)}`, 5),
      counted(`key:old-name/${keyId(gone)}`, 7),
    ]);
    const labels = keyLabels({
      upstream: [{ name: "new-name", baseUrl: "https://h", serviceType: "openai", apiKeys: [key] }],
    });
    const report = await buildUsageReport(store, now, { labels });
    assert.deepEqual(report.byKey.map((k) => [k.upstream, k.label, k.totals.requests]), [
      ["new-name", maskKey(key), 230],
      ["old-name", `${keyId(gone).slice(0, 8)}… (removed)`, 7],
    ]);
  } finally {
    kv.close();
  }
});
