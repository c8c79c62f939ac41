import assert from "node:assert/strict";
import { ADAPTIVE_THINKING } from "../../../lib/refused_fields.ts";
import {
  anthropicOutputLimit,
  refusedBetasFromError,
  refusedFieldsFromError,
  refusedThinkingFromError,
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

Deno.test("refused thinking: signatures another server made, or a tool loop's turn without thinking, and no other 400", () => {
  for (
    const message of [
      "messages.1.content.0: Invalid `signature` in `thinking` block",
      "messages.3.content.0.thinking.signature: Field required",
      "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a thinking block",
      "messages.9.content.15: `thinking` or `redacted_thinking` blocks in the latest assistant message cannot be modified. These blocks must remain as they were in the original response.",
      "messages.1.content.2: Invalid `data` in `redacted_thinking` block",
    ]
  ) assert.equal(refusedThinkingFromError(message), true, message);
  // DeepSeek takes no tool turn without its thinking while thinking is on: it goes off.
  assert.equal(
    refusedThinkingFromError(
      "The `content[].thinking` in the thinking mode must be passed back to the API.",
    ),
    "off",
  );
  for (
    const message of [
      "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
      "`max_tokens` must be greater than `thinking.budget_tokens`",
      "messages: at least one message is required",
      "messages.1.content.0: the text of a `tool_use` block cannot be modified",
      "x".repeat(5000) + " signature in thinking",
    ]
  ) assert.equal(refusedThinkingFromError(message), false, message.slice(0, 60));
});

Deno.test("refused fields: Anthropic's and relayed wordings name the paths, indices made *", () => {
  assert.deepEqual(
    refusedFieldsFromError("context_management: Extra inputs are not permitted"),
    ["context_management"],
  );
  assert.deepEqual(
    refusedFieldsFromError("tools.12.custom.defer_loading: Extra inputs are not permitted"),
    ["tools.*.custom.defer_loading"],
  );
  // LiteLLM relaying Bedrock's answer, inside its own message.
  assert.deepEqual(
    refusedFieldsFromError(
      '{"message":"context_management: Extra inputs are not permitted"}. Received Model Group=bedrock-sonnet-4.5',
    ),
    ["context_management"],
  );
  assert.deepEqual(
    refusedFieldsFromError(
      "messages.3.content.0.tool_use.caller: Extra inputs are not permitted\nmessages.5.content.0.tool_use.caller: Extra inputs are not permitted",
    ),
    ["messages.*.content.*.tool_use.caller"],
  );
  // Adaptive thinking refused by a validator that knows only enabled and disabled.
  for (
    const message of [
      "thinking: Input tag 'adaptive' found using 'type' does not match any of the expected tags: 'disabled', 'enabled'",
      "thinking.type: Input should be 'enabled' or 'disabled'",
      "thinking: unknown variant `adaptive`, expected `enabled` or `disabled`",
    ]
  ) assert.deepEqual(refusedFieldsFromError(message), [ADAPTIVE_THINKING], message);
  // Other complaints about thinking are not that: a model that takes only adaptive, a budget.
  for (
    const message of [
      "thinking.type: 'enabled' is not supported for this model. Use 'adaptive' instead.",
      "thinking.enabled.budget_tokens: Field required when type is 'enabled'",
      "thinking.adaptive.display: Extra inputs are not permitted",
    ]
  ) {
    assert.ok(!refusedFieldsFromError(message)?.includes(ADAPTIVE_THINKING), message);
  }
  assert.equal(refusedFieldsFromError("messages: at least one message is required"), undefined);
  assert.equal(
    refusedFieldsFromError(
      "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
    ),
    undefined,
  );
});
