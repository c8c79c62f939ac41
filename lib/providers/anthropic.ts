// Anthropic-compatible upstreams: the client's bytes go through untouched but for auth and the
// mapped model name, and the answer comes back byte for byte (thinking signatures included).
import type { Message, MessageResponse } from "../anthropic.ts";
import { anthropicErrorFailure, upstreamInfoHeaders } from "../anthropic_answer.ts";
import { isObject } from "../json_value.ts";
import {
  refusedBetasFromError,
  refusedFieldsFromError,
  refusedThinkingFromError,
} from "./anthropic_refusals.ts";
import { ADAPTIVE_THINKING, dropFields, holdsRefused, SYSTEM_MESSAGES } from "../refused_fields.ts";
import { turnsOf } from "./message_turns.ts";
import { outputSchema, structuredOutputNotice } from "./structured_output_notice.ts";
import { ANTHROPIC_CLIENT_HEADERS } from "./client_identity.ts";
import { failureFromStatus, upstreamFault } from "./failure.ts";
import { UpstreamError } from "./upstream_error.ts";
import { outputLimitFromWords } from "./output_limit_wordings.ts";
import { isSyntheticSignature, mayHoldSyntheticThinking } from "./synthetic_signature.ts";
import type { CallContext, Provider, UpstreamRequest } from "./types.ts";
import { pathSegment, splitQuery, withQuery } from "../url_query.ts";
import { clip } from "../secret_mask.ts";

/** Besides every `anthropic-*` header (the SDKs' workspace and profile ones among them). */
const CLIENT_IDENTITY = new Set(ANTHROPIC_CLIENT_HEADERS);

function endpoint(baseUrl: string, path: string, clientQuery = ""): string {
  const { path: root, query } = splitQuery(baseUrl);
  const base = root.replace(/\/+$/, "").replace(/\/v1$/, "");
  return withQuery(`${base}/v1/${path}${query}`, clientQuery);
}

/**
 * Anthropic-compatible APIs documented to take their key as a bearer token only: OpenRouter's
 * (Claude Code is told to send its key there as ANTHROPIC_AUTH_TOKEN, the x-api-key left empty).
 */
