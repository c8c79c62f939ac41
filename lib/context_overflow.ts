// Claude Code compacts the conversation when the API says "prompt is too long: N tokens > M
// maximum". Other upstreams word a full context window their own way (each provider reads its
// own wordings); it is said Anthropic's way, with their words kept after it.
import type { Provider } from "./providers/types.ts";

/** The upstream's context-overflow message in Anthropic's words, or undefined for any other. */
export function promptTooLong(
  provider: Pick<Provider, "contextOverflow">,
  message: string,
): string | undefined {
  if (/^prompt is too long/i.test(message)) return undefined;
  const hit = provider.contextOverflow?.(message);
  if (!hit) return undefined;
  const figures = hit.tokens && hit.max ? `: ${hit.tokens} tokens > ${hit.max} maximum` : "";
  return `prompt is too long${figures} (upstream: ${message})`;
}
