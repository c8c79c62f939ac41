// A local token estimate for count_tokens and the first usage figure of a stream: about four
// characters a token for text and JSON, a flat cost per image, and per page of a PDF.
import type { ContentBlock, MessagesRequest } from "./anthropic.ts";
import { oncePerSharedTools, sharedTools } from "./parse_body.ts";
import { clientToolSpec } from "./providers/client_tool_schemas.ts";
import { serverToolText } from "./providers/server_tool_history.ts";
import { documentPreamble, documentText } from "./providers/attachment_text.ts";
import { carriedChars } from "./providers/openai_reasoning_carry.ts";

const IMAGE_TOKENS = 1_600;
/** Anthropic counts 1,500 to 3,000 tokens a PDF page: its text, and the page as an image. */
const PDF_PAGE_TOKENS = 2_000;

function documentChars(block: ContentBlock): number {
  const doc = block as unknown as Record<string, unknown>;
  const source = doc.source as Record<string, unknown> | undefined;
  const preamble = documentPreamble(doc).length;
  const text = documentText(doc);
  if (text !== undefined) return preamble + text.length;
  if (source?.type === "content") {
    const content = source.content;
    if (typeof content === "string") return preamble + content.length;
    if (Array.isArray(content)) {
      return content.reduce((n: number, b: ContentBlock) => n + blockChars(b), preamble);
    }
  }
  if (
    source?.type === "base64" && typeof source.data === "string" &&
    (source.media_type ?? "application/pdf") === "application/pdf"
  ) {
    return preamble + pdfPages(source.data) * PDF_PAGE_TOKENS * 4;
  }
  return preamble + IMAGE_TOKENS * 4;
}

/**
 * Page objects in a PDF, or its page tree's count when they are compressed out of sight; at least
 * one. Remembered: Claude Code sends the same PDF again with every turn.
 */
function pdfPages(base64: string): number {
  const key = `${base64.length}:${base64.slice(0, 64)}:${base64.slice(-64)}`;
  let pages = pageCounts.get(key);
  if (pages === undefined) {
    pages = 1;
    try {
      const pdf = atob(base64);
      const objects = pdf.match(/\/Type\s*\/Page(?![A-Za-z])/g)?.length ?? 0;
      let counted = 0;
      for (const m of pdf.matchAll(/\/Count\s+(\d+)/g)) counted = Math.max(counted, +m[1]);
      // A page takes some hundred bytes at the least: a count past that is not to be believed.
      pages = Math.max(1, Math.min(objects || counted, Math.ceil(pdf.length / 100)));
    } catch { /* not base64: one page's worth */ }
    if (pageCounts.size >= 64) pageCounts.delete(pageCounts.keys().next().value!);
    pageCounts.set(key, pages);
  }
  return pages;
}
const pageCounts = new Map<string, number>();

function blockChars(block: ContentBlock): number {
  switch (block.type) {
    case "text":
      return (block as { text: string }).text?.length ?? 0;
    case "thinking": {
      const { thinking, signature } = block as { thinking?: string; signature?: unknown };
      // Reasoning the client does not see still goes upstream (DeepSeek's, carried in the signature).
      return thinking?.length || carriedChars(signature);
    }
    case "image":
      return IMAGE_TOKENS * 4;
    case "document":
      return documentChars(block);
    case "tool_use":
      return JSON.stringify((block as { input: unknown }).input ?? {}).length +
        String((block as { name: string }).name).length;
    case "tool_result": {
      const content = (block as { content?: unknown }).content;
      if (typeof content === "string") return content.length;
      if (Array.isArray(content)) {
        return content.reduce((n: number, b: ContentBlock) => n + blockChars(b), 0);
      }
      return 0;
    }
    default:
      // What a server tool found goes to translated upstreams as a note, its encrypted parts left
      // out; Anthropic's own count serves Anthropic upstreams.
      return serverToolText(block as Record<string, unknown>)?.length ??
        JSON.stringify(block).length;
  }
}

/**
 * The tools as a translated upstream is sent them: an Anthropic-defined client tool (bash, the
 * text editor…) comes as a type and a name, and goes as a schema some hundred tokens long.
 */
function toolsChars(tools: readonly unknown[]): number {
  let chars = JSON.stringify(tools).length;
  for (const tool of tools) {
    const spec = clientToolSpec(tool);
    if (spec) chars += JSON.stringify(spec).length - JSON.stringify(tool).length;
  }
  return chars;
}

// Claude Code sends the same tools with every count: their length is worked out once.
const sharedToolsChars = oncePerSharedTools(toolsChars);

export function estimateTokens(
  body: Pick<MessagesRequest, "system" | "messages" | "tools">,
): number {
  let chars = 0;
  if (typeof body.system === "string") chars += body.system.length;
  else if (Array.isArray(body.system)) {
    for (const b of body.system) {
      chars += b.text?.length ?? 0;
    }
  }
  for (const m of body.messages ?? []) {
    chars += 8;
    if (typeof m.content === "string") chars += m.content.length;
    else for (const b of m.content) chars += blockChars(b);
  }
  const tools = body.tools;
  if (tools?.length) chars += sharedTools(tools) ? sharedToolsChars(tools) : toolsChars(tools);
  return Math.max(1, Math.ceil(chars / 4));
}

/**
 * The first figure of a stream's input tokens: the body's length is enough (the real count comes
 * in the last event) unless images or documents would inflate it.
 */
export function firstInputEstimate(body: MessagesRequest, raw: string): number {
  return holdsAttachments(body.messages) ? estimateTokens(body) : Math.ceil(raw.length / 4);
}

function holdsAttachments(blocks: readonly unknown[] | undefined): boolean {
  for (const item of blocks ?? []) {
    const b = item as { type?: unknown; content?: unknown };
    if (b?.type === "image" || b?.type === "document") return true;
    if (Array.isArray(b?.content) && holdsAttachments(b.content)) return true;
  }
  return false;
}
