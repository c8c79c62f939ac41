// How the fields of a Chat Completions answer read in Anthropic terms, whether the answer came
// whole or streamed: reasoning's signature, usage, stop reasons, tool arguments, cited pages.
import type { StopReason, Usage, WebSearchResult } from "../anthropic.ts";
import { webSearchResult } from "../answer_shape.ts";
import { flat } from "../flat_string.ts";
import { countOr0 } from "../json_value.ts";
import { jsonCompletion, ObjectPrefix } from "./partial_json.ts";

/**
 * The signature of thinking blocks made from `reasoning_content`. Clients echo it back verbatim;
 * it means nothing upstream, and a recognisable value lets an Anthropic upstream path strip it.
 */
export const OPENAI_THINKING_SIGNATURE = "gateway-openai-reasoning";

// deno-lint-ignore no-explicit-any
type Json = any;

/** Search models cite the pages they used as `url_citation` annotations on the answer. */
export function citedPages(annotations: unknown, into: Map<string, WebSearchResult>): void {
  if (!Array.isArray(annotations)) return;
  for (const a of annotations) {
    const c = a?.type === "url_citation" ? a.url_citation ?? a : undefined;
    if (typeof c?.url !== "string" || !c.url || into.has(c.url)) continue;
    into.set(c.url, webSearchResult(c.url, c.title));
  }
}

/** Choice 0: a server that makes several (`n` set by default) sends the others beside it. */
export function firstChoice(choices: Json[]): Json {
  const first = choices[0];
  if (first?.index === undefined || first.index === 0) return first;
  return choices.find((c) => c?.index === 0);
}

export function mapUsage(u: Json): Usage {
  const prompt = countOr0(u?.prompt_tokens);
  const cached = countOr0(u?.prompt_tokens_details?.cached_tokens) ||
    countOr0(u?.prompt_cache_hit_tokens);
  // OpenRouter counts what a prompt wrote to the cache (Anthropic's and Gemini's models).
  const written = countOr0(u?.prompt_tokens_details?.cache_write_tokens);
  const reasoning = u?.completion_tokens_details?.reasoning_tokens;
  return {
    input_tokens: Math.max(0, prompt - cached - written),
    output_tokens: countOr0(u?.completion_tokens),
    cache_creation_input_tokens: written,
    cache_read_input_tokens: cached,
    output_tokens_details: typeof reasoning === "number"
      ? { thinking_tokens: countOr0(reasoning) }
      : null,
  };
}

export function stopReasonFor(finish: unknown, toolUsed: boolean, refused: boolean): StopReason {
  // A cut answer may end inside a call's arguments: the client must not run it.
  if (finish === "length") return "max_tokens";
  if (toolUsed) return "tool_use";
  if (finish === "content_filter" || refused) return "refusal";
  // "tool_calls" with no call at all: nothing for the client to run, so the turn is over.
  return "end_turn";
}

export function matchedStop(text: string, stops: string[]): string | null {
  for (const s of stops) if (text.endsWith(s)) return s;
  return null;
}

/**
 * The stop string a server says ended the answer (vLLM's `stop_reason`, SGLang's
 * `matched_stop`; a number there is a token id, no stop sequence). OpenAI says nothing, and
 * leaves the string out of the text, so through it a hit stop sequence reads as end_turn.
 */
export function reportedStop(choice: Json, stops: string[]): string | null {
  for (const v of [choice?.stop_reason, choice?.matched_stop]) {
    if (typeof v === "string" && stops.includes(v)) return v;
  }
  return null;
}

/**
 * Tool arguments as an object, cut-off JSON completed. Other unparsable text is kept as
 * `{"_raw": text}` rather than `{}`, so the client's validation error shows the model (and the
 * logs) what it actually sent.
 */
export function parseToolArguments(args: unknown): Record<string, unknown> {
  if (args && typeof args === "object" && !Array.isArray(args)) {
    return args as Record<string, unknown>;
  }
  if (typeof args !== "string" || !args.trim()) return {};
  try {
    const v = JSON.parse(args);
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
    // A call without arguments, as some servers write it.
    if (v === null) return {};
    return { _raw: args };
  } catch { /* read as a stream's arguments are, below */ }
  // An object cut off, with a trailing comma, or sent twice is the object; one that breaks off
  // mid-way is not what the model meant.
  const shape = new ObjectPrefix();
  const part = shape.pass(args);
  if (shape.started && (shape.ended || !shape.refused)) {
    const suffix = jsonCompletion(part);
    if (suffix !== undefined) return JSON.parse(suffix ? flat(part, suffix) : part);
  }
  return { _raw: args };
}

/**
 * Content given as a list of parts, as Mistral's reasoning models write it: text parts, and
 * thinking parts whose `thinking` is a string or a list of text parts. In order, by kind.
 */
export function contentParts(content: Json[]): Array<["text" | "thinking", string]> {
  const out: Array<["text" | "thinking", string]> = [];
  for (const part of content) {
    if (part?.type === "thinking") {
      const t = part.thinking;
      const text = typeof t === "string"
        ? t
        : Array.isArray(t)
        ? t.map((p: Json) => (typeof p?.text === "string" ? p.text : "")).join("")
        : "";
      if (text) out.push(["thinking", text]);
    } else if (typeof part?.text === "string" && part.text) out.push(["text", part.text]);
  }
  return out;
}
