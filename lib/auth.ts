// Credential checks that do not leak, through timing, how much of a guess was right.
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

const encoder = new TextEncoder();

// Synchronous hashing: it runs on every request, and WebCrypto's async digest costs far more.
// Not node:crypto: loading Deno's Node layer for it cost the server 40 ms and 5 MB at start.
function digest(text: string): Uint8Array {
  return sha256(encoder.encode(text));
}

/** The SHA-256 of the text's UTF-8, in hex. */
export function sha256Hex(text: string): string {
  return bytesToHex(digest(text));
}

/** Whether two digests are equal, every byte looked at whatever the first difference. */
function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Compares two secrets in constant time (both are hashed first, so lengths do not leak). */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * A checker for one fixed secret, hashed once. Keys that matched are remembered, so the usual
 * client costs a map lookup (which does not compare the guess with the secret character by
 * character) instead of a hash.
 */
export function secretMatcher(expected: string): (given: string) => boolean {
  const want = digest(expected);
  const accepted = new Set<string>();
  return (given) => {
    if (accepted.has(given)) return true;
    const ok = timingSafeEqual(digest(given), want);
    if (ok) accepted.add(given);
    return ok;
  };
}

/** The bearer token of an `Authorization` header, if it holds one. */
export function bearerOf(headers: Headers): string | undefined {
  const m = headers.get("authorization")?.match(/^Bearer\s+(.+)$/i);
  return m ? m[1].trim() : undefined;
}

/**
 * The key a client sent that `matches`, from `x-api-key` or `Authorization: Bearer`; else the one
 * it sent (for the refusal), or undefined. Both are tried: Claude Code sends both when the proxy
 * key is its auth token and another ANTHROPIC_API_KEY is left in the environment.
 */
export function clientKeyFrom(
  headers: Headers,
  matches: (given: string) => boolean,
): { key: string; ok: boolean } | undefined {
  const apiKey = headers.get("x-api-key")?.trim();
  if (apiKey && matches(apiKey)) return { key: apiKey, ok: true };
  const bearer = bearerOf(headers);
  if (bearer && bearer !== apiKey && matches(bearer)) return { key: bearer, ok: true };
  const given = apiKey || bearer;
  return given ? { key: given, ok: false } : undefined;
}
