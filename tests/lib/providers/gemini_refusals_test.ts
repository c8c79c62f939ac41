import assert from "node:assert/strict";
import {
  geminiContextOverflow,
  geminiOutputLimit,
} from "../../../lib/providers/gemini_refusals.ts";

Deno.test("gemini refusals: the output tokens a maxOutputTokens refusal leaves, and no other range", () => {
  assert.equal(
    geminiOutputLimit(
      "Unable to submit request because it has a maxOutputTokens value of 32000 but the supported range is from 1 (inclusive) to 8193 (exclusive). Update the value and try again.",
    ),
    8192,
  );
  assert.equal(
    geminiOutputLimit(
      "Unable to submit request because it has a topK value of 100 but the supported range is from 1 (inclusive) to 41 (exclusive). Update the value and try again.",
    ),
    undefined,
  );
});

Deno.test("gemini refusals: a full context window is read with its figures", () => {
  assert.deepEqual(
    geminiContextOverflow(
      "The input token count (2000000) exceeds the maximum number of tokens allowed (1048576).",
    ),
    { tokens: 2000000, max: 1048576 },
  );
  assert.equal(geminiContextOverflow("Request contains an invalid argument."), undefined);
});
