import assert from "node:assert/strict";
import {
  absentTools,
  serverToolsNotice,
  unrunnableToolName,
} from "../../../lib/providers/server_tool_notice.ts";
import { build as buildGemini } from "../../helpers/gemini_calls.ts";
import { build, request } from "../../helpers/openai_calls.ts";

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

Deno.test("server tool notice: the MCP connector's servers are named for OpenAI and Gemini upstreams", () => {
  assert.deepEqual(
    absentTools(["web_fetch"], [{ type: "url", url: "https://x", name: "tickets" }]),
    [
      "web_fetch",
      "the tools of MCP server tickets",
    ],
  );
  // Named by an mcp_toolset and by mcp_servers alike: once.
  assert.deepEqual(
    absentTools(["the tools of MCP server tickets"], [{ url: "https://x", name: "tickets" }]),
    ["the tools of MCP server tickets"],
  );
  assert.deepEqual(absentTools([], [{ url: "https://x" }, null]), []);
  assert.deepEqual(absentTools([], undefined), []);
  const body = request({
    system: "Be brief.",
    mcp_servers: [{ type: "url", url: "https://mcp.example/sse", name: "tickets" }],
  });
  const openai = build(body);
  assert.match(JSON.stringify(openai.messages[0]), /tools of MCP server tickets/);
  const gemini = buildGemini(body);
  assert.match(
    gemini.systemInstruction.parts[0].text,
    /^Be brief\.\n\n.*tools of MCP server tickets/s,
  );
  // Nothing said where there is nothing to say.
  assert.doesNotMatch(
    JSON.stringify(build(request({ system: "Be brief." })).messages),
    /Note from/,
  );
});
