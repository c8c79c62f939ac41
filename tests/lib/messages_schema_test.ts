import assert from "node:assert/strict";
import {
  CountTokensRequestSchema,
  describeIssues,
  MessagesRequestSchema,
  plainlyValid,
} from "../../lib/messages_schema.ts";
import { claudeCodeFixtures } from "../helpers/fixtures.ts";

const base = {
  model: "claude-sonnet-4-5",
  max_tokens: 1024,
  messages: [{ role: "user", content: "Hi" }],
};

const valid: Array<Record<string, unknown>> = [
  base,
  { ...base, system: "Be brief", stream: true, temperature: 2, top_p: 0, top_k: 5 },
  { ...base, system: [{ type: "text", text: "Be brief", cache_control: { type: "ephemeral" } }] },
  { ...base, tools: [{ name: "get_weather", input_schema: { type: "object" } }] },
  { ...base, tools: [{ type: "mcp_toolset", mcp_server_name: "tickets" }] },
  { ...base, tool_choice: { type: "any" }, thinking: { type: "enabled", budget_tokens: 2048 } },
  { ...base, max_tokens: 0, stop_sequences: ["\n\nHuman:"] },
  { ...base, messages: [{ role: "system", content: [{ type: "text", text: "x" }] }] },
];

const invalid: Array<[string, Record<string, unknown>]> = [
  ["no model", { ...base, model: undefined }],
  ["empty model", { ...base, model: "" }],
  ["null model", { ...base, model: null }],
  ["no messages", { ...base, messages: undefined }],
  ["messages not an array", { ...base, messages: {} }],
  ["unknown role", { ...base, messages: [{ role: "tool", content: "x" }] }],
  ["content a number", { ...base, messages: [{ role: "user", content: 5 }] }],
  ["message not an object", { ...base, messages: ["Hi"] }],
  ["system block without text", { ...base, system: [{ type: "text" }] }],
  ["system null", { ...base, system: null }],
  ["tool without a name", { ...base, tools: [{ input_schema: {} }] }],
  ["custom tool without a name", { ...base, tools: [{ type: "custom", input_schema: {} }] }],
  ["tool with a numeric type", { ...base, tools: [{ name: "get_weather", type: 5 }] }],
  ["toolset with a numeric name", { ...base, tools: [{ type: "mcp_toolset", name: 5 }] }],
  ["unknown tool_choice", { ...base, tool_choice: { type: "sometimes" } }],
  ["thinking null", { ...base, thinking: null }],
  ["no max_tokens", { ...base, max_tokens: undefined }],
  ["negative max_tokens", { ...base, max_tokens: -1 }],
  ["fractional max_tokens", { ...base, max_tokens: 1.5 }],
  ["max_tokens as text", { ...base, max_tokens: "100" }],
  ["stream as text", { ...base, stream: "true" }],
  ["stop_sequences of numbers", { ...base, stop_sequences: [1] }],
  ["temperature above 2", { ...base, temperature: 3 }],
  ["top_p above 1", { ...base, top_p: 1.5 }],
  ["negative top_k", { ...base, top_k: -1 }],
  ["stream null", { ...base, stream: null }],
];

Deno.test("the quick check passes valid requests, Claude Code's included, as zod does", () => {
  const all = [...valid, ...claudeCodeFixtures().map((f) => f.body)];
  for (const body of all) {
    const withMax = body.max_tokens !== undefined;
    const schema = withMax ? MessagesRequestSchema : CountTokensRequestSchema;
    assert.ok(schema.safeParse(body).success, JSON.stringify(body).slice(0, 200));
    assert.ok(plainlyValid(body, withMax), JSON.stringify(body).slice(0, 200));
  }
});

Deno.test("the quick check sends every invalid request on to zod, which refuses it", () => {
  for (const [what, body] of invalid) {
    // As it arrives: a member set to undefined above is one the client left out.
    const sent = JSON.parse(JSON.stringify(body));
    assert.equal(plainlyValid(sent, true), false, what);
    assert.equal(MessagesRequestSchema.safeParse(sent).success, false, what);
  }
});

Deno.test("a refusal says what the field should have been", () => {
  for (const system of [null, 5, [{ type: "text" }]]) {
    const result = MessagesRequestSchema.safeParse({ ...base, system });
    assert.equal(result.success, false);
    assert.match(describeIssues(result.error!.issues), /system.*string.*text blocks/);
  }
});
