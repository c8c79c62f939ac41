// An Anthropic conversation's turns as servers that take no system message mid-conversation read
// them: consecutive messages of one role joined, system messages folded into the user turns as
// Claude Code's own reminders are. OpenAI-style and Anthropic-compatible upstreams share it.
import type { ContentBlock, Message } from "../anthropic.ts";
import { flat } from "../flat_string.ts";
import { withoutBillingLine } from "./billing_line.ts";

const NOTE_OPEN = "<system-reminder>\n";
const NOTE_CLOSE = "\n</system-reminder>";

/** A system prompt or message as one text, without Claude Code's billing line. */
export function systemText(system: unknown): string {
  if (typeof system === "string") return withoutBillingLine(system);
  if (!Array.isArray(system)) return "";
  const texts: string[] = [];
  for (const b of system) {
    if (b?.type !== "text" || typeof b.text !== "string") continue;
    const text = withoutBillingLine(b.text);
    if (text.trim()) texts.push(text);
  }
  return texts.join("\n");
}

/**
 * A system message met mid-conversation, as user text: chat templates (Qwen, Llama, Gemma, Mistral
 * on vLLM, llama.cpp, Ollama) refuse any system message but the first. Claude Code's own prompt
 * tells the model that this tag carries the system's words.
 */
function systemNote(text: string): ContentBlock {
  return {
    type: "text",
    text: text.startsWith("<system-reminder>") ? text : flat(NOTE_OPEN, text, NOTE_CLOSE),
  };
}

export function blocksOf(m: Message): ContentBlock[] {
  if (typeof m.content === "string") return [{ type: "text", text: m.content }];
  return Array.isArray(m.content) ? m.content : [];
}

/**
 * The turns as Anthropic reads them: consecutive messages of one role are one turn, so results
 * split over two user messages still answer the calls before them. With `foldSystem`, system
 * messages become user text in the neighbouring user turn (roles keep alternating), and those
 * before any turn join the leading system message. The client's own array when nothing changes.
 */
export function turnsOf(
  messages: Message[],
  foldSystem: boolean,
): { turns: Message[]; lead: string[] } {
  let change = false;
  for (let i = 0; i < messages.length && !change; i++) {
    const role = messages[i].role;
    change = (foldSystem && role === "system") || (i > 0 && role === messages[i - 1].role);
  }
  if (!change) return { turns: messages, lead: [] };
  const turns: Message[] = [];
  const lead: string[] = [];
  // The blocks of the last turn when it is our copy, open to more.
  let merged: ContentBlock[] | undefined;
  for (const m of messages) {
    let role = m.role;
    let blocks: ContentBlock[];
    if (foldSystem && role === "system") {
      const text = systemText(m.content);
      if (!text) continue;
      if (!turns.length) {
        lead.push(text);
        continue;
      }
      role = "user";
      blocks = [systemNote(text)];
    } else blocks = blocksOf(m);
    const last = turns[turns.length - 1];
    if (last?.role !== role) {
      turns.push(role === m.role ? m : { role, content: blocks });
      merged = undefined;
      continue;
    }
    if (!merged) {
      merged = [...blocksOf(last)];
      turns[turns.length - 1] = { role, content: merged };
    }
    // Tool results open their turn, as Anthropic requires ("tool_result blocks must come first"):
    // a system message met between a call and its result goes after the result.
    let at = merged.length;
    for (const b of blocks) {
      if (b.type === "tool_result") {
        while (at > 0 && merged[at - 1].type !== "tool_result") at--;
        merged.splice(at++, 0, b);
      } else merged.push(b);
    }
  }
  return { turns, lead };
}
