// A tool's call and its result next turn, and a server tool's find and the question after it,
// through the SDK: round trips every upstream kind must carry, whatever its wire format (each test
// then checks what its fake saw).
import type Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";

type Api = Pick<Anthropic["messages"], "create" | "stream">;

/** Asks for a call to `name` with `input` (the fakes call what the prompt names), answers it. */
export async function toolRoundTrip(
  api: Api | Anthropic["beta"]["messages"],
  tools: Anthropic.ToolUnion[] | Anthropic.Beta.BetaToolUnion[],
  name: string,
  input: Record<string, unknown>,
  stream: boolean,
): Promise<void> {
  // deno-lint-ignore no-explicit-any
  const messages = api as any;
  const ask = {
    model: "claude-sonnet-test",
    max_tokens: 200,
    tools,
    messages: [
      { role: "user", content: `use tool ${name} with ${JSON.stringify(input)}` },
    ] as unknown[],
  };
  const send = async (body: typeof ask) =>
    stream ? await messages.stream(body).finalMessage() : await messages.create(body);
  const first = await send(ask);
  assert.equal(first.stop_reason, "tool_use", JSON.stringify(first.content));
  const call = first.content.find((b: { type: string }) => b.type === "tool_use");
  assert.equal(call.name, name);
  assert.deepEqual(call.input, input);
  const second = await send({
    ...ask,
    messages: [
      ...ask.messages,
      { role: "assistant", content: first.content },
      {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: call.id, content: "done: 42" }],
      },
    ],
  });
  assert.match(second.content[0].text, /done: 42/);
}

/**
 * A web search answered (streamed or not), then a follow-up question with that answer in the
 * history and no tools: the upstream's last request holds what the search found, for the caller
 * to check.
 */
export async function searchThenFollowUp(
  messages: Api,
  model: string,
  stream: boolean,
): Promise<void> {
  const ask = {
    model,
    max_tokens: 1000,
    messages: [
      { role: "user", content: "Perform a web search for the query: euro 2024" },
    ] as Anthropic.MessageParam[],
    tools: [{ type: "web_search_20250305" as const, name: "web_search" as const }],
  };
  const first = stream ? await messages.stream(ask).finalMessage() : await messages.create(ask);
  assert.ok(first.content.some((b) => b.type === "web_search_tool_result"));
  const { tools: _tools, ...withoutTools } = ask;
  const next = await messages.create({
    ...withoutTools,
    messages: [
      ...ask.messages,
      { role: "assistant", content: first.content },
      { role: "user", content: "Which page did you find first?" },
    ],
  });
  assert.equal(next.stop_reason, "end_turn");
}
