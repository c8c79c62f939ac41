// Credential checks that do not leak, through timing, how much of a guess was right.
import { timingSafeEqual } from "node:crypto";

const encoder = new TextEncoder();

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** Compares two secrets in constant time (both are hashed first, so lengths do not leak). */
export async function secretsEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(given), digest(expected)]);
  return timingSafeEqual(a, b);
}

/** The key a client sent, from `x-api-key` or `Authorization: Bearer`. */
export function clientKeyFrom(headers: Headers): string | undefined {
  const apiKey = headers.get("x-api-key");
  if (apiKey) return apiKey.trim();
  const auth = headers.get("authorization");
  const m = auth?.match(/^Bearer\s+(.+)$/i);
  return m ? m[1].trim() : undefined;
}
