// The headers that say which client an upstream serves. Some upstreams admit only the coding
// agents they know, by user-agent (Kimi For Coding answers anything else 403), and an
// Anthropic-compatible one is owed what Claude Code sends Anthropic itself: each goes on as the
// client sent it, never the client's credentials.

/** For Anthropic-compatible upstreams: the identity Claude Code and the SDKs send Anthropic. */
export const ANTHROPIC_CLIENT_HEADERS = [
  "user-agent",
  "x-app",
  "x-claude-code-session-id",
  "anthropic-dangerous-direct-browser-access",
  "x-stainless-arch",
  "x-stainless-lang",
  "x-stainless-os",
  "x-stainless-package-version",
  "x-stainless-retry-count",
  "x-stainless-runtime",
  "x-stainless-runtime-version",
  "x-stainless-timeout",
  "x-stainless-helper-method",
];

/** `headers` with the client's user-agent, when it sent one. */
export function withClientAgent(
  headers: Record<string, string>,
  client: Headers | undefined,
): Record<string, string> {
  const agent = client?.get("user-agent");
  if (agent) headers["user-agent"] = agent;
  return headers;
}

/**
 * The user-agent of the proxy's own key checks (the admin test, the disabled-key check): an
 * upstream that admits only coding agents would refuse a check without one, and take a good key
 * for a bad one.
 */
export const KEY_CHECK_AGENT = "claude-cli/2.1.197 (external, cli)";
