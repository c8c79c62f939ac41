import assert from "node:assert/strict";
import { outputLimitFromError } from "../../lib/output_limits.ts";

Deno.test("output limits: the limit named in each upstream's max_tokens error is read", () => {
  const cases: Array<[string, number | undefined]> = [
    ["Invalid max_tokens value, the valid range of max_tokens is [1, 8192]", 8192],
    [
      "max_tokens is too large: 64000. This model supports at most 16384 completion tokens, whereas you provided 64000.",
      16384,
    ],
    [
      "max_tokens: 64000 > 32000, which is the maximum allowed number of output tokens for claude-x",
      32000,
    ],
    [
      "`max_tokens` must be less than or equal to `32768`, the maximum value for `max_tokens`",
      32768,
    ],
    [
      "This model's maximum context length is 32768 tokens. However, you requested 64100 tokens (100 in the messages, 64000 in the completion).",
      32668,
    ],
    [
      "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
      undefined,
    ],
    ["The value of max_output_tokens (64000) exceeds the maximum allowed (8192).", 8192],
    [
      "The input token count (2000000) exceeds the maximum number of tokens allowed (1048576).",
      undefined,
    ],
    ["temperature must be less than or equal to 2", undefined],
    ["Invalid API key", undefined],
  ];
  for (const [message, limit] of cases) assert.equal(outputLimitFromError(message), limit, message);
});