const BEARER_HOSTS = /^https?:\/\/(?:[^/?#@]*\.)?openrouter\.ai(?::\d+)?(?:[/?#]|$)/i;

function headers(
  ctx: Pick<CallContext, "apiKey" | "clientHeaders" | "upstream">,
): Record<string, string> {
  const out: Record<string, string> = {
    "content-type": "application/json",
    "anthropic-version": "2023-06-01",
  };
  if (BEARER_HOSTS.test(ctx.upstream.baseUrl ?? "")) out.authorization = `Bearer ${ctx.apiKey}`;
  else out["x-api-key"] = ctx.apiKey;
  for (const [name, value] of ctx.clientHeaders) {
    if (value && (name.startsWith("anthropic-") || CLIENT_IDENTITY.has(name))) out[name] = value;
  }
  return out;
}

/** `model` as the body's first member, as clients write it, pretty-printed or not. */
const FIRST_MEMBER_MODEL = /^\s*\{\s*"model"\s*:\s*("(?:[^"\\]|\\.)*")/;

/**
 * The body with its top-level `model` replaced, without re-serialising the rest. The raw text
 * is searched for the model member; when it cannot be found safely the body is re-encoded.
 */
export function replaceModel(raw: string, body: { model: string }, model: string): string {
  if (body.model === model) return raw;
  const first = FIRST_MEMBER_MODEL.exec(raw);
  if (first && JSON.parse(first[1]) === body.model) {
    const at = first[0].length - first[1].length;
    return raw.slice(0, at) + JSON.stringify(model) + raw.slice(first[0].length);
  }
  const needle = `"model":${JSON.stringify(body.model)}`;
  const at = raw.indexOf(needle);
  const messagesAt = raw.indexOf('"messages"');
  // Before "messages" the match can only be the top-level member; later it might be nested.
  if (at !== -1 && (messagesAt === -1 || at < messagesAt) && raw.indexOf(needle, at + 1) === -1) {
    return raw.slice(0, at) + `"model":${JSON.stringify(model)}` + raw.slice(at + needle.length);
  }
  return JSON.stringify({ ...body, model });
}

type Block = { type?: unknown; signature?: unknown };

const isThinking = (b: Block) => b.type === "thinking" || b.type === "redacted_thinking";

/** The history without the thinking blocks `drop` picks, or undefined when it holds none. */
function dropThinking(messages: Message[], drop: (block: Block) => boolean): Message[] | undefined {
  let changed = false;
  const kept = messages.map((m) => {
    if (typeof m.content === "string" || m.role !== "assistant") return m;
    const content = m.content.filter((b) => !drop(b as Block));
    if (content.length === m.content.length) return m;
    changed = true;
    return { ...m, content };
  });
  return changed ? kept : undefined;
}

/**
 * With thinking on, the assistant turn that the last messages' tool results answer must open with
 * a thinking block: whether this history's does (undefined when it answers no tool call). The
 * messages after that turn (tool results, text, Claude Code's system notes) are one turn to the API.
 */
function toolTurnOpensWithThinking(doc: Record<string, unknown>): boolean | undefined {
  const type = (doc.thinking as { type?: unknown } | undefined)?.type;
  if (type !== "enabled" && type !== "adaptive") return undefined;
  const messages = doc.messages as Message[];
  let i = messages.length - 1;
  let answersTool = false;
  for (; i >= 0 && messages[i].role !== "assistant"; i--) {
    const content = messages[i].content;
    if (Array.isArray(content) && content.some((b) => b?.type === "tool_result")) {
      answersTool = true;
    }
  }
  const turn = messages[i];
  if (!answersTool || !turn || !Array.isArray(turn.content)) return undefined;
  return turn.content.length > 0 && isThinking(turn.content[0] as Block);
}

/**
 * The request with thinking off, and without the context edits that clear thinking (Anthropic
 * refuses those without thinking).
 */
function thinkingOff(doc: Record<string, unknown>): void {
  doc.thinking = undefined;
  const cm = doc.context_management as { edits?: unknown } | undefined;
  if (!Array.isArray(cm?.edits)) return;
  const edits = cm.edits.filter((e) => !String(e?.type).startsWith("clear_thinking"));
  doc.context_management = edits.length ? { ...cm, edits } : undefined;
}

/**
 * The request without any thinking block, for an upstream that refused their signatures (made by
 * another server). Thinking goes off when the turn a tool result answers is left without its
 * opening thinking block: Anthropic refuses thinking on then, and that turn cannot be thought anew.
 */
function withoutAnyThinking(raw: string, off = false): string {
  const doc = JSON.parse(raw);
  const out = { ...doc, messages: dropThinking(doc.messages, isThinking) ?? doc.messages };
  if (off || toolTurnOpensWithThinking(out) === false) thinkingOff(out);
  return JSON.stringify(out);
}

/**
 * History from a translated upstream holds thinking blocks with the proxy's own signatures;
 * Anthropic rejects those, so they are dropped (re-encoding the body only when there are any).
 */
function withoutSyntheticThinking(raw: string): string {
  if (!mayHoldSyntheticThinking(raw)) return raw;
  const doc = JSON.parse(raw);
  const messages = dropThinking(
    doc.messages,
    (b) => b.type === "thinking" && isSyntheticSignature(b.signature),
  );
  if (!messages) return raw;
  const out = { ...doc, messages };
  // Off only for a turn that opened with thinking and lost it, as in withoutAnyThinking.
  if (toolTurnOpensWithThinking(doc) && toolTurnOpensWithThinking(out) === false) thinkingOff(out);
  return JSON.stringify(out);
}

/**
 * The body within the upstream's output cap and without the fields it refused, parsed and encoded
 * again only when one of them applies to it, and then once for all. An upstream without tool
 * search (it refused `defer_loading`) offers every tool from the start, and refuses the references
 * that loaded one; one without structured outputs is told the schema in words; one without
 * adaptive thinking thinks within a budget; one that takes no system message in `messages` (Claude
 * Code sends them with a beta) gets them folded into the user turns.
 */
function adjusted(
  text: string,
  maxTokens: number,
  cap: number | undefined,
  fields: readonly string[] | undefined,
): string {
  const over = !!cap && maxTokens > cap;
  const toolSearch = !!fields?.some((f) => f.endsWith("defer_loading"));
  // A body that names none of them (most clients' but Claude Code's) goes as it is, not re-encoded.
  const names = fields?.filter((f) => !f.includes("="))
    .map((f) => f.slice(f.lastIndexOf(".") + 1)) ?? [];
  if (toolSearch) names.push("tool_reference");
  const drop = names.some((name) => text.includes(`"${name}"`));
  const adaptive = !!fields?.includes(ADAPTIVE_THINKING) && holdsRefused(ADAPTIVE_THINKING, text);
  const fold = !!fields?.includes(SYSTEM_MESSAGES) && holdsRefused(SYSTEM_MESSAGES, text);
  if (!over && !drop && !adaptive && !fold) return text;
  let doc = JSON.parse(text);
  if (over) doc = capped(doc, cap!);
  if (fold && Array.isArray(doc.messages)) {
    // System messages into the user turns beside them; those before any turn join the prompt.
    const { turns, lead } = turnsOf(doc.messages, true);
    doc.messages = turns;
    if (lead.length) doc.system = withSystemNote(doc.system, lead.join("\n\n"));
  }
  // Read before output_config may be dropped with the effort in it.
  const effort = doc.output_config?.effort;
  if (drop) {
    const schema = outputSchema(doc);
    dropFields(doc, fields!);
    if (toolSearch) referencesAsText(doc.messages);
    if (schema !== undefined && outputSchema(doc) === undefined) {
      doc.system = withSystemNote(doc.system, structuredOutputNotice(schema));
    }
  }
  if (adaptive) budgetedThinking(doc, effort);
  return JSON.stringify(doc);
}

function withSystemNote(system: unknown, note: string): unknown {
  if (Array.isArray(system)) return [...system, { type: "text", text: note }];
  return typeof system === "string" && system ? `${system}\n\n${note}` : note;
}

/** Thinking budgets for Anthropic's effort levels; adaptive thinking's default effort is high. */
const EFFORT_BUDGET: Record<string, number> = {
  low: 4096,
  medium: 10_000,
  high: 16_000,
  xhigh: 32_000,
  max: 32_000,
};

/**
 * Adaptive thinking as a budget for its effort, below max_tokens with room left for the answer;
 * left out when max_tokens leaves no room for the smallest budget.
 */
function budgetedThinking(doc: Record<string, unknown>, effort: unknown): void {
  const thinking = doc.thinking as { type?: unknown } | undefined;
  if (thinking?.type !== "adaptive") return;
  const wanted = EFFORT_BUDGET[String(effort)] ?? EFFORT_BUDGET.high;
  const room = (typeof doc.max_tokens === "number" ? doc.max_tokens : 0) - ANSWER_ROOM;
  if (room < MIN_THINKING_BUDGET) delete doc.thinking;
  else doc.thinking = { type: "enabled", budget_tokens: Math.min(wanted, room) };
}

/** Each `tool_reference` in a tool result as the text of what it did. */
function referencesAsText(messages: unknown): void {
  if (!Array.isArray(messages)) return;
  for (const message of messages) {
    if (!Array.isArray(message?.content)) continue;
    for (const block of message.content) {
      if (block?.type !== "tool_result" || !Array.isArray(block.content)) continue;
      block.content = block.content.map((b: { type?: unknown; tool_name?: unknown }) =>
        b?.type === "tool_reference" ? { type: "text", text: `Tool loaded: ${b.tool_name}` } : b
      );
    }
  }
}

/** Anthropic's smallest thinking budget. */
const MIN_THINKING_BUDGET = 1024;
/** Output tokens kept for the answer after a thinking budget the proxy chose. */
const ANSWER_ROOM = 1024;

/**
 * The body within an output cap. The thinking budget must stay below max_tokens, so it shrinks
 * with it, and thinking is left out when the cap leaves no room for the smallest budget.
 */
function capped(body: Record<string, unknown>, cap: number): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body, max_tokens: cap };
  const thinking = body.thinking as { type?: string; budget_tokens?: number } | undefined;
  if (thinking?.type === "enabled" && typeof thinking.budget_tokens === "number") {
    if (thinking.budget_tokens < cap) return out;
    if (cap > MIN_THINKING_BUDGET) {
      out.thinking = {
        ...thinking,
        budget_tokens: Math.max(MIN_THINKING_BUDGET, cap - ANSWER_ROOM),
      };
    } else delete out.thinking;
  }
  return out;
}

