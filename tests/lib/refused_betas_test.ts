import assert from "node:assert/strict";
import { betaFlags, RefusedBetas } from "../../lib/refused_betas.ts";

const SENT = ["context-1m-2025-08-07", "interleaved-thinking-2025-05-14"];

Deno.test("refused betas: the headers an upstream gets keep the flags it takes", () => {
  const betas = new RefusedBetas();
  const headers = new Headers({ "anthropic-beta": SENT.join(","), "anthropic-version": "x" });
  assert.equal(betas.filter("a", headers), headers, "nothing learned: the client's own headers");
  betas.learn("a", ["context-1m-2025-08-07"]);
  assert.deepEqual(betaFlags(betas.filter("a", headers).get("anthropic-beta")), [SENT[1]]);
  assert.equal(betas.filter("b", headers), headers, "per upstream");
  betas.learn("a", ["*"]);
  assert.equal(betas.filter("a", headers).get("anthropic-beta"), null);
  assert.equal(betas.filter("a", headers).get("anthropic-version"), "x");
});
