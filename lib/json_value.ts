// Checks on parsed JSON, whose shape is only known once looked at.

/** A JSON object (not an array, not null). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A finite number, or 0 for anything else (usage counts an upstream left out). */
export function countOr0(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}
