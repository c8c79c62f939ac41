// How Gemini words the refusals the proxy answers by itself rather than passing on.
import { positiveInt } from "./positive_int.ts";
import type { ContextOverflow } from "./types.ts";

/**
 * The output tokens Gemini's max_tokens refusal leaves: "it has a maxOutputTokens value of 32000
 * but the supported range is from 1 (inclusive) to 8193 (exclusive)".
 */
export function geminiOutputLimit(message: string): number | undefined {
  const end = positiveInt(
    /maxOutputTokens value of \d+ but the supported range is from \d+ \(inclusive\) to (\d+) \(exclusive\)/i
      .exec(message)?.[1],
  );
  return end && end > 1 ? end - 1 : undefined;
}

/**
 * Gemini's full context window: "The input token count (2000000) exceeds the maximum number of
 * tokens allowed (1048576)."
 */
export function geminiContextOverflow(message: string): ContextOverflow | undefined {
  // "The input token count (N) exceeds the maximum number of tokens allowed (M)", with or without
  // its figures or their brackets; Vertex: "input token count is N but model only supports up to M".
  const hit =
    /input token count(?: \(?(\d+)\)?)? exceeds the maximum number of tokens allowed(?: \(?(\d+)\)?)?/i
      .exec(message) ??
      /input token count is (\d+) but (?:the )?model only supports up to (\d+)/i.exec(message);
  return hit ? { tokens: positiveInt(hit[1]), max: positiveInt(hit[2]) } : undefined;
}
