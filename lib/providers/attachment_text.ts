// What translated upstreams are told of an attachment beside (or instead of) its data: a
// document's title and context, which Anthropic shows the model, and a note in the place of what
// the upstream cannot be given, so the turn keeps its place and the model knows something was there.
import { b64urlToText, toB64url } from "../base64url.ts";

type Block = Record<string, unknown>;

function text(value: unknown): string {
  return typeof value === "string" ? value.trim() : "";
}

/** A document's title and context, as text to go before it ("" when it has neither). */
export function documentPreamble(block: Block): string {
  return [text(block.title), text(block.context)].filter(Boolean).join("\n\n");
}

/** A plain-text document's text (given as text, or as base64 of a text/* type), else undefined. */
export function documentText(block: Block): string | undefined {
  const source = block.source as Block | undefined;
  if (source?.type === "text" && typeof source.data === "string") return source.data;
  if (
    source?.type === "base64" && typeof source.data === "string" &&
    String(source.media_type).startsWith("text/")
  ) {
    try {
      return b64urlToText(toB64url(source.data));
    } catch { /* not base64 after all */ }
  }
  return undefined;
}

/** A document's context alone, for a document whose title travels with it. */
export function documentContext(block: Block): string {
  return text(block.context);
}

/** The note for an image or document from Anthropic's Files API, which no other upstream reads. */
export function filesApiNote(block: Block): string | undefined {
  const source = block.source as Block | undefined;
  if (source?.type !== "file") return undefined;
  const id = text(source.file_id);
  return `[${block.type === "image" ? "An image" : "A document"} from Anthropic's Files API${
    id ? ` (${id})` : ""
  } was attached here; this upstream cannot read those files]`;
}
