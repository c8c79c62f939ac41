import assert from "node:assert/strict";
import { deadline } from "../../lib/deadlines.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("deadlines: each fires once at its time, sooner ones first, cancelled ones never", async () => {
  const started = Date.now();
  const fired: Array<[string, number]> = [];
  const note = (name: string) => () => fired.push([name, Date.now() - started]);
  deadline(400, note("late"));
  const cancelled = deadline(60, note("cancelled"));
  // Sooner than the one the timer was set for: it must not wait for that one.
  deadline(40, note("soon"));
  deadline(100, note("middle"));
  cancelled();
  await sleep(500);
  assert.deepEqual(fired.map(([name]) => name), ["soon", "middle", "late"]);
  const [soon, middle, late] = fired.map(([, ms]) => ms);
  assert.ok(soon >= 40 && soon < 300, `soon at ${soon} ms`);
  assert.ok(middle >= 100, `middle at ${middle} ms`);
  assert.ok(late >= 400, `late at ${late} ms`);
});

Deno.test("deadlines: one cancelled after firing, or twice, changes nothing", async () => {
  let count = 0;
  const stop = deadline(10, () => count++);
  await sleep(40);
  stop();
  stop();
  assert.equal(count, 1);
});
