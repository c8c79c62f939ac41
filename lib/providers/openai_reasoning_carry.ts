// Reasoning a server needs back in later requests that a thinking block's text cannot hold:
// DeepSeek's and Kimi's when the client asked for thinking without its text (`display:
// "omitted"`), OpenRouter's `reasoning_details` (signatures, encrypted reasoning: Gemini 3 through
// OpenRouter refuses a tool loop without them). It rides in the block's signature, which clients
// send back verbatim, as Anthropic's own signature carries its encrypted thinking.
import { b64urlToText, textToB64url } from "../base64url.ts";
import { OPENAI_THINKING_SIGNATURE } from "./openai_answer_fields.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

export interface CarriedReasoning {
  /** The reasoning's text, when the client's block does not show it. */
  text?: string;
  /** OpenRouter's `reasoning_details`, whole. */
  details?: Json[];
}

const CARRYING = `${OPENAI_THINKING_SIGNATURE}.`;

/** The signature of a thinking block made from a Chat Completions answer's reasoning. */
export function carrySignature(carried: CarriedReasoning): string {
  const payload: CarriedReasoning = {};
  if (carried.text) payload.text = carried.text;
  if (carried.details?.length) payload.details = carried.details;
  if (!payload.text && !payload.details) return OPENAI_THINKING_SIGNATURE;
  return CARRYING + textToB64url(JSON.stringify(payload));
}

/** About how many characters of reasoning a signature carries (its base64 is 4 for 3), unread. */
export function carriedChars(signature: unknown): number {
  if (typeof signature !== "string" || !signature.startsWith(CARRYING)) return 0;
  return Math.floor((signature.length - CARRYING.length) * 3 / 4);
}

/** What a block's signature carries; undefined for any other signature, or a damaged one. */
export function carriedIn(signature: unknown): CarriedReasoning | undefined {
  if (typeof signature !== "string" || !signature.startsWith(CARRYING)) return undefined;
  try {
    const v = JSON.parse(b64urlToText(signature.slice(CARRYING.length)));
    if (!v || typeof v !== "object") return undefined;
    return {
      text: typeof v.text === "string" ? v.text : undefined,
      details: Array.isArray(v.details) ? v.details : undefined,
    };
  } catch {
    return undefined;
  }
}

/**
 * Streamed `reasoning_details` put together: pieces of one detail share its `index`; their text
 * and summary are appended, the rest (signature, encrypted data, id) taken as they come.
 */
export class ReasoningDetails {
  private byIndex = new Map<number, Json>();
  private list: Json[] = [];

  push(details: unknown): void {
    if (!Array.isArray(details)) return;
    for (const d of details) {
      if (!d || typeof d !== "object") continue;
      const index = typeof d.index === "number" ? d.index : undefined;
      const known = index === undefined ? undefined : this.byIndex.get(index);
      if (!known || (d.type !== undefined && d.type !== known.type)) {
        const copy = { ...d };
        this.list.push(copy);
        if (index !== undefined) this.byIndex.set(index, copy);
        continue;
      }
      for (const [k, v] of Object.entries(d)) {
        if ((k === "text" || k === "summary") && typeof v === "string") {
          known[k] = typeof known[k] === "string" ? known[k] + v : v;
        } else if (v !== null && v !== undefined) known[k] = v;
      }
    }
  }

  get size(): number {
    return this.list.length;
  }

  /** The details so far, and a fresh start for those of the next block. */
  take(): Json[] {
    const out = this.list;
    this.list = [];
    this.byIndex.clear();
    return out;
  }
}
