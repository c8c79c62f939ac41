// A whole (non-streamed) Chat Completions answer as an Anthropic message.
import {
  type MessageResponse,
  newId,
  type ResponseBlock,
  sanitizeToolId,
  type WebSearchResult,
} from "../anthropic.ts";
import { answerMessage, textBlock, toolUseBlock, webSearchBlocks } from "../answer_shape.ts";
import { isObject } from "../json_value.ts";
import { ProxyError } from "../errors.ts";
import { cutAtStop } from "../stop_sequences.ts";
import { withoutPrefill } from "../prefill_echo.ts";
import { splitThinkTags } from "./think_tags.ts";
import { type CallState, stateFor } from "./openai_call_state.ts";
import { callSignature, withSignature } from "./openai_thought_signatures.ts";
import { bodyFailure, choiceFailure } from "./openai_errors.ts";
import {
  citedPages,
  contentParts,
  firstChoice,
  mapUsage,
  matchedStop,
  parseToolArguments,
  reportedStop,
  stopReasonFor,
} from "./openai_answer_fields.ts";
import { UpstreamError } from "./upstream_error.ts";
import { carrySignature } from "./openai_reasoning_carry.ts";
import type { CallContext } from "./types.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** The text of the content parts of one kind, joined. */
function textOf(parts: ReturnType<typeof contentParts>, kind: "text" | "thinking"): string {
  return parts.filter(([k]) => k === kind).map(([, text]) => text).join("");
}

function thinkingBlock(thinking: string, state: CallState, details?: Json[]): ResponseBlock {
  const shown = state.omitThinking ? "" : thinking;
  const text = state.omitThinking && state.carryText ? thinking : undefined;
  return { type: "thinking", thinking: shown, signature: carrySignature({ text, details }) };
}

export function parseResponse(json: unknown, ctx: CallContext): MessageResponse {
  const res = json as Json;
  const state = stateFor(ctx);
  const choice = Array.isArray(res?.choices) ? firstChoice(res.choices) : undefined;
  if (!choice) {
    const failure = bodyFailure(res);
    if (failure) throw new UpstreamError(failure);
    throw new ProxyError(502, "upstream returned no choices", "api_error");
  }
  const failed = choiceFailure(choice);
  if (failed) throw new UpstreamError(failed);
  // A filtered answer may come without its message; any other is a broken answer, not an empty one.
  if (!isObject(choice.message) && choice.finish_reason !== "content_filter") {
    throw new ProxyError(502, "upstream returned a choice without a message", "api_error");
  }
  const msg = choice.message ?? {};
  const content: ResponseBlock[] = [];
  const parts = Array.isArray(msg.content) ? contentParts(msg.content) : [];
  const reasoning = typeof msg.reasoning_content === "string" && msg.reasoning_content
    ? msg.reasoning_content
    : typeof msg.reasoning === "string"
    ? msg.reasoning
    : textOf(parts, "thinking");
  const details = Array.isArray(msg.reasoning_details) ? msg.reasoning_details : undefined;
  if (state.noThinking ? details?.length : reasoning || details?.length) {
    content.push(thinkingBlock(state.noThinking ? "" : reasoning, state, details));
  }
  let text = typeof msg.content === "string" ? msg.content : textOf(parts, "text");
  if (!reasoning && text.trimStart().startsWith("<think>")) {
    const split = splitThinkTags(text);
    text = split.text;
    if (split.thinking && !state.noThinking) content.push(thinkingBlock(split.thinking, state));
  }
  const refused = !text && typeof msg.refusal === "string" && msg.refusal !== "";
  if (refused) text = msg.refusal;
  const calls: Json[] = Array.isArray(msg.tool_calls) ? [...msg.tool_calls] : [];
  if (msg.function_call?.name) calls.push({ function: msg.function_call });
  if (state.prefill) text = withoutPrefill(text, state.prefill);
  // The text ends at a stop sequence, as Anthropic's would. Calls are kept, and the answer then
  // ends on them (tool_use), so that the client runs them, as the streamed answer does.
  const local = cutAtStop(text, state.localStops);
  text = local.text;
  const stopped = choice.finish_reason === "stop" && !calls.length;
  const stopInText = stopped && local.hit === null ? matchedStop(text, state.stops) : null;
  // Anthropic's text never includes the matched stop sequence.
  if (stopInText) text = text.slice(0, text.length - stopInText.length);
  const stopSequence = calls.length
    ? null
    : local.hit ?? stopInText ?? (stopped ? reportedStop(choice, state.stops) : null);
  // Blank lines before a call are no text: Anthropic refuses a text block of only whitespace when
  // the conversation comes back to it.
  if (text && (text.trim() || !calls.length)) content.push(textBlock(text));
  // Ids the conversation already has count as used: a repeated one is replaced.
  const used = new Set<string>(state.historyIds);
  for (const call of calls) {
    const name = call?.function?.name;
    if (typeof name !== "string" || !name) continue;
    if (state.singleCall && content.some((b) => b.type === "tool_use")) break;
    // A call the output limit broke off is none the model made: run, it would write a file half
    // or run half a command (the stream sends it broken, as Anthropic does; whole, it is left out).
    if (choice.finish_reason === "length" && brokenOff(call.function.arguments)) continue;
    let id = sanitizeToolId(call.id);
    if (used.has(id)) id = newId("toolu");
    used.add(id);
    content.push(
      toolUseBlock(
        withSignature(id, callSignature(call)),
        state.names.get(name) ?? name,
        parseToolArguments(call.function.arguments),
      ),
    );
  }
  const toolUsed = content.some((b) => b.type === "tool_use");
  const usage = mapUsage(res.usage);
  if (state.webSearch) {
    const pages = new Map<string, WebSearchResult>();
    citedPages(msg.annotations, pages);
    const id = newId("srvtoolu");
    content.unshift(...webSearchBlocks(id, state.webSearch.query, [...pages.values()]));
    usage.server_tool_use = { web_search_requests: 1 };
  }
  return answerMessage(
    ctx.requestedModel,
    content,
    stopSequence ? "stop_sequence" : stopReasonFor(choice.finish_reason, toolUsed, refused),
    stopSequence,
    usage,
  );
}

/**
 * Whether a call's arguments end before their object does. None at all is a call of `{}`, as the
 * stream gives it (and Anthropic a call cut before its input).
 */
function brokenOff(args: unknown): boolean {
  if (typeof args !== "string" || !args.trim()) return false;
  try {
    JSON.parse(args);
    return false;
  } catch {
    return true;
  }
}
