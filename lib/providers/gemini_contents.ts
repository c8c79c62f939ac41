// The conversation as Gemini contents: turns, tool calls and the results that answer them.
import type { MessagesRequest } from "../anthropic.ts";
import { flat } from "../flat_string.ts";
import { isObject } from "../json_value.ts";
import {
  type Block,
  blocksOf,
  convertGifs,
  mediaParts,
  type Part,
  textParts,
} from "./gemini_parts.ts";
import { encodeJsonPaths, type JsonPath } from "./gemini_schema.ts";
import { type Carry, parseToolId, readCarry, SKIP_SIGNATURE } from "./gemini_thought_signatures.ts";
import { geminiFunctionName } from "./gemini_tool_declarations.ts";
import { serverToolText } from "./server_tool_history.ts";

type Obj = Record<string, unknown>;
export interface Content {
  role: "user" | "model";
  parts: Part[];
}

interface ToolResult {
  toolUseId: string;
  text: string;
  isError: boolean;
}

/** A tool_result's text (blocks joined in order) and its images and documents as extra parts. */
function toolResultOf(block: Block): [ToolResult, Part[]] {
  const texts: string[] = [];
  const extras: Part[] = [];
  const content = block.content;
  if (typeof content === "string") texts.push(content);
  else {
    for (const b of blocksOf(content)) {
      if (b.type === "text" && typeof b.text === "string") texts.push(b.text);
      else if (b.type === "image" || b.type === "document") extras.push(...mediaParts(b));
      else {
        const text = serverToolText(b) ?? b.text;
        if (typeof text === "string" && text) texts.push(text);
      }
    }
  }
  return [{
    toolUseId: String(block.tool_use_id ?? ""),
    text: texts.join("\n"),
    isError: block.is_error === true,
  }, extras];
}

interface Call {
  id: string;
  name: string;
  geminiId?: string;
}

interface Turn {
  role: "user" | "model";
  parts: Part[];
  calls: Call[];
  results: ToolResult[];
  extras: Part[];
}

interface HistoryOptions {
  fp: string;
  jsonPaths: Map<string, JsonPath[]>;
}

function modelTurn(blocks: Block[], opts: HistoryOptions): Turn {
  const turn: Turn = { role: "model", parts: [], calls: [], results: [], extras: [] };
  const carry: Carry = {};
  let notes: Set<Part> | undefined;
  for (const b of blocks) {
    if (b.type !== "thinking") continue;
    const c = readCarry(b.signature);
    if (!c || c.f !== opts.fp) continue;
    if (typeof c.t === "string") carry.t = c.t;
    if (isObject(c.c)) carry.c = { ...carry.c, ...c.c };
  }
  for (const b of blocks) {
    if (b.type === "text") turn.parts.push(...textParts(b.text));
    else if (b.type === "tool_use" && typeof b.name === "string") {
      const id = String(b.id ?? "");
      const name = geminiFunctionName(b.name);
      const info = parseToolId(id);
      const call: Call = { id, name };
      if (info?.geminiId) call.geminiId = info.geminiId;
      const fc: Obj = { name, args: argsOf(b.input, opts.jsonPaths.get(name)) };
      if (call.geminiId) fc.id = call.geminiId;
      const part: Part = { functionCall: fc };
      // The carry was checked against this model and key already; the id's own part is here.
      const sig = info?.signature && info.fp === opts.fp
        ? info.signature
        : info && carry.c?.[info.head];
      if (sig) part.thoughtSignature = sig;
      turn.parts.push(part);
      turn.calls.push(call);
    } else if (b.type === "image" || b.type === "document") turn.parts.push(...mediaParts(b));
    else if (b.type !== "thinking" && b.type !== "redacted_thinking") {
      // What a server tool found stays in its place among the parts: there is no call to replay.
      const told = textParts(serverToolText(b));
      if (told.length) (notes ??= new Set()).add(told[0]);
      turn.parts.push(...told);
    }
  }
  if (carry.t) {
    // A text part's signature goes back on the last text part Gemini wrote (not on a note of a
    // search told after it); never on a call, where it is wrong.
    for (let i = turn.parts.length - 1; i >= 0; i--) {
      const p = turn.parts[i];
      if (typeof p.text === "string" && !notes?.has(p)) {
        if (!p.thoughtSignature) p.thoughtSignature = carry.t;
        break;
      }
    }
  }
  return turn;
}

