// Tool names and tool call ids as OpenAI-compatible servers take them, shortened by a stable hash
// where the client's do not fit.
import { flat } from "../flat_string.ts";

const TOOL_NAME_RE = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX_TOOL_ID = 40; // api.openai.com rejects longer tool_call ids

/** A stable 64-bit hex digest (cyrb53-style); synchronous, since buildRequest is. */
export function hashHex(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h2 >>> 0).toString(16).padStart(8, "0") + (h1 >>> 0).toString(16).padStart(8, "0");
}

/**
 * The upstream name of a tool: unchanged when valid, otherwise cleaned, cut and suffixed with a hash
 * of the original so distinct names stay distinct and the same name always maps the same way.
 */
export function openaiToolName(name: string): string {
  if (TOOL_NAME_RE.test(name)) return name;
  const clean = name.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 55);
  return flat(clean, "_", hashHex(name).slice(0, 8));
}

export function toolCallId(id: unknown): string {
  const raw = typeof id === "string" && id ? id : "call_missing";
  return raw.length <= MAX_TOOL_ID ? raw : flat(raw.slice(0, 31), "_", hashHex(raw).slice(0, 8));
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const MISTRAL_TOOL_ID = /^[a-zA-Z0-9]{9}$/;

/**
 * A tool call id as Mistral takes it: exactly 9 letters and digits. Claude Code's `toolu_…` ids
 * (and any other upstream's) are mapped by a hash, the same way on the call and on its result.
 */
export function mistralToolCallId(id: unknown): string {
  const raw = typeof id === "string" ? id : "";
  if (MISTRAL_TOOL_ID.test(raw)) return raw;
  let n = BigInt(`0x${hashHex(raw)}`);
  let out = "";
  for (let i = 0; i < 9; i++, n /= 62n) out += BASE62[Number(n % 62n)];
  return out;
}
