// Cutting text by UTF-16 length can halve a character: a lone surrogate then goes out as U+FFFD
// (or an escape some servers refuse), and two cut names that differed in that half become one.

/** At most `max` UTF-16 units of `text`, one fewer when the last would be half a character. */
export function sliceWhole(text: string, max: number): string {
  if (text.length <= max) return text;
  const c = text.charCodeAt(max - 1);
  return text.slice(0, c >= 0xd800 && c <= 0xdbff ? max - 1 : max);
}
