// The usage CSV as a spreadsheet opens it: model names a client chose never run as formulas.
import assert from "node:assert/strict";
import { usageCsv } from "../../../lib/observability/usage_report.ts";
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
