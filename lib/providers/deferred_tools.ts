// Deferred tools (`defer_loading: true`, Anthropic's tool search): the model is shown such a tool
// only once a `tool_reference` in the conversation has loaded it. Claude Code 2.1.3xx defers most
// of its tools behind its own ToolSearch tool and always sends a placeholder that must never be
// called; an upstream without tool search gets the tools loaded so far as functions, no more.
import type { MessagesRequest } from "../anthropic.ts";
import { isObject } from "../json_value.ts";
import { oncePerSharedTools } from "../parse_body.ts";

type Obj = Record<string, unknown>;

/** The functions OpenAI takes in one request ("array too long. Expected … maximum length 128"). */
export const MAX_FUNCTIONS = 128;

export function isDeferred(tool: unknown): boolean {
  return isObject(tool) && tool.defer_loading === true;
}

function isServerToolSearch(tool: unknown): boolean {
  return isObject(tool) && typeof tool.type === "string" &&
    tool.type.startsWith("tool_search_tool_");
}

/**
 * The names of the tools the conversation has loaded: those a client tool's result or a server
 * tool search referred to and the one `tool_choice` names (an upstream refuses a choice of a tool
 * it was not given), and, where Anthropic's own tool search is offered, the others as room allows.
 */
export function loadedToolNames(body: MessagesRequest): Set<string> {
  const names = new Set<string>();
  const choice = body.tool_choice as Obj | undefined;
  if (isObject(choice) && typeof choice.name === "string") names.add(choice.name);
  if (Array.isArray(body.messages)) {
    for (const message of body.messages) {
      const content = (message as { content?: unknown })?.content;
      if (!Array.isArray(content)) continue;
      for (const block of content) {
        if (!isObject(block)) continue;
        if (block.type === "tool_result") addReferences(block.content, names);
        else if (block.type === "tool_search_tool_result" && isObject(block.content)) {
          addReferences(block.content.tool_references, names);
        }
      }
    }
  }
  // Anthropic's own tool search runs on its servers, never here: what only it would load is
  // offered from the start, or the model could never reach it; as many as fit in the functions
  // an upstream takes (OpenAI's 128), beside those not deferred and those loaded already.
  if (Array.isArray(body.tools) && body.tools.some(isServerToolSearch)) {
    let room = MAX_FUNCTIONS;
    for (const tool of body.tools) {
      if (isServerToolSearch(tool)) continue;
      if (!isDeferred(tool) || names.has(String((tool as unknown as Obj).name))) room--;
    }
    for (const tool of body.tools) {
      if (room <= 0) break;
      const name = String((tool as unknown as Obj).name);
      if (isDeferred(tool) && !names.has(name)) {
        names.add(name);
        room--;
      }
    }
  }
  return names;
}

function addReferences(list: unknown, names: Set<string>): void {
  if (!Array.isArray(list)) return;
  for (const item of list) {
    if (isObject(item) && item.type === "tool_reference" && typeof item.tool_name === "string") {
      names.add(item.tool_name);
    }
  }
}

/** Whether the upstream's model is shown this tool: it is not deferred, or it was loaded. */
export function offered(tool: unknown, loaded: ReadonlySet<string>): boolean {
  return !isDeferred(tool) || loaded.has(String((tool as Obj).name));
}

const NONE: ReadonlySet<string> = new Set();

/** The tools loaded in this request, looked for only when some of its tools are deferred. */
export function loadedFor(tools: unknown, body: MessagesRequest): ReadonlySet<string> {
  return Array.isArray(tools) && tools.some(isDeferred) ? loadedToolNames(body) : NONE;
}

/** Distinct sets of loaded tools remembered per shared tools array. */
const MAX_LOADED_SETS = 16;

/**
 * `convert` for the tools array a client sends every time (see `sharedTools`), worked out once per
 * array and set of loaded deferred tools: a conversation loads a few, then keeps them.
 */
export function oncePerOfferedTools<T>(
  convert: (tools: readonly unknown[], loaded: ReadonlySet<string>) => T,
): (tools: readonly unknown[], body: MessagesRequest) => T {
  const perArray = oncePerSharedTools((tools): (body: MessagesRequest) => T => {
    const deferred = tools.filter(isDeferred).map((t) => String((t as Obj).name));
    if (!deferred.length) {
      const done = convert(tools, NONE);
      return () => done;
    }
    const byLoaded = new Map<string, T>();
    return (body) => {
      const loaded = loadedToolNames(body);
      const key = deferred.filter((name) => loaded.has(name)).join("\n");
      let done = byLoaded.get(key);
      if (done === undefined) {
        if (byLoaded.size >= MAX_LOADED_SETS) byLoaded.clear();
        byLoaded.set(key, done = convert(tools, loaded));
      }
      return done;
    };
  });
  return (tools, body) => perArray(tools)(body);
}
