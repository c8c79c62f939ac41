import assert from "node:assert/strict";
import {
  anthropicOutputLimit,
  refusedBetasFromError,
} from "../../../lib/providers/anthropic_refusals.ts";

const SENT = ["context-1m-2025-08-07", "interleaved-thinking-2025-05-14"];

Deno.test("refused betas: read from Anthropic's, Bedrock's and other wordings; other 400s are not", () => {
  assert.deepEqual(
    refusedBetasFromError(
      "Unexpected value(s) `context-1m-2025-08-07`, `x-2025` for the `anthropic-beta` header.",
      SENT,
    ),
    ["context-1m-2025-08-07"],
  );
  assert.deepEqual(refusedBetasFromError('{"message":"invalid beta flag"}', SENT), ["*"]);
  assert.deepEqual(
    refusedBetasFromError("beta interleaved-thinking-2025-05-14 is not supported", SENT),
    ["interleaved-thinking-2025-05-14"],
  );
  assert.equal(refusedBetasFromError("max_tokens: must be at most 8192", SENT), undefined);
  assert.equal(refusedBetasFromError("invalid beta flag", []), undefined, "none was sent");
});

Deno.test("refused betas: a huge error message is read in bounded time, not for seconds", () => {
  const message = "Unexpected value(s) ".repeat(40_000);
  const started = performance.now();
  assert.equal(refusedBetasFromError(message, ["a-flag"]), undefined);
  const ms = performance.now() - started;
  assert.ok(ms < 500, `took ${Math.round(ms)} ms`);
});

Deno.test("anthropic refusals: the output tokens a max_tokens refusal names, and no other figure", () => {
  assert.equal(
    anthropicOutputLimit(
      "max_tokens: 64000 > 32000, which is the maximum allowed number of output tokens for claude-x",
    ),
    32000,
  );
  assert.equal(
    anthropicOutputLimit(
      "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation",
    ),
    undefined,
  );
});
