// Thinking blocks the proxy made up for translated upstreams carry signatures only the proxy
// understands; a real Anthropic upstream would reject them as invalid.
import { SIGNATURE_PREFIX } from "./gemini_thought_signatures.ts";
import { OPENAI_THINKING_SIGNATURE } from "./openai_answer_fields.ts";

export function isSyntheticSignature(signature: unknown): boolean {
  return typeof signature === "string" &&
    (signature === OPENAI_THINKING_SIGNATURE ||
      signature.startsWith(`${OPENAI_THINKING_SIGNATURE}.`) ||
      signature.startsWith(SIGNATURE_PREFIX));
}

/** Quick check on the raw body text, so the common case costs no parsing. */
export function mayHoldSyntheticThinking(raw: string): boolean {
  return raw.includes(OPENAI_THINKING_SIGNATURE) || raw.includes(`"${SIGNATURE_PREFIX}`);
}
