// How Anthropic and the APIs that copy it (Bedrock, Vertex, other vendors) word the refusals the
// proxy answers by itself rather than passing on.
import { positiveInt } from "./positive_int.ts";
import { EVERY_BETA } from "../refused_betas.ts";
import { ADAPTIVE_THINKING, SYSTEM_MESSAGES } from "../refused_fields.ts";

/** The flags a 400's message says were refused, among those sent; undefined when it is not that. */
export function refusedBetasFromError(whole: string, sent: string[]): string[] | undefined {
  if (sent.length === 0) return undefined;
  // Refusals are a sentence; past that the lazy match below would take seconds to fail.
  const message = whole.slice(0, 4096);
  // Anthropic and Vertex: "Unexpected value(s) `a`, `b` for the `anthropic-beta` header."
  const unexpected = /Unexpected value\(s\) (.+?) for the `anthropic-beta` header/i.exec(message);
  if (unexpected) {
    const named = [...unexpected[1].matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    const refused = sent.filter((flag) => named.includes(flag));
    return refused.length ? refused : undefined;
  }
  if (!/beta/i.test(message)) return undefined;
  const named = sent.filter((flag) => message.includes(flag));
  if (named.length) return named;
  // Bedrock: "invalid beta flag", naming none.
  return /invalid beta|unsupported beta|beta flag/i.test(message) ? [EVERY_BETA] : undefined;
}

/**
 * Whether a 400 refuses the thinking blocks of the history: signatures another server made
 * ("messages.1.content.0: Invalid `signature` in `thinking` block"), none at all, a tool loop's
 * turn without its opening thinking block, or the last turn's thinking changed since it was
 * written ("`thinking` or `redacted_thinking` blocks in the latest assistant message cannot be
 * modified", which otherwise stops a Claude Code session for good). The client sent them, so no
 * other key would take them.
 */
export function refusedThinkingFromError(whole: string): boolean | "off" {
  const message = whole.slice(0, 4096);
  // DeepSeek's, for any earlier tool turn without its thinking (one a translated upstream
  // answered, whose thinking no other server can take): only thinking off passes.
  if (/\bthinking\b.*must be passed back/i.test(message)) return "off";
  return (/\bsignature\b/i.test(message) && /\bthinking\b/i.test(message)) ||
    /must start with a thinking block/i.test(message) ||
    /thinking`? blocks? .*cannot be modified/i.test(message) ||
    /\binvalid\b.*\bredacted_thinking\b/i.test(message);
}

/**
 * The output tokens Anthropic's max_tokens refusal names: "max_tokens: 64000 > 32000, which is the
 * maximum allowed number of output tokens for claude-x".
 */
export function anthropicOutputLimit(message: string): number | undefined {
  return positiveInt(
    /> (\d+), which is the maximum allowed number of output tokens/i.exec(message)?.[1],
  );
}

/**
 * The body fields a 400 says the upstream does not know, as patterns for `dropFields` (indices
 * made `*`): "context_management: Extra inputs are not permitted", "tools.3.custom.defer_loading:
 * …" from Vertex and the gateways that copy Anthropic's validation, which lag behind the fields
 * Claude Code sends. Undefined when it is not that.
 */
export function refusedFieldsFromError(whole: string): string[] | undefined {
  const message = whole.slice(0, 4096);
  const paths = new Set<string>();
  if (refusesAdaptive(message)) paths.add(ADAPTIVE_THINKING);
  // pydantic's "messages.1.role: Input should be 'user' or 'assistant'", Anthropic's own
  // "Unexpected role \"system\"" without the beta that allows it.
  if (
    /\brole\b[^\n]*Input should be 'user' or 'assistant'|Unexpected role\W+system/i.test(message)
  ) {
    paths.add(SYSTEM_MESSAGES);
  }
  for (
    const m of message.matchAll(
      /(?<![\w.-])([A-Za-z_][\w-]*(?:\.[\w-]+)*): Extra inputs are not permitted/g,
    )
  ) {
    paths.add(m[1].replace(/(^|\.)\d+(?=\.|$)/g, "$1*"));
  }
  return paths.size ? [...paths] : undefined;
}

/**
 * Whether a 400 refuses adaptive thinking itself, in the words of validators that predate it:
 * pydantic's union ("thinking: Input tag 'adaptive' found using 'type' does not match any of the
 * expected tags: 'disabled', 'enabled'") or literal ("thinking.type: Input should be 'enabled' or
 * 'disabled'"), serde's ("unknown variant `adaptive`, expected `enabled` or `disabled`"). Not a
 * refusal of `enabled` that asks for adaptive, nor another complaint about thinking.
 */
function refusesAdaptive(message: string): boolean {
  if (!/\bthinking\b/.test(message)) return false;
  if (/\b(?:tag|variant|value)\s+['"`]adaptive['"`]/i.test(message)) return true;
  return /['"`]enabled['"`]/.test(message) && /['"`]disabled['"`]/.test(message) &&
    !/adaptive/i.test(message);
}
