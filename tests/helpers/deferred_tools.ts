// Claude Code's tool search (2.1.3xx): most tools deferred behind its ToolSearch tool, a
// placeholder never to be called, and a tool loaded by a tool_reference in ToolSearch's result.
// deno-lint-ignore-file no-explicit-any

/** Long enough (over 2 KB) that the proxy remembers this tools text, as it does Claude Code's. */
const READ_DESCRIPTION = "Reads a file from the local filesystem. ".repeat(60);

export const DEFERRED_TOOLS: any[] = [
  {
    name: "Read",
    description: READ_DESCRIPTION,
    input_schema: {
      type: "object",
      properties: { file_path: { type: "string" } },
      required: ["file_path"],
    },
  },
  {
    name: "ToolSearch",
    description: "Fetches full schema definitions for deferred tools so they can be called.",
    input_schema: {
      type: "object",
      properties: { query: { type: "string" } },
      required: ["query"],
    },
  },
  {
    name: "WebSearch",
    description: "Searches the web.",
    input_schema: {
      type: "object",
      properties: { query: { type: "string" } },
      required: ["query"],
    },
    defer_loading: true,
  },
  {
    name: "DeferredToolPlaceholder",
    description:
      "Reserved placeholder that keeps deferred tool loading active; never call this tool.",
    input_schema: { type: "object", properties: {} },
    defer_loading: true,
  },
];

export const ASK = { role: "user", content: "What won Euro 2024? Search the web." };

/** The conversation after ToolSearch loaded WebSearch, as Claude Code sends it. */
export const LOADED: any[] = [
  ASK,
  {
    role: "assistant",
    content: [{
      type: "tool_use",
      id: "toolu_search01",
      name: "ToolSearch",
      input: { query: "select:WebSearch" },
      caller: { type: "direct" },
    }],
  },
  {
    role: "user",
    content: [
      {
        type: "tool_result",
        tool_use_id: "toolu_search01",
        content: [{ type: "tool_reference", tool_name: "WebSearch" }],
      },
      { type: "text", text: "Tool loaded." },
    ],
  },
];
