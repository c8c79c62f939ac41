// Requested model → upstream model: exact name, then family, then default, else unchanged. A
// request that offers the web search tool first looks up `web_search`, so such requests can go to a
// model that searches (OpenAI's search models) while the rest stay on a general one.
const FAMILIES = ["haiku", "sonnet", "opus"] as const;

const WEB_SEARCH_MODEL_KEY = "web_search";

export function mapModel(
  requested: string,
  models: Record<string, string> | undefined,
  webSearch = false,
): string {
  if (!models) return requested;
  // Own entries only: the client names the model, and "constructor" is a member of every object.
  const entry = (name: string) => Object.hasOwn(models, name) ? models[name] : undefined;
  const search = webSearch ? entry(WEB_SEARCH_MODEL_KEY) : undefined;
  if (search) return search;
  const exact = entry(requested);
  if (exact) return exact;
  const lower = requested.toLowerCase();
  for (const family of FAMILIES) {
    const mapped = lower.includes(family) ? entry(family) : undefined;
    if (mapped) return mapped;
  }
  return entry("default") ?? requested;
}
