// An Anthropic Messages request as the body of a Gemini generateContent request.
import type { MessagesRequest } from "../anthropic.ts";
import { nothingToSend } from "../errors.ts";
import { withoutBillingLine } from "./billing_line.ts";
import { buildContents, type Content } from "./gemini_contents.ts";
import { generationConfig } from "./gemini_generation_config.ts";
import { blocksOf, type Part } from "./gemini_parts.ts";
import type { RequestState } from "./gemini_call.ts";
import { fingerprint } from "./gemini_thought_signatures.ts";
import { declareTools } from "./gemini_tool_declarations.ts";
import { absentTools, serverToolsNotice } from "./server_tool_notice.ts";
import { outputSchema, structuredOutputNotice } from "./structured_output_notice.ts";
import type { CallContext } from "./types.ts";
import { wantsWebSearch, WEB_SEARCH_UNAVAILABLE } from "./web_search.ts";

type Obj = Record<string, unknown>;

function systemText(body: MessagesRequest): string {
  const pieces: string[] = [];
  const add = (raw: unknown) => {
    if (typeof raw !== "string") return;
    const text = withoutBillingLine(raw);
    if (text.trim()) pieces.push(text);
  };
  for (const b of blocksOf(body.system)) if (b.type === "text") add(b.text);
  for (const m of body.messages ?? []) {
    if (m.role !== "system") continue;
    for (const b of blocksOf(m.content)) if (b.type === "text") add(b.text);
  }
  return pieces.join("\n\n");
}

function withNotice(system: string, notice: string): string {
  return system ? `${system}\n\n${notice}` : notice;
}

interface GeminiBody {
  contents: Content[];
  systemInstruction?: { parts: Part[] };
  tools?: Obj[];
  toolConfig?: Obj;
  generationConfig?: Obj;
}

export function buildBody(
  body: MessagesRequest,
  ctx: CallContext,
): [GeminiBody, RequestState, Uint8Array | undefined] {
  const declared = declareTools(body);
  const state = declared.state;
  state.carryText = body.thinking?.type === "enabled" || body.thinking?.type === "adaptive";

  state.singleCall = (body.tool_choice as { disable_parallel_tool_use?: unknown } | undefined)
    ?.disable_parallel_tool_use === true;
  const out: GeminiBody = {
    contents: buildContents(body, { fp: fingerprint(ctx), jsonPaths: state.jsonPaths }),
  };
  if (!out.contents.length) throw nothingToSend();
  let system = systemText(body);
  if (!state.webSearch && wantsWebSearch(body.tools)) {
    system = withNotice(system, WEB_SEARCH_UNAVAILABLE);
  }
  const unrunnable = absentTools(declared.unrunnable, body.mcp_servers);
  if (unrunnable.length) system = withNotice(system, serverToolsNotice(unrunnable));
  const gc = generationConfig(body, ctx, !!declared.tools, state);
  const schema = outputSchema(body);
  // Gemini 2.x takes no answer schema beside function calling: the model is told it instead.
  if (schema !== undefined && !gc.responseJsonSchema && !gc.responseSchema) {
    system = withNotice(system, structuredOutputNotice(schema));
  }
  if (system) out.systemInstruction = { parts: [{ text: system }] };
  if (declared.tools) out.tools = declared.tools;
  if (declared.toolConfig) out.toolConfig = declared.toolConfig;
  if (Object.keys(gc).length) out.generationConfig = gc;
  return [out, state, declared.toolsJson];
}
