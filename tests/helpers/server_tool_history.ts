// An assistant turn as an Anthropic upstream answers with its server tools (search, fetch, code
// execution, tool search) and a client tool call after them, for the tests that send it back
// through a translated upstream.
import type Anthropic from "@anthropic-ai/sdk";

export const CLIENT_CALL_ID = "toolu_01Hd8Sbq4rXkVnG5PmJ2wQeT";

export const SERVER_TOOL_TURN: Anthropic.ContentBlockParam[] = [
  { type: "text", text: "Let me look that up." },
  {
    type: "server_tool_use",
    id: "srvtoolu_01Wsearch",
    name: "web_search",
    input: { query: "deno 2 release date" },
  },
  {
    type: "web_search_tool_result",
    tool_use_id: "srvtoolu_01Wsearch",
    content: [
      {
        type: "web_search_result",
        url: "https://deno.com/blog/v2.0",
        title: "Announcing Deno 2",
        encrypted_content: "EqQBCioIAhgBIiQ0ZjRk",
        page_age: "October 9, 2024",
      },
      {
        type: "web_search_result",
        url: "https://en.wikipedia.org/wiki/Deno_(software)",
        title: "Deno (software)",
        encrypted_content: "Eq0BCioIAhgBIiQ5Y2Fm",
        page_age: null,
      },
    ],
  },
  {
    type: "server_tool_use",
    id: "srvtoolu_01Wfetch",
    name: "web_fetch",
    input: { url: "https://deno.com/blog/v2.0" },
  },
  {
    type: "web_fetch_tool_result",
    tool_use_id: "srvtoolu_01Wfetch",
    content: {
      type: "web_fetch_result",
      url: "https://deno.com/blog/v2.0",
      retrieved_at: "2025-09-10T12:00:00Z",
      content: {
        type: "document",
        title: "Announcing Deno 2",
        source: {
          type: "text",
          media_type: "text/plain",
          data: "Deno 2 is backwards compatible with Node and npm.",
        },
        citations: { enabled: true },
      },
    },
  },
  {
    type: "server_tool_use",
    id: "srvtoolu_01Wbash",
    name: "bash_code_execution",
    input: { command: "python3 -c 'print(2024 - 2018)'" },
  },
  {
    type: "bash_code_execution_tool_result",
    tool_use_id: "srvtoolu_01Wbash",
    content: {
      type: "bash_code_execution_result",
      stdout: "6\n",
      stderr: "",
      return_code: 0,
      content: [],
    },
  },
  {
    type: "server_tool_use",
    id: "srvtoolu_01Wtools",
    name: "tool_search_tool_regex",
    input: { query: "weather" },
  },
  {
    type: "tool_search_tool_result",
    tool_use_id: "srvtoolu_01Wtools",
    content: {
      type: "tool_search_tool_search_result",
      tool_references: [{ type: "tool_reference", tool_name: "get_weather" }],
    },
  },
  { type: "text", text: "Deno 2 came out six years after Deno 1 began." },
  { type: "tool_use", id: CLIENT_CALL_ID, name: "get_weather", input: { city: "Paris" } },
];

/** What the model must read of that turn, in this order. */
export const SERVER_TOOL_TURN_SAYS = [
  "Let me look that up.",
  '"deno 2 release date"',
  "Announcing Deno 2 — https://deno.com/blog/v2.0 (October 9, 2024)",
  "https://en.wikipedia.org/wiki/Deno_(software)",
  "Deno 2 is backwards compatible with Node and npm.",
  "python3 -c 'print(2024 - 2018)'",
  "exit code 0",
  "6",
  '"weather"',
  "get_weather",
  "Deno 2 came out six years after Deno 1 began.",
];

/** Throws unless `text` holds each of `says` in order. */
export function assertSaysInOrder(text: string, says: string[]): void {
  let at = 0;
  for (const s of says) {
    const i = text.indexOf(s, at);
    if (i === -1) throw new Error(`${JSON.stringify(s)} not found after ${at} in:\n${text}`);
    at = i + s.length;
  }
}
