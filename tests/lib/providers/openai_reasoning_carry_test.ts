import assert from "node:assert/strict";
import {
  carriedIn,
  carrySignature,
  ReasoningDetails,
} from "../../../lib/providers/openai_reasoning_carry.ts";
import { OPENAI_THINKING_SIGNATURE } from "../../../lib/providers/openai_answer_fields.ts";
import { isSyntheticSignature } from "../../../lib/providers/synthetic_signature.ts";

Deno.test("a thinking signature carries omitted reasoning and OpenRouter's details back intact", () => {
  const details = [{ type: "reasoning.encrypted", data: "c2ln/+==", id: "tool_1", index: 0 }];
  const text = 'Reasoning in ünïcode, with "quotes" and\nlines 🧠';
  const signature = carrySignature({ text, details });
  // Only characters a signature can hold anywhere (no padding, no slash).
  assert.match(signature, /^gateway-openai-reasoning\.[A-Za-z0-9_-]+$/);
  assert.deepEqual(carriedIn(signature), { text, details });
  // Nothing to carry: the plain signature clients of earlier versions hold too.
  assert.equal(carrySignature({ text: "", details: [] }), OPENAI_THINKING_SIGNATURE);
  assert.equal(carriedIn(OPENAI_THINKING_SIGNATURE), undefined);
  // Damaged or foreign signatures carry nothing, and do not throw.
  assert.equal(carriedIn(`${OPENAI_THINKING_SIGNATURE}.%%%`), undefined);
  assert.equal(carriedIn("EqQBCkgIARABGAIiQL"), undefined);
  // An Anthropic upstream never gets them.
  assert.ok(isSyntheticSignature(signature));
  assert.ok(!isSyntheticSignature("gateway-openai-reasoningX"));
});

Deno.test("streamed reasoning details are put together by index, text appended and the rest taken as it comes", () => {
  const acc = new ReasoningDetails();
  acc.push([{ type: "reasoning.text", text: "Check ", format: "anthropic-claude-v1", index: 0 }]);
  acc.push([{ type: "reasoning.text", text: "Oslo.", index: 0 }]);
  acc.push([{ type: "reasoning.text", signature: "EqQB", index: 0 }, null, "junk"]);
  acc.push([{ type: "reasoning.encrypted", data: "ZGF0YQ", id: "tool_1", index: 1 }]);
  assert.equal(acc.size, 2);
  assert.deepEqual(acc.take(), [
    {
      type: "reasoning.text",
      text: "Check Oslo.",
      format: "anthropic-claude-v1",
      signature: "EqQB",
      index: 0,
    },
    { type: "reasoning.encrypted", data: "ZGF0YQ", id: "tool_1", index: 1 },
  ]);
  assert.equal(acc.size, 0);
});
