// An Anthropic conversation as Chat Completions messages, in the order and roles strict servers
// and chat templates accept.
import type { Message, MessagesRequest } from "../anthropic.ts";
import { flat } from "../flat_string.ts";
import { blocksOf, systemText, turnsOf } from "./message_turns.ts";
import { mistralToolCallId, openaiToolName, toolCallId } from "./openai_names.ts";
import type { Kind } from "./openai_server.ts";
import { serverToolText } from "./server_tool_history.ts";
import { extraContentFor } from "./openai_thought_signatures.ts";
import { carriedIn } from "./openai_reasoning_carry.ts";
import {
  documentContext,
  documentPreamble,
  documentText,
  filesApiNote,
} from "./attachment_text.ts";

// deno-lint-ignore no-explicit-any
type Json = any;
type Part = Record<string, unknown>;
type ChatMessage = Record<string, unknown>;

function imagePart(source: Json): Part | null {
  if (source?.type === "base64" && source.data) {
    return {
      type: "image_url",
      image_url: { url: flat("data:", source.media_type || "image/png", ";base64,", source.data) },
    };
  }
  if (source?.type === "url" && source.url) {
    return { type: "image_url", image_url: { url: source.url } };
  }
  return null;
}

function textPart(text: string): Part | null {
  return text ? { type: "text", text } : null;
}

/**
 * A document as a part; what goes before it (its context, or its title and context) is pushed to
 * `parts` first.
 */
function documentPart(block: Json, parts: Part[], kind: Kind): Part | null {
  const src = block.source ?? {};
  const title = typeof block.title === "string" && block.title ? block.title : "";
  const text = documentText(block);
  if (text !== undefined) {
    const preamble = documentPreamble(block);
    return textPart(preamble && text ? flat(preamble, "\n\n", text) : text);
  }
  if (src.type === "content") {
    const before = textPart(documentPreamble(block));
    if (before) parts.push(before);
    if (typeof src.content === "string") return textPart(src.content);
    if (Array.isArray(src.content)) { for (const b of src.content) pushParts(b, parts, kind); }
    return null;
  }
  const pdf = src.type === "base64" && src.data &&
    (src.media_type ?? "application/pdf") === "application/pdf";
  if (!pdf && !(src.type === "url" && src.url)) return textPart(filesApiNote(block) ?? "");
  const context = textPart(documentContext(block));
  if (context) parts.push(context);
  if (!pdf) return textPart(flat("[document", title ? ` "${title}"` : "", ": ", src.url, "]"));
  // Compatible servers (vLLM, Ollama, llama.cpp, DeepSeek, Groq) refuse file parts outright.
  return kind === "openai"
    ? {
      type: "file",
      file: {
        filename: title || "document.pdf",
        file_data: flat("data:application/pdf;base64,", src.data),
      },
    }
    : textPart(
      flat(
        "[PDF document",
        title ? ` "${title}"` : "",
        " omitted: the upstream does not accept files]",
      ),
    );
}

/** User-side parts for one content block; blocks with no Chat Completions form are dropped. */
function pushParts(block: Json, parts: Part[], kind: Kind): void {
  let part: Part | null = null;
  switch (block?.type) {
    case "text":
      part = typeof block.text === "string" ? textPart(block.text) : null;
      break;
    case "image":
      part = imagePart(block.source) ?? textPart(filesApiNote(block) ?? "");
      break;
    case "document":
      part = documentPart(block, parts, kind);
      break;
    default: {
      const text = block ? serverToolText(block) : undefined;
      if (text) part = textPart(text);
    }
  }
  if (part) parts.push(part);
}

/** A tool message is text only: images in a result travel in a following user message. */
function toolResultText(block: Json, images: Part[], kind: Kind): string {
  const texts: string[] = [];
  let imageCount = 0;
  if (typeof block.content === "string") texts.push(block.content);
  else if (Array.isArray(block.content)) {
    for (const b of block.content) {
      if (b?.type === "image") {
        const img = imagePart(b.source);
        if (img) {
          images.push(img);
          imageCount++;
        } else {
          const note = filesApiNote(b);
          if (note) texts.push(note);
        }
      } else if (b?.type === "text") {
        if (typeof b.text === "string" && b.text) texts.push(b.text);
      } else {
        const parts: Part[] = [];
        pushParts(b, parts, kind);
        for (const p of parts) {
          if (p.type === "text") texts.push(p.text as string);
          else {
            images.push(p);
            imageCount++;
          }
        }
      }
    }
  }
  if (imageCount) {
    texts.push(`[${imageCount} attachment(s) from this result follow in the next message]`);
  }
  let text = texts.join("\n");
  if (!text) text = "(no output)";
  return block.is_error ? flat("Error: ", text) : text;
}

