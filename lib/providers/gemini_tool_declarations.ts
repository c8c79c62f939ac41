// The client's tools as Gemini function declarations (or Google Search), and its tool_choice.
import type { MessagesRequest } from "../anthropic.ts";
import { flat } from "../flat_string.ts";
import { jsonBytes } from "../json_bytes.ts";
import { isObject } from "../json_value.ts";
import { sharedTools } from "../parse_body.ts";
import { shortHash } from "../short_hash.ts";
import type { RequestState } from "./gemini_call.ts";
import { functionToolOf } from "./client_tool_schemas.ts";
import { loadedFor, offered, oncePerOfferedTools } from "./deferred_tools.ts";
import { type CleanedSchema, cleanToolParameters, type JsonPath } from "./gemini_schema.ts";
import { unrunnableToolName } from "./server_tool_notice.ts";
import { wantsWebSearch } from "./web_search.ts";

type Obj = Record<string, unknown>;

/** Gemini function names: a letter or `_` first, then `[A-Za-z0-9_.:-]`, 64 at most. */
export function geminiFunctionName(name: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/.test(name)) return name;
  let clean = name.replace(/[^A-Za-z0-9_.:-]/g, "_");
  if (!/^[A-Za-z_]/.test(clean)) clean = `_${clean}`;
  // A hash keeps two names that clean to the same text apart.
  return flat(clean.slice(0, 55), "_", shortHash(name));
}

interface Declared {
  tools?: Obj[];
  /** The server tools the request offers that Gemini cannot run, by name. */
  unrunnable: readonly string[];
  /** `tools` as UTF-8 JSON, when the client's tools are the ones it sends every time. */
  toolsJson?: Uint8Array;
  toolConfig?: Obj;
  state: RequestState;
}

/**
 * Cleaned parameter schemas by their JSON: a client whose tools change a little between requests
 * still has most of them cleaned once (cleaning Claude Code's 24 schemas cost 0.3 ms a request).
 */
const cleanedSchemas = new Map<string, CleanedSchema>();
const MAX_CLEANED_SCHEMAS = 512;

function cleanedParameters(schema: unknown): CleanedSchema {
  if (!isObject(schema)) return cleanToolParameters(schema);
  // Taken before cleaning, which may rewrite parts of the schema it is given.
  const key = JSON.stringify(schema);
  let cleaned = cleanedSchemas.get(key);
  if (!cleaned) {
    cleaned = cleanToolParameters(schema);
    if (cleanedSchemas.size >= MAX_CLEANED_SCHEMAS) cleanedSchemas.clear();
    cleanedSchemas.set(key, cleaned);
  }
  return cleaned;
}

interface Declarations {
  decls: Obj[];
  names: Map<string, string>;
  unrunnable: string[];
  jsonPaths: Map<string, JsonPath[]>;
  /** `[{ functionDeclarations: decls }]` as UTF-8 JSON, for shared tools. */
  json?: Uint8Array;
}

function declarations(
  tools: readonly unknown[] | undefined,
  loaded: ReadonlySet<string>,
): Declarations {
  const out: Declarations = { decls: [], names: new Map(), jsonPaths: new Map(), unrunnable: [] };
  for (const given of tools ?? []) {
    if (!offered(given, loaded)) continue;
    const tool = functionToolOf(given);
    if (typeof tool?.name !== "string") {
      const name = unrunnableToolName(given);
      if (name) out.unrunnable.push(name);
      continue;
    }
    const name = geminiFunctionName(tool.name);
    if (out.names.has(name)) continue;
    out.names.set(name, tool.name);
    const { schema, jsonPaths } = cleanedParameters(tool.input_schema);
    if (jsonPaths.length) out.jsonPaths.set(name, jsonPaths);
    const decl: Obj = { name };
    if (typeof tool.description === "string" && tool.description) {
      decl.description = tool.description;
    }
    if (schema) decl.parameters = schema;
    out.decls.push(decl);
  }
  return out;
}

const declarationsOfShared = oncePerOfferedTools((tools, loaded): Declarations => {
  const done = declarations(tools, loaded);
  done.json = jsonBytes([{ functionDeclarations: done.decls }]);
  return done;
});

export function declareTools(body: MessagesRequest): Declared {
  const declared = sharedTools(body.tools)
    ? declarationsOfShared(body.tools, body)
    : declarations(body.tools, loadedFor(body.tools, body));
  const state: RequestState = {
    names: new Map(declared.names),
    jsonPaths: new Map(declared.jsonPaths),
    carryText: false,
  };
  const unrunnable = declared.unrunnable;
  if (!declared.decls.length) {
    // tool_choice none forbids every tool, Google Search too (it has no calling mode of its own).
    const none = (body.tool_choice as { type?: unknown } | undefined)?.type === "none";
    if (none || !wantsWebSearch(body.tools)) return { state, unrunnable };
    // Gemini grounds in Google Search itself; 2.x models refuse it beside function calling.
    state.webSearch = true;
    return { tools: [{ googleSearch: {} }], state, unrunnable };
  }
  const out: Declared = { tools: [{ functionDeclarations: declared.decls }], state, unrunnable };
  if (declared.json) out.toolsJson = declared.json;
  const choice = body.tool_choice;
  if (isObject(choice)) {
    const named = choice.type === "tool" && typeof choice.name === "string"
      ? geminiFunctionName(choice.name)
      : undefined;
    // A named tool that was not declared (a server tool) cannot be forced; ANY would force another.
    const forced = named !== undefined && declared.names.has(named);
    const mode = choice.type === "none" ? "NONE" : choice.type === "any" || forced ? "ANY" : "AUTO";
    const config: Obj = { mode };
    if (forced) config.allowedFunctionNames = [named];
    out.toolConfig = { functionCallingConfig: config };
  }
  return out;
}
