// Gemini 3 through Google's OpenAI-compatible endpoint signs its tool calls
// (`extra_content.google.thought_signature`) and answers 400 to a later request whose tool-call
// turns lack them. Anthropic's blocks have no field for one: it rides in the tool_use id, as the
// native Gemini provider carries its own.
import { fromB64url } from "../base64url.ts";
import { isObject } from "../json_value.ts";
import { signatureForId, SKIP_SIGNATURE } from "./gemini_thought_signatures.ts";

/** Between the server's call id and the signature, in the id the client is given. */
const MARK = "__gts";

/** The signature a server's tool call carries, if any that can ride in an id. */
export function callSignature(call: unknown): string | undefined {
  if (!isObject(call) || !isObject(call.extra_content)) return undefined;
  const google = call.extra_content.google;
  const signature = isObject(google) ? google.thought_signature : undefined;
  return typeof signature === "string" && signatureForId(signature) ? signature : undefined;
}

/**
 * The client's id for a call: `id`, with the call's signature when it has one that fits (a longer
 * one is left out, and the skip value stands in).
 */
export function withSignature(id: string, signature: string | undefined): string {
  const carried = signatureForId(signature);
  return carried ? `${id}${MARK}${carried}` : id;
}

const CARRIED = /^[A-Za-z0-9_-]+$/;

/** The signature a client's tool_use id carries back, if any (and if it is one). */
export function signatureIn(id: string): string | undefined {
  const at = id.indexOf(MARK);
  if (at === -1) return undefined;
  const carried = id.slice(at + MARK.length);
  return CARRIED.test(carried) ? fromB64url(carried) : undefined;
}

/**
 * The `extra_content` to send with a history tool call to Google's endpoint: its own signature,
 * or for a turn's first call (the one Gemini checks) the stand-in Google documents for history
 * from elsewhere. Other servers get none: Mistral, for one, refuses the field.
 */
export function extraContentFor(
  id: string,
  firstOfTurn: boolean,
  google: boolean,
): Record<string, unknown> | undefined {
  if (!google) return undefined;
  const signature = signatureIn(id) ?? (firstOfTurn ? SKIP_SIGNATURE : undefined);
  return signature ? { google: { thought_signature: signature } } : undefined;
}
