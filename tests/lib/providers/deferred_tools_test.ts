// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { loadedToolNames, offered } from "../../../lib/providers/deferred_tools.ts";
import { LOADED } from "../../helpers/deferred_tools.ts";
import { build, request } from "../../helpers/openai_calls.ts";

Deno.test("deferred tools: loaded by a client tool's tool_reference, a server tool search, or tool_choice", () => {
  assert.deepEqual([...loadedToolNames({ model: "m", max_tokens: 1, messages: LOADED })], [
    "WebSearch",
  ]);
  const server: any = {
    model: "m",
    max_tokens: 1,
    tool_choice: { type: "tool", name: "NotebookEdit" },
    messages: [
      { role: "user", content: "find a tool" },
      {
        role: "assistant",
        content: [
          {
            type: "server_tool_use",
            id: "srvtoolu_1",
            name: "tool_search_tool_regex",
            input: { query: "fetch" },
          },
          {
            type: "tool_search_tool_result",
            tool_use_id: "srvtoolu_1",
            content: {
              type: "tool_search_tool_search_result",
              tool_references: [{ type: "tool_reference", tool_name: "WebFetch" }],
            },
          },
        ],
      },
    ],
  };
  assert.deepEqual([...loadedToolNames(server)].sort(), ["NotebookEdit", "WebFetch"]);
});

Deno.test("deferred tools: a tool is offered unless it is deferred and not loaded", () => {
  const loaded = new Set(["WebSearch"]);
  assert.equal(offered({ name: "Read" }, loaded), true);
  assert.equal(offered({ name: "WebSearch", defer_loading: true }, loaded), true);
  assert.equal(offered({ name: "WebFetch", defer_loading: true }, loaded), false);
  assert.equal(offered({ name: "Bash", defer_loading: false }, loaded), true);
});

Deno.test("deferred tools: behind Anthropic's server tool search, which no upstream here runs, they are offered from the start", () => {
  const tools: any[] = [
    { type: "tool_search_tool_bm25_20251119", name: "tool_search_tool_bm25" },
    { name: "lookup", input_schema: { type: "object" }, defer_loading: true },
    { name: "Read", input_schema: { type: "object" } },
  ];
  const body: any = {
    model: "m",
    max_tokens: 1,
    tools,
    messages: [{ role: "user", content: "hi" }],
  };
  assert.deepEqual([...loadedToolNames(body)], ["lookup"]);
  const sent = build(request({ tools })).tools.map((t: any) => t.function.name);
  assert.deepEqual(sent, ["lookup", "Read"]);
  // Behind the client's own search tool (Claude Code's ToolSearch) they wait to be loaded.
  const own = build(request({ tools: tools.slice(1) })).tools.map((t: any) => t.function.name);
  assert.deepEqual(own, ["Read"]);
});

Deno.test("deferred tools: offered from the start behind Anthropic's tool search, no more than a request takes", () => {
  const tools: any[] = [
    { type: "tool_search_tool_regex_20251119", name: "tool_search_tool_regex" },
    ...Array.from(
      { length: 10 },
      (_, i) => ({ name: `plain${i}`, input_schema: { type: "object" } }),
    ),
    ...Array.from({ length: 130 }, (_, i) => ({
      name: `deferred${i}`,
      input_schema: { type: "object" },
      defer_loading: true,
    })),
  ];
  const sent = build(request({ tools })).tools;
  // OpenAI refuses more than 128 functions: the tools not deferred, then deferred ones in order.
  assert.equal(sent.length, 128);
  assert.equal(sent[0].function.name, "plain0");
  assert.equal(sent.at(-1).function.name, "deferred117");
  // Those the history loaded or tool_choice names count first, whatever their place.
  const loaded = build(request({
    tools,
    tool_choice: { type: "tool", name: "deferred129" },
    messages: [
      { role: "user", content: "find" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "plain0", input: {} }] },
      {
        role: "user",
        content: [{
          type: "tool_result",
          tool_use_id: "t1",
          content: [{ type: "tool_reference", tool_name: "deferred128" }],
        }],
      },
    ],
  } as any)).tools.map((t: any) => t.function.name);
  assert.equal(loaded.length, 128);
  assert.ok(loaded.includes("deferred128") && loaded.includes("deferred129"));
  assert.ok(!loaded.includes("deferred116"));
});
