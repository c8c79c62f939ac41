import assert from "node:assert/strict";
import {
  serverToolsNotice,
  unrunnableToolName,
} from "../../../lib/providers/server_tool_notice.ts";

Deno.test("server tool notice: names the server tools but web search, which has its own", () => {
  assert.equal(unrunnableToolName({ type: "web_fetch_20250910", name: "web_fetch" }), "web_fetch");
  assert.equal(
    unrunnableToolName({ type: "tool_search_tool_regex_20251119" }),
    "tool_search_tool_regex_20251119",
  );
  assert.equal(unrunnableToolName({ type: "web_search_20250305", name: "web_search" }), undefined);
  assert.equal(unrunnableToolName({ type: "custom", name: "x" }), undefined);
  assert.equal(unrunnableToolName({ name: "x" }), undefined);
  assert.equal(unrunnableToolName(null), undefined);
  assert.equal(
    unrunnableToolName({ type: "mcp_toolset", mcp_server_name: "tickets" }),
    "the tools of MCP server tickets",
  );
  const notice = serverToolsNotice(["web_fetch", "code_execution"]);
  assert.match(notice, /not available with this upstream model: web_fetch, code_execution\./);
  assert.match(notice, /Do not claim to have used them/);
});
