import assert from "node:assert/strict";
import { MAX_TOOL_TEXT, serverToolText } from "../../../lib/providers/server_tool_history.ts";

Deno.test("a fetched page longer than the limit is cut, between characters, saying how much was left out", () => {
  const page = "a".repeat(MAX_TOOL_TEXT - 1) + "😀" + "b".repeat(500);
  const text = serverToolText({
    type: "web_fetch_tool_result",
    tool_use_id: "srvtoolu_1",
    content: {
      type: "web_fetch_result",
      url: "https://big.test/",
      content: { type: "document", source: { type: "text", media_type: "text/plain", data: page } },
    },
  })!;
  assert.ok(text.startsWith("[Fetched page https://big.test/:\naaa"));
  assert.ok(text.length < MAX_TOOL_TEXT + 100);
  assert.ok(!text.includes("\ud83d"), "no half of a surrogate pair");
  assert.match(text, /\[… 502 more characters left out\]\]$/);
});

Deno.test("failures, encrypted output and PDFs say what happened instead of disappearing", () => {
  const cases: [Record<string, unknown>, string][] = [
    [
      {
        type: "web_search_tool_result",
        tool_use_id: "s",
        content: { type: "web_search_tool_result_error", error_code: "max_uses_exceeded" },
      },
      "[Web search failed: max_uses_exceeded]",
    ],
    [
      {
        type: "web_fetch_tool_result",
        tool_use_id: "s",
        content: { type: "web_fetch_tool_result_error", error_code: "url_not_accessible" },
      },
      "[Fetching the page failed: url_not_accessible]",
    ],
    [
      {
        type: "web_fetch_tool_result",
        tool_use_id: "s",
        content: {
          type: "web_fetch_result",
          url: "https://x.test/a.pdf",
          content: {
            type: "document",
            source: { type: "base64", media_type: "application/pdf", data: "JVBERi0" },
          },
        },
      },
      "[Fetched page https://x.test/a.pdf:\n(a file of type application/pdf, not shown)]",
    ],
    [
      {
        type: "code_execution_tool_result",
        tool_use_id: "s",
        content: {
          type: "encrypted_code_execution_result",
          encrypted_stdout: "ZW5j",
          stderr: "warning: x",
          return_code: 1,
          content: [{ type: "code_execution_output", file_id: "file_011" }],
        },
      },
      "[Code output (exit code 1):\n(output encrypted, not shown)\nstderr:\nwarning: x\n" +
      "files written: file_011]",
    ],
    [
      {
        type: "text_editor_code_execution_tool_result",
        tool_use_id: "s",
        content: {
          type: "text_editor_code_execution_tool_result_error",
          error_code: "file_not_found",
          error_message: "no /tmp/a.txt",
        },
      },
      "[Text editor failed: file_not_found: no /tmp/a.txt]",
    ],
    [
      { type: "server_tool_use", id: "s", name: "code_execution", input: { code: "print(1)" } },
      "[Ran code:\nprint(1)]",
    ],
    [
      {
        type: "server_tool_use",
        id: "s",
        name: "text_editor_code_execution",
        input: { command: "view", path: "/tmp/a.txt" },
      },
      '[Used the text_editor_code_execution tool: {"command":"view","path":"/tmp/a.txt"}]',
    ],
    [
      {
        type: "mcp_tool_use",
        id: "mcptoolu_1",
        name: "list_tickets",
        server_name: "tickets",
        input: { state: "open" },
      },
      '[Called list_tickets on MCP server tickets: {"state":"open"}]',
    ],
    [
      {
        type: "mcp_tool_result",
        tool_use_id: "mcptoolu_1",
        is_error: true,
        content: [{ type: "text", text: "401 from the server" }],
      },
      "[MCP tool error:\n401 from the server]",
    ],
    [
      {
        type: "tool_search_tool_result",
        tool_use_id: "s",
        content: {
          type: "tool_search_tool_search_result",
          tool_references: [{ type: "tool_reference", tool_name: "get_weather" }, {}, {
            type: "tool_reference",
            tool_name: "get_time",
          }],
        },
      },
      "[Tools found: get_weather, get_time]",
    ],
    [
      {
        type: "web_fetch_tool_result",
        tool_use_id: "s",
        content: {
          type: "web_fetch_result",
          url: "https://x.test/",
          content: {
            type: "document",
            title: "X",
            source: {
              type: "content",
              content: [{ type: "text", text: "one" }, 5, { text: "two" }],
            },
          },
        },
      },
      '[Fetched page https://x.test/ "X":\none\ntwo]',
    ],
    [
      { type: "container_upload", file_id: "file_01" },
      "[File file_01 uploaded to the code execution container]",
    ],
  ];
  for (const [block, said] of cases) assert.equal(serverToolText(block), said);
});

Deno.test("blocks that are no server tool's are left to the caller", () => {
  for (const type of ["text", "tool_use", "tool_result", "thinking", "image", "made_up"]) {
    assert.equal(serverToolText({ type, text: "x" }), undefined);
  }
});
