// Claude Code opens its system prompt with a line that changes on every request
// ("x-anthropic-billing-header: cc_version=…; cch=…;"): sent to an upstream, it would defeat that
// upstream's prefix caching, and it means nothing there.
const BILLING_PREFIX = "x-anthropic-billing-header:";

/** System text without a leading billing line; whatever follows the line stays. */
export function withoutBillingLine(text: string): string {
  if (!text.trimStart().startsWith(BILLING_PREFIX)) return text;
  const newline = text.indexOf("\n");
  return newline < 0 ? "" : text.slice(newline + 1);
}