function userContent(parts: Part[]): string | Part[] {
  // Strings suit every compatible server; parts only when something isn't text.
  if (parts.every((p) => p.type === "text")) return parts.map((p) => p.text).join("\n");
  return parts;
}

/** Two user contents as one, for servers that refuse two user messages in a row. */
function joinContent(a: string | Part[], b: string | Part[]): string | Part[] {
  if (typeof a === "string" && typeof b === "string") return flat(a, "\n", b);
  const parts = (c: string | Part[]) => typeof c === "string" ? [{ type: "text", text: c }] : c;
  return [...parts(a), ...parts(b)];
}

interface Conversion {
  kind: Kind;
  /** DeepSeek needs the reasoning of earlier turns back; others (Groq, Cerebras) refuse the field. */
  reasoningBack: boolean;
  /** OpenRouter's reasoning details, carried in thinking signatures, go back on their turn. */
  reasoningDetailsBack?: boolean;
  /** Mistral's rules: its tool call ids, and no user message straight after a tool message. */
  mistral: boolean;
  /** Filled with upstream tool name → the client's name. */
  names: Map<string, string>;
  notice?: string;
  /** The server refused images (a text-only model): each goes as a note saying one was there. */
  noImages?: boolean;
  /** Filled with the client's ids of the conversation's tool calls. */
  callIds?: Set<string>;
  /** Google's endpoint: each tool-call turn carries a thought signature (Gemini 3 checks them). */
  google?: boolean;
}

const IMAGE_NOTE = "[An image was here; this model does not take images.]";

/**
 * An assistant turn as one message (undefined when it holds neither text nor a call), its call
 * ids put in `ids`, each once.
 */
function assistantMessage(
  blocks: Json[],
  c: Conversion,
  callId: (id: unknown) => string,
  ids: string[],
): ChatMessage | undefined {
  const texts: string[] = [];
  const reasoning: string[] = [];
  const details: Json[] = [];
  let thought = false;
  const calls: Json[] = [];
  for (const b of blocks) {
    if (b?.type === "text") {
      if (typeof b.text === "string" && b.text) texts.push(b.text);
    } else if (b?.type === "tool_use") {
      const name = String(b.name ?? "");
      const short = openaiToolName(name);
      c.names.set(short, name);
      const id = typeof b.id === "string" ? b.id : "";
      if (ids.includes(id)) continue;
      ids.push(id);
      const call: Json = {
        id: callId(id),
        type: "function",
        function: {
          name: short,
          arguments: typeof b.input === "string" ? b.input : JSON.stringify(b.input ?? {}),
        },
      };
      const extra = extraContentFor(id, !calls.length, !!c.google);
      if (extra) call.extra_content = extra;
      calls.push(call);
    } else if (b?.type === "thinking") {
      thought = true;
      const carried = carriedIn(b.signature);
      if (typeof b.thinking === "string" && b.thinking) reasoning.push(b.thinking);
      else if (carried?.text) reasoning.push(carried.text);
      if (carried?.details) details.push(...carried.details);
    } else if (b) {
      // What a server tool found stays with the turn, in its place: there is no call to replay.
      const text = serverToolText(b);
      if (text) texts.push(text);
    }
  }
  if (!texts.length && !calls.length) return undefined;
  const m: ChatMessage = { role: "assistant", content: texts.length ? texts.join("\n") : null };
  // Kimi refuses a tool-call turn without the field, even when the client kept no thinking.
  if (c.reasoningBack && (thought || calls.length)) m.reasoning_content = reasoning.join("");
  if (c.reasoningDetailsBack && details.length) m.reasoning_details = details;
  if (calls.length) m.tool_calls = calls;
  return m;
}

/**
 * Appends a message. Turns left empty (thinking only, stray results) would leave two user or two
 * assistant messages in a row, which strict chat templates refuse: such neighbours are joined.
 */
