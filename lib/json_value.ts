// Checks on parsed JSON, whose shape is only known once looked at.

/** A JSON object (not an array, not null). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A whole count of at least 0, or 0 for anything else (usage an upstream left out or garbled): a
 * client's types say integer, and a strict one refuses 1.5 tokens or 1e308.
 */
export function countOr0(v: unknown): number {
  return typeof v === "number" && v > 0 && v <= Number.MAX_SAFE_INTEGER ? Math.floor(v) : 0;
}
