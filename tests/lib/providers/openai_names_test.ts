import assert from "node:assert/strict";
import { build, request } from "../../helpers/openai_calls.ts";

Deno.test("request: tool ids longer than OpenAI's 40 characters are shortened the same on both sides", () => {
  const id = "toolu_" + "x".repeat(50);
  const body = build(request({
    messages: [
      { role: "user", content: "go" },
      { role: "assistant", content: [{ type: "tool_use", id, name: "Bash", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: id, content: "ok" }] },
    ],
  }));
  const callId = body.messages[1].tool_calls[0].id;
  assert.ok(callId.length <= 40);
  assert.equal(body.messages[2].tool_call_id, callId);
});
