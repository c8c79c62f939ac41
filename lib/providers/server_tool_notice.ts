// Server tools run on Anthropic's side. Web search has counterparts upstream (web_search.ts); the
// others (web fetch, code execution, tool search…) have none, and a model not told they are gone
// answers as if it had fetched the page or run the code.

/**
 * What to call a tool the translator could not offer, for the notice: undefined for web search
 * (handled on its own) and for anything that is no Anthropic tool with a type.
 */
export function unrunnableToolName(tool: unknown): string | undefined {
  const t = tool as { type?: unknown; name?: unknown; mcp_server_name?: unknown } | null;
  if (typeof t?.type !== "string" || t.type === "custom" || t.type.startsWith("web_search_")) {
    return undefined;
  }
  if (typeof t.name === "string" && t.name) return t.name;
  // Anthropic's MCP connector runs a server's tools, named only by the server.
  if (typeof t.mcp_server_name === "string") return `the tools of MCP server ${t.mcp_server_name}`;
  return t.type;
}

/**
 * The tools the upstream cannot run: those the translator left out, and the MCP connector's
 * servers (`mcp_servers`, the beta before `mcp_toolset`), whose tools Anthropic offers without the
 * request listing them. A server named both ways is named once.
 */
export function absentTools(leftOut: readonly string[], mcpServers: unknown): readonly string[] {
  if (!Array.isArray(mcpServers) || !mcpServers.length) return leftOut;
  const names = new Set(leftOut);
  for (const s of mcpServers) {
    if (typeof s?.name === "string" && s.name) names.add(`the tools of MCP server ${s.name}`);
  }
  return [...names];
}

/** Added to the system prompt when the request offers server tools the upstream cannot run. */
export function serverToolsNotice(names: readonly string[]): string {
  return "Note from the API proxy: these tools are not available with this upstream model: " +
    `${names.join(", ")}. Do not claim to have used them (fetched a page, run code…); ` +
    "answer from what you have and say what they would have been needed for.";
}
