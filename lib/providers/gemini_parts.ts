// One client content block as Gemini parts: text, images and documents.
import { flat } from "../flat_string.ts";
import { isObject } from "../json_value.ts";
import { gifToPng } from "../gif_to_png.ts";
import { documentPreamble, documentText, filesApiNote } from "./attachment_text.ts";

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

/** Image types Gemini refuses under these names, as it takes them. */
const GEMINI_IMAGE_TYPE = new Map([["image/jpg", "image/jpeg"]]);

/** An image block as parts: its data, its URL, or a note where Gemini cannot take it. */
function imageParts(block: Block, source: Block): Part[] {
  if (source.type === "base64" && typeof source.data === "string" && source.data) {
    const given = String(source.media_type || "image/png").toLowerCase();
    const mimeType = GEMINI_IMAGE_TYPE.get(given) ?? given;
    // A GIF stays one until convertGifs(), which weighs the request's GIFs together.
    return [{ inlineData: { mimeType, data: source.data } }];
  }
  if (source.type === "url" && typeof source.url === "string") {
    const mimeType = guessMime(source.url, "image/jpeg");
    if (mimeType === "image/gif") return [{ text: gifNote(source.url) }];
    return [{ fileData: { mimeType, fileUri: source.url } }];
  }
  return [{
    text: filesApiNote(block) ?? "[An image was attached here but could not be forwarded.]",
  }];
}

/**
 * Pixels of GIF made PNG for one request, its count_tokens included, duplicates counted again: a
 * few KB of GIF can stand for megabytes of pixels, and a request may hold many.
 */
const GIF_PIXELS_PER_REQUEST = 4_000_000;

/**
 * Gemini refuses GIF images (400 "Unsupported MIME type"), and with one the whole history: each
 * inline GIF becomes a PNG of its first frame while the request's budget lasts; one that cannot be
 * read, is over the budget, or is at a URL (not fetched here) is named in a note instead.
 */
export function convertGifs(contents: Array<{ parts: Part[] }>): void {
  let budget = GIF_PIXELS_PER_REQUEST;
  const done = new Map<string, { png: string; pixels: number } | undefined>();
  for (const content of contents) {
    for (const part of content.parts) {
      const inline = part.inlineData as { mimeType?: string; data?: string } | undefined;
      if (inline?.mimeType !== "image/gif" || typeof inline.data !== "string") continue;
      let converted = done.get(inline.data);
      if (!done.has(inline.data)) done.set(inline.data, converted = pngOfGif(inline.data, budget));
      if (converted && converted.pixels <= budget) {
        budget -= converted.pixels;
        part.inlineData = { mimeType: "image/png", data: converted.png };
      } else {
        delete part.inlineData;
        part.text = gifNote();
      }
    }
  }
}

function pngOfGif(base64: string, maxPixels: number): { png: string; pixels: number } | undefined {
  let gif: Uint8Array;
  try {
    gif = Uint8Array.fromBase64(base64);
  } catch {
    return undefined;
  }
  const png = gifToPng(gif, maxPixels);
  return png && { png: png.bytes.toBase64(), pixels: png.pixels };
}

function gifNote(url?: string): string {
  return `[A GIF image${
    url ? ` (${url})` : ""
  } was attached here; Gemini does not accept GIF images]`;
}

/** An image or document block as parts (inline data, a file URI, or its text). */
export function mediaParts(block: Block): Part[] {
  const source = isObject(block.source) ? block.source : undefined;
  if (!source) return [];
  if (block.type === "image") return imageParts(block, source);
  if (block.type !== "document") return [];
  const preamble = documentPreamble(block);
  const text = documentText(block);
  if (text !== undefined) return textParts(preamble && text ? flat(preamble, "\n\n", text) : text);
  const parts = textParts(preamble);
  if (source.type === "base64" && typeof source.data === "string" && source.data) {
    const mimeType = String(source.media_type || "application/pdf");
    parts.push({ inlineData: { mimeType, data: source.data } });
  } else if (source.type === "url" && typeof source.url === "string") {
    parts.push({
      fileData: { mimeType: guessMime(source.url, "application/pdf"), fileUri: source.url },
    });
  } else if (source.type === "content") {
    for (const b of blocksOf(source.content)) {
      parts.push(...(b.type === "text" ? textParts(b.text) : mediaParts(b)));
    }
  } else {
    return textParts(filesApiNote(block) ?? "");
  }
  return parts;
}
