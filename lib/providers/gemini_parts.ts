// One client content block as Gemini parts: text, images and documents.
import { b64urlToText, toB64url } from "../base64url.ts";
import { flat } from "../flat_string.ts";
import { isObject } from "../json_value.ts";

export type Part = Record<string, unknown>;
/** Client content blocks, read defensively: clients send shapes the types do not list. */
export type Block = Record<string, unknown>;

export function blocksOf(content: unknown): Block[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  return Array.isArray(content) ? content.filter(isObject) : [];
}

/** Gemini rejects empty text: a blank string gives no part at all. */
export function textParts(text: unknown): Part[] {
  return typeof text === "string" && text.trim() ? [{ text }] : [];
}

const MIME_BY_EXT: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  heic: "image/heic",
  heif: "image/heif",
  pdf: "application/pdf",
  txt: "text/plain",
};

function guessMime(url: string, fallback: string): string {
  const ext = /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(url)?.[1]?.toLowerCase();
  return (ext && Object.hasOwn(MIME_BY_EXT, ext) && MIME_BY_EXT[ext]) || fallback;
}

/** An image or document block as parts (inline data, a file URI, or its text). */
export function mediaParts(block: Block): Part[] {
  const source = isObject(block.source) ? block.source : undefined;
  if (!source) return [];
  if (block.type === "image") {
    if (source.type === "base64" && typeof source.data === "string" && source.data) {
      return [{
        inlineData: { mimeType: String(source.media_type || "image/png"), data: source.data },
      }];
    }
    if (source.type === "url" && typeof source.url === "string") {
      return [{ fileData: { mimeType: guessMime(source.url, "image/jpeg"), fileUri: source.url } }];
    }
    return [{ text: "[An image was attached here but could not be forwarded.]" }];
  }
  if (block.type !== "document") return [];
  const title = typeof block.title === "string" && block.title ? `${block.title}\n\n` : "";
  if (source.type === "base64" && typeof source.data === "string" && source.data) {
    const mimeType = String(source.media_type || "application/pdf");
    if (mimeType.startsWith("text/")) {
      try {
        return textParts(flat(title, b64urlToText(toB64url(source.data))));
      } catch { /* not base64 after all: send it as data */ }
    }
    return [{ inlineData: { mimeType, data: source.data } }];
  }
  if (source.type === "text" && typeof source.data === "string") {
    return textParts(title + source.data);
  }
  if (source.type === "url" && typeof source.url === "string") {
    return [{
      fileData: { mimeType: guessMime(source.url, "application/pdf"), fileUri: source.url },
    }];
  }
  if (source.type === "content") {
    const parts: Part[] = textParts(title);
    for (const b of blocksOf(source.content)) {
      parts.push(...(b.type === "text" ? textParts(b.text) : mediaParts(b)));
    }
    return parts;
  }
  return [];
}