export const anthropicProvider: Provider = {
  kinds: ["anthropic", "claude"],
  label: "Anthropic-compatible (passthrough)",
  defaultBaseUrl: "https://api.anthropic.com",
  passthrough: true,

  buildRequest(body, ctx, raw): UpstreamRequest {
    const history = ctx.withoutThinking
      ? withoutAnyThinking(raw, ctx.withoutThinking === "off")
      : withoutSyntheticThinking(raw);
    const text = adjusted(
      replaceModel(history, body, ctx.model),
      body.max_tokens,
      ctx.upstream.maxTokens,
      ctx.dropFields,
    );
    return {
      url: endpoint(ctx.upstream.baseUrl, "messages", ctx.clientQuery),
      headers: headers(ctx),
      body: text,
    };
  },

  parseResponse(json) {
    // Only met when a stream request got JSON back, which is then replayed as events. An error
    // said with a 200, or JSON that is no message, is the key's passing fault, as it is for a
    // request that did not stream: another key may answer.
    if (isObject(json) && json.type === "error" && isObject(json.error)) {
      throw new UpstreamError(
        anthropicErrorFailure(anthropicProvider, JSON.stringify(json), new Headers()),
      );
    }
    const message = json as MessageResponse;
    if (message?.type !== "message" || !Array.isArray(message.content)) {
      throw new UpstreamError(
        upstreamFault("Upstream answered a stream request with JSON that is no message"),
      );
    }
    // Replayed as events, the answer needs usage for its message_start and message_delta.
    if (!isObject(message.usage)) message.usage = { input_tokens: 0, output_tokens: 0 };
    return message;
  },

  createStreamTranslator() {
    throw new Error("the Anthropic passthrough forwards streams as bytes");
  },

  parseError(status, bodyText, responseHeaders) {
    let message = clip(bodyText, 500) || `upstream answered ${status}`;
    let type: string | undefined;
    try {
      const parsed = JSON.parse(bodyText);
      message = parsed?.error?.message ?? message;
      type = parsed?.error?.type;
    } catch { /* not JSON: keep the text */ }
    const failure = failureFromStatus(status, message, responseHeaders, {
      invalidKey: type === "authentication_error" || type === "permission_error",
    });
    if (status === 529) failure.type = "overloaded_error";
    // Masked where the failure reaches the client (the proxy holds the keys to mask).
    const headers = upstreamInfoHeaders(responseHeaders, (text) => text);
    const shouldRetry = responseHeaders.get("x-should-retry");
    if (shouldRetry) headers["x-should-retry"] = shouldRetry;
    if (Object.keys(headers).length) failure.headers = headers;
    return failure;
  },

  // An Anthropic-compatible API may be a gateway (LiteLLM, OpenRouter) in front of any server,
  // relaying its words; Anthropic's own are among these. Its full context window is passed on in
  // its own words (Anthropic's already are the ones Claude Code compacts on).
  outputLimitHint: outputLimitFromWords,
  refusedBetas: refusedBetasFromError,
  refusedThinking: refusedThinkingFromError,
  refusedFields: refusedFieldsFromError,

  countTokensRequest(body, ctx, raw) {
    return {
      url: endpoint(ctx.upstream.baseUrl, "messages/count_tokens", ctx.clientQuery),
      headers: headers(ctx),
      // The upstream counts the prompt, whatever max_tokens says.
      body: adjusted(
        replaceModel(raw, body, ctx.model),
        body.max_tokens,
        undefined,
        ctx.dropFields,
      ),
    };
  },

  parseCountTokens(json) {
    const n = (json as { input_tokens?: unknown })?.input_tokens;
    if (typeof n !== "number") throw new Error("count_tokens answer without input_tokens");
    return n;
  },

  modelsRequest(ctx) {
    return {
      url: endpoint(ctx.upstream.baseUrl, "models", ctx.clientQuery),
      method: "GET",
      headers: headers(ctx),
    };
  },

  modelRequest(ctx, id) {
    return {
      url: endpoint(ctx.upstream.baseUrl, `models/${pathSegment(id)}`),
      method: "GET",
      headers: headers(ctx),
    };
  },
};
