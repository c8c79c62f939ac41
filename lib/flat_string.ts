// V8's JSON.stringify keeps to its fast path only while every string it meets is flat; one rope
// (what `+` and template literals make from 13 characters up) sends the whole document down the
// slow path, three times the cost for Claude Code's 85 KB request. Array.join of two or more
// non-empty parts makes a flat string.

/** The parts concatenated into one flat string (given at least two non-empty parts). */
export function flat(...parts: string[]): string {
  return parts.join("");
}
