// Gemini wants each thoughtSignature back on the part it came with, but Anthropic's blocks have no
// field for it: it rides in the tool_use id, or in the signature of a thinking block.
import type { MessagesRequest } from "../anthropic.ts";
import type { CallContext } from "./types.ts";
import { newId } from "../anthropic.ts";
import { b64urlToText, fromB64url, textToB64url, toB64url } from "../base64url.ts";
import { isObject } from "../json_value.ts";
import { shortHash } from "../short_hash.ts";
import { modelName } from "./gemini_call.ts";

/** Google's documented stand-in for a signature Gemini never issued (history from elsewhere). */
export const SKIP_SIGNATURE = "skip_thought_signature_validator";
/** Prefix of the thinking-block signatures this provider mints, to tell them from Anthropic's. */
export const SIGNATURE_PREFIX = "gsig:";
/** Longer signatures ride in a thinking block instead of the tool id, to keep ids reasonable. */
const MAX_SIGNATURE_IN_ID = 6000;

export const ID_HEAD = /^toolu_01[0-9A-Za-z]{24}/;

/**
 * Names the model and key a signature was issued for: signatures do not carry over to another
 * model (or, reportedly, key), so a replay elsewhere falls back to the skip value.
 */
export function fingerprint(ctx: CallContext): string {
  return fingerprintOf(ctx.model, ctx.apiKey);
}

function fingerprintOf(model: string, apiKey: string): string {
  return shortHash(`${modelName(model)}\n${apiKey}`);
}

/**
 * The key among `keys` that issued the signatures the history's latest model turn carries back:
 * they are good only with it, so it is tried first, whatever the strategy (under round-robin each
 * turn would otherwise go to another key and every signature be replaced by the skip value).
 */
export function issuingKey(
  body: MessagesRequest,
  model: string,
  keys: readonly string[],
): string | undefined {
  const messages = body.messages ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role !== "assistant" || !Array.isArray(m.content)) continue;
    for (const b of m.content) {
      const fp = b?.type === "tool_use" && typeof b.id === "string"
        ? parseToolId(b.id)?.fp
        : b?.type === "thinking"
        ? readCarry(b.signature)?.f
        : undefined;
      if (fp) return keys.find((key) => fingerprintOf(model, key) === fp);
    }
  }
  return undefined;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * A signature as id characters (URL-safe base64) when it is base64 and short enough to ride in a
 * tool_use id; anything else would make the id one clients refuse, or one too long to keep.
 */
export function signatureForId(signature: unknown): string | undefined {
  if (typeof signature !== "string" || !BASE64.test(signature)) return undefined;
  const carried = toB64url(signature);
  return carried.length <= MAX_SIGNATURE_IN_ID ? carried : undefined;
}

/**
 * `toolu_01<24>` alone, or followed by `__<fingerprint>`, then `i<len>_<gemini id>` when Gemini
 * named the call, then `s<signature>`; all URL-safe base64, so the id still matches
 * `^[a-zA-Z0-9_-]+$`. Returns whether the signature fit.
 */
export function mintToolId(fp: string, signature?: string, geminiId?: string): [string, boolean] {
  const head = newId("toolu");
  const sig = signatureForId(signature);
  const fits = sig !== undefined;
  if (!fits && !geminiId) return [head, false];
  const parts = [head, "__", fp];
  if (geminiId) {
    const g = textToB64url(geminiId);
    parts.push("i", String(g.length), "_", g);
  }
  if (fits) parts.push("s", sig);
  return [parts.join(""), fits];
}

interface ToolIdInfo {
  head: string;
  fp?: string;
  geminiId?: string;
  signature?: string;
}

export function parseToolId(id: string): ToolIdInfo | undefined {
  const head = ID_HEAD.exec(id)?.[0];
  if (!head) return undefined;
  let rest = id.slice(head.length);
  if (!rest) return { head };
  const fp = /^__([0-9a-z]{7})/.exec(rest)?.[1];
  if (!fp) return undefined;
  rest = rest.slice(9);
  const info: ToolIdInfo = { head, fp };
  const idMatch = /^i(\d+)_/.exec(rest);
  if (idMatch) {
    const len = Number(idMatch[1]);
    try {
      info.geminiId = b64urlToText(rest.slice(idMatch[0].length, idMatch[0].length + len));
    } catch {
      return undefined;
    }
    rest = rest.slice(idMatch[0].length + len);
  }
  if (rest.startsWith("s")) info.signature = fromB64url(rest.slice(1));
  else if (rest) return undefined;
  return info;
}

/** What a thinking block's signature carries: `t` for a text part, `c` per tool id head. */
export interface Carry {
  f?: string;
  t?: string;
  c?: Record<string, string>;
}

export function readCarry(signature: unknown): Carry | undefined {
  if (typeof signature !== "string" || !signature.startsWith(SIGNATURE_PREFIX)) return undefined;
  try {
    const c = JSON.parse(signature.slice(SIGNATURE_PREFIX.length));
    return isObject(c) ? c as Carry : undefined;
  } catch {
    return undefined;
  }
}