function appendMessage(out: ChatMessage[], m: ChatMessage, mistral: boolean): void {
  const prev = out[out.length - 1];
  if (mistral && prev?.role === "tool" && m.role === "user") {
    // Text after a result (Claude Code's reminders) is read with it; images need a turn between.
    if (typeof m.content === "string") {
      prev.content = flat(prev.content as string, "\n", m.content);
      return;
    }
    out.push({ role: "assistant", content: "(tool results received)" });
  }
  if (prev?.role === "user" && m.role === "user") {
    prev.content = joinContent(prev.content as string | Part[], m.content as string | Part[]);
  } else if (prev?.role === "assistant" && m.role === "assistant" && !prev.tool_calls) {
    if (prev.content === null) prev.content = m.content;
    else if (m.content !== null) {
      prev.content = flat(prev.content as string, "\n", m.content as string);
    }
    if (m.tool_calls) prev.tool_calls = m.tool_calls;
    if (m.reasoning_content !== undefined) {
      prev.reasoning_content = flat(
        String(prev.reasoning_content ?? ""),
        m.reasoning_content as string,
      );
    }
    if (m.reasoning_details) {
      prev.reasoning_details = [
        ...(prev.reasoning_details as unknown[] ?? []),
        ...m.reasoning_details as unknown[],
      ];
    }
  } else out.push(m);
}

export function convertMessages(body: MessagesRequest, c: Conversion) {
  const { kind } = c;
  const callId = c.mistral ? mistralToolCallId : toolCallId;
  const out: ChatMessage[] = [];
  const { turns, lead } = turnsOf((body.messages ?? []) as Message[], kind === "custom");
  const texts = [systemText(body.system), ...lead, c.notice ?? ""].filter(Boolean);
  if (texts.length) out.push({ role: "system", content: texts.join("\n\n") });

  // Calls of the last assistant message not answered yet, by the client's id.
  let pending: string[] = [];
  const answered = new Set<string>();
  // Messages met between a call and its last result: OpenAI needs every result first.
  let deferred: ChatMessage[] = [];
  const settle = () => {
    for (const id of pending) {
      if (!answered.has(id)) {
        out.push({
          role: "tool",
          tool_call_id: callId(id),
          content: "(no result: the call was interrupted)",
        });
      }
    }
    pending = [];
    answered.clear();
    for (const m of deferred) appendMessage(out, m, c.mistral);
    deferred = [];
  };
  // Whether a user turn comes after turn i before the next assistant turn (past system turns).
  const userTurnAhead = (i: number) => {
    for (let j = i + 1; j < turns.length; j++) {
      if (turns[j].role !== "system") return turns[j].role === "user";
    }
    return false;
  };

  for (let i = 0; i < turns.length; i++) {
    const msg = turns[i];
    const blocks: Json[] = blocksOf(msg);

    if (msg.role === "system") {
      const text = systemText(blocks);
      if (!text) continue;
      (pending.length ? deferred : out).push({ role: "system", content: text });
      continue;
    }

    if (msg.role === "assistant") {
      settle();
      const ids: string[] = [];
      const m = assistantMessage(blocks, c, callId, ids);
      if (c.callIds) { for (const id of ids) c.callIds.add(id); }
      if (!m) continue;
      appendMessage(out, m, c.mistral);
      pending = ids;
      continue;
    }

    // user
    const images: Part[] = [];
    const parts: Part[] = [];
    for (const b of blocks) {
      if (b?.type === "tool_result") {
        const id = typeof b.tool_use_id === "string" ? b.tool_use_id : "";
        // A result for no call of the previous assistant turn would be rejected: dropped.
        if (!pending.includes(id) || answered.has(id)) continue;
        answered.add(id);
        out.push({
          role: "tool",
          tool_call_id: callId(id),
          content: toolResultText(b, images, kind),
        });
      } else {
        pushParts(b, parts, kind);
      }
    }
    if (images.length) {
      parts.unshift(
        { type: "text", text: "Attachments from the tool result(s) above:" },
        ...images,
      );
    }
    const message: ChatMessage | undefined = parts.length
      ? { role: "user", content: userContent(parts) }
      : undefined;
    // Results can come in a later user turn, past a system message (the OpenAI kind keeps those
    // as turns of their own): this turn's text waits with the system message until they have.
    if (pending.some((id) => !answered.has(id)) && userTurnAhead(i)) {
      if (message) deferred.push(message);
      continue;
    }
    settle();
    if (message) appendMessage(out, message, c.mistral);
  }
  settle();
  if (c.noImages) {
    for (const m of out) {
      if (!Array.isArray(m.content)) continue;
      m.content = (m.content as Part[]).map((p) =>
        p.type === "image_url" ? { type: "text", text: IMAGE_NOTE } : p
      );
    }
  }
  // A prefill (the answer's start, as the last message): Mistral takes one only marked as such.
  const last = out[out.length - 1];
  if (c.mistral && last?.role === "assistant" && !last.tool_calls) last.prefix = true;
  return out;
}
