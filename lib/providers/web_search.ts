// Anthropic's web search is a server tool: Anthropic runs it. A translated upstream either runs a
// search of its own (Gemini's googleSearch, OpenAI's search models), or the model is told there is
// none, so it says so instead of answering as if it had searched.

/** Whether the request offers Anthropic's web search tool (`web_search_20250305` and later). */
export function wantsWebSearch(tools: unknown): boolean {
  return Array.isArray(tools) &&
    tools.some((t) => typeof t?.type === "string" && t.type.startsWith("web_search_"));
}

/** Added to the system prompt when the upstream cannot search for this request. */
export const WEB_SEARCH_UNAVAILABLE =
  "Note from the API proxy: the web search tool is not available with this upstream model. " +
  "Do not claim to have searched the web; answer from what you know and say that no search was run.";