function argsOf(input: unknown, paths: JsonPath[] | undefined): Obj {
  let args: unknown = input;
  if (typeof args === "string") {
    try {
      args = JSON.parse(args);
    } catch { /* not JSON */ }
  }
  if (!isObject(args)) return {};
  return paths?.length ? encodeJsonPaths(args, paths) as Obj : args;
}

function userTurn(blocks: Block[]): Turn {
  const turn: Turn = { role: "user", parts: [], calls: [], results: [], extras: [] };
  for (const b of blocks) {
    if (b.type === "text") turn.parts.push(...textParts(b.text));
    else if (b.type === "tool_result") {
      const [result, extras] = toolResultOf(b);
      turn.results.push(result);
      turn.extras.push(...extras);
    } else if (b.type === "image" || b.type === "document") turn.parts.push(...mediaParts(b));
    else if (b.type !== "thinking" && b.type !== "redacted_thinking") {
      // Search results, server-tool results and the like: their text is all Gemini could use.
      turn.parts.push(...textParts(serverToolText(b) ?? b.text));
    }
  }
  return turn;
}

function isEmpty(t: Turn): boolean {
  return t.parts.length === 0 && t.calls.length === 0 && t.results.length === 0 &&
    t.extras.length === 0;
}

function responsePart(name: string, result: ToolResult | undefined, geminiId?: string): Part {
  const fr: Obj = {
    name,
    response: !result
      ? { error: "No result was provided for this tool call." }
      : result.isError
      ? { error: result.text }
      : { output: result.text },
  };
  if (geminiId) fr.id = geminiId;
  return { functionResponse: fr };
}

function orphanText(r: ToolResult): Part[] {
  return textParts(
    flat("[Result of tool call ", r.toolUseId, r.isError ? " (error)" : "", "]\n", r.text),
  );
}

/**
 * Messages → contents: strict user/model alternation starting with user, no empty parts, and
 * every model turn with N calls answered by the next user turn with N responses (results first).
 */
export function buildContents(body: MessagesRequest, opts: HistoryOptions): Content[] {
  const turns: Turn[] = [];
  for (const m of body.messages ?? []) {
    if (m.role === "system") continue;
    const blocks = blocksOf(m.content);
    const turn = m.role === "assistant" ? modelTurn(blocks, opts) : userTurn(blocks);
    if (isEmpty(turn)) continue;
    const prev = turns[turns.length - 1];
    if (prev && prev.role === turn.role) {
      prev.parts.push(...turn.parts);
      prev.calls.push(...turn.calls);
      prev.results.push(...turn.results);
      prev.extras.push(...turn.extras);
    } else turns.push(turn);
  }

  const contents: Content[] = [];
  for (let i = 0; i < turns.length; i++) {
    const turn = turns[i];
    if (turn.role === "model") {
      const first = turn.parts.find((p) => p.functionCall);
      if (first && !first.thoughtSignature) first.thoughtSignature = SKIP_SIGNATURE;
      contents.push({ role: "model", parts: turn.parts });
      if (turn.calls.length && turns[i + 1]?.role !== "user") {
        // Calls nobody answered (the history ends here): Gemini still wants a response each.
        turns.splice(i + 1, 0, { role: "user", parts: [], calls: [], results: [], extras: [] });
      }
      continue;
    }
    const prev = turns[i - 1];
    const calls = prev?.role === "model" ? prev.calls : [];
    const pending = [...turn.results];
    const responses = calls.map((call) => {
      const at = pending.findIndex((r) => r.toolUseId === call.id);
      const result = at >= 0 ? pending.splice(at, 1)[0] : undefined;
      return responsePart(call.name, result, call.geminiId);
    });
    const parts = [...responses, ...pending.flatMap(orphanText), ...turn.extras, ...turn.parts];
    if (parts.length) contents.push({ role: "user", parts });
  }
  if (contents[0]?.role === "model") {
    contents.unshift({ role: "user", parts: [{ text: "(conversation continues)" }] });
  }
  convertGifs(contents);
  return contents;
}
