// What one call to Gemini carries from its request to its answer.
import type { JsonPath } from "./gemini_schema.ts";

/** What the answer needs from the request it answers: names, JSON-text paths, what was asked. */
export interface RequestState {
  /** Gemini function name → the client's tool name. */
  names: Map<string, string>;
  /** Gemini function name → argument paths Gemini writes as JSON text. */
  jsonPaths: Map<string, JsonPath[]>;
  /** Signatures of text parts are only worth carrying when the client asked for thinking. */
  carryText: boolean;
  /** The client's web search tool became Gemini's googleSearch: grounding is told as searches. */
  webSearch?: boolean;
  /**
   * The client asked for one call at a time (`disable_parallel_tool_use`), which Gemini has no
   * setting for: its calls after the first are left out of the answer.
   */
  singleCall?: boolean;
  /** Stop sequences past the five Gemini takes: the proxy applies them. */
  localStops?: string[];
  /** Where an older model's structured answer holds JSON text standing for other values. */
  answerPaths?: JsonPath[];
}

/** Gemini's listings (and configs copied from them) name a model `models/<id>`. */
export function modelName(model: string): string {
  return model.replace(/^models\//, "");
}
