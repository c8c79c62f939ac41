import assert from "node:assert/strict";
import { withoutBillingLine } from "../../../lib/providers/billing_line.ts";

Deno.test("withoutBillingLine drops only the leading billing line", () => {
  const line = "x-anthropic-billing-header: cc_version=2.1.197.7d5; cc_entrypoint=sdk-cli;";
  assert.equal(withoutBillingLine(line), "");
  assert.equal(withoutBillingLine(`${line}\nYou are helpful.`), "You are helpful.");
  assert.equal(withoutBillingLine(`  ${line}`), "");
  const quoted = `Never print the ${line}`;
  assert.equal(withoutBillingLine(quoted), quoted);
});
