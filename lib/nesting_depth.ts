// A request's arrays and objects nested past any real use: re-serialising such a value for an
// upstream (JSON.stringify checks each level against those above it) took time that grows with
// the square of the depth, the event loop blocked for seconds at a million levels.
import { sharedTools } from "./parse_body.ts";

/** Deeper than any schema, tool input or message a client writes. */
export const MAX_NESTING = 256;

/** Tools arrays a client sends every time, checked once. */
const checked = new WeakSet<object>();

/** The top-level member of a parsed body that nests deeper than MAX_NESTING, if any. */
export function tooDeeplyNested(body: Record<string, unknown>): string | undefined {
  for (const key in body) {
    const value = body[key];
    if (value === null || typeof value !== "object") continue;
    const remembered = key === "tools" && sharedTools(value);
    if (remembered && checked.has(value)) continue;
    if (deeper(value, MAX_NESTING)) return key;
    if (remembered) checked.add(value);
  }
  return undefined;
}

/** Whether a JSON value nests arrays and objects more than `levels` deep. */
export function nestsDeeper(value: unknown, levels: number): boolean {
  return value !== null && typeof value === "object" && deeper(value, levels);
}

function deeper(value: object, levels: number): boolean {
  if (levels === 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item !== null && typeof item === "object" && deeper(item, levels - 1)) return true;
    }
    return false;
  }
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== null && typeof item === "object" && deeper(item, levels - 1)) return true;
  }
  return false;
}
