import assert from "node:assert/strict";
import type { Message, MessagesRequest } from "../../../lib/anthropic.ts";
import { turnsOf } from "../../../lib/providers/message_turns.ts";

Deno.test("turnsOf: a conversation with nothing to merge or fold is the client's own array", () => {
  const messages: MessagesRequest["messages"] = [
    { role: "user", content: "one" },
    { role: "system", content: "note" },
    { role: "assistant", content: "two" },
  ];
  assert.equal(turnsOf(messages, false).turns, messages);
  const folded = turnsOf(messages, true).turns;
  assert.notEqual(folded, messages);
  // Only the merged turn is new; the client's messages are left as they were.
  assert.equal(folded[1], messages[2]);
  assert.equal(messages[0].content, "one");
  assert.equal(messages.length, 3);
});

Deno.test("turnsOf: system messages fold into the user turn beside them, after its tool results", () => {
  const messages: Message[] = [
    { role: "system", content: "before any turn" },
    { role: "user", content: "hi" },
    { role: "system", content: "agent types: a, b" },
    { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Read", input: {} }] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }] },
    { role: "system", content: "a late reminder" },
  ] as Message[];
  const { turns, lead } = turnsOf(messages, true);
  assert.deepEqual(lead, ["before any turn"]);
  assert.deepEqual(turns.map((m) => m.role), ["user", "assistant", "user"]);
  const first = turns[0].content as Array<{ type: string; text?: string }>;
  assert.deepEqual(first.map((b) => b.type), ["text", "text"]);
  assert.match(first[1].text!, /^<system-reminder>\nagent types: a, b\n<\/system-reminder>$/);
  const last = turns[2].content as Array<{ type: string }>;
  assert.deepEqual(last.map((b) => b.type), ["tool_result", "text"]);
});

Deno.test("turnsOf: a system message between a call and its result goes after the result", () => {
  const messages = [
    { role: "user", content: "hi" },
    { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Read", input: {} }] },
    { role: "system", content: "mid" },
    {
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "t1", content: "ok" },
        { type: "text", text: "and more" },
      ],
    },
  ] as Message[];
  const { turns } = turnsOf(messages, true);
  assert.deepEqual(turns.map((m) => m.role), ["user", "assistant", "user"]);
  const last = turns[2].content as Array<{ type: string; text?: string }>;
  assert.deepEqual(last.map((b) => b.type), ["tool_result", "text", "text"]);
  assert.match(last[1].text!, /mid/);
  assert.equal(last[2].text, "and more");
});
