// What a call's request leaves for the translation of its answer, whole or streamed.
import type { CallContext } from "./types.ts";

/** What parsing an answer needs from its request: kept per call, since providers are stateless. */
export interface CallState {
  /** The stop sequences the upstream applies. */
  stops: string[];
  /** Those it was not asked to apply (more than it takes, or none at all): the proxy applies them. */
  localStops: string[];
  /** Shortened upstream tool name → the client's name. */
  names: Map<string, string>;
  /** The client's web search ran as a search model's own: its citations are told as a search. */
  webSearch?: { query: string };
  /**
   * The tool call ids of the conversation so far: a server that numbers its calls per answer
   * (`call_0` every turn) would give a new call an id the client already has, and Claude Code
   * then drops one of the two from its history.
   */
  historyIds: Set<string>;
  /** The request's prefill, which a model here may write again at the answer's start. */
  prefill?: string;
  /**
   * The client asked for one call at a time (`disable_parallel_tool_use`): servers that ignore
   * `parallel_tool_calls` (Ollama, some vLLM builds) have their calls after the first left out.
   */
  singleCall?: boolean;
  /** The client asked for thinking without its text (`display: "omitted"`): blocks keep their signature alone. */
  omitThinking?: boolean;
  /**
   * The client did not ask for thinking: as Anthropic's, the answer has no thinking block, unless
   * one must carry what a server needs back (OpenRouter's details).
   */
  noThinking?: boolean;
  /** The server needs its reasoning back: omitted from the client's view, it rides in the signature. */
  carryText?: boolean;
}

export const callStates = new WeakMap<CallContext, CallState>();

export function stateFor(ctx: CallContext): CallState {
  return callStates.get(ctx) ??
    { stops: [], localStops: [], names: new Map(), historyIds: new Set() };
}
