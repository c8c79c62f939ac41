import type { Usage } from "../anthropic.ts";
import { countOr0, isObject } from "../json_value.ts";

/** `input_tokens` excludes cached tokens; thoughts count as output, as Anthropic bills them. */
export function usageFromGemini(meta: unknown): Partial<Usage> {
  if (!isObject(meta)) return {};
  const cached = countOr0(meta.cachedContentTokenCount);
  return {
    input_tokens: Math.max(0, countOr0(meta.promptTokenCount) - cached) +
      countOr0(meta.toolUsePromptTokenCount),
    output_tokens: countOr0(meta.candidatesTokenCount) + countOr0(meta.thoughtsTokenCount),
    cache_read_input_tokens: cached,
    cache_creation_input_tokens: 0,
    output_tokens_details: { thinking_tokens: countOr0(meta.thoughtsTokenCount) },
  };
}
