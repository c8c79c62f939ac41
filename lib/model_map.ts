// Requested model → upstream model: exact name, then family, then default, else unchanged. A
// request that offers the web search tool first looks up `web_search`, so such requests can go to a
// model that searches (OpenAI's search models) while the rest stay on a general one.
const FAMILIES = ["haiku", "sonnet", "opus"] as const;

export const WEB_SEARCH_MODEL_KEY = "web_search";

export function mapModel(
  requested: string,
  models: Record<string, string> | undefined,
  webSearch = false,
): string {
  if (!models) return requested;
  if (webSearch && models[WEB_SEARCH_MODEL_KEY]) return models[WEB_SEARCH_MODEL_KEY];
  const exact = models[requested];
  if (exact) return exact;
  const lower = requested.toLowerCase();
  for (const family of FAMILIES) {
    if (lower.includes(family) && models[family]) return models[family];
  }
  return models.default ?? requested;
}
