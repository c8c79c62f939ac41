/** A figure read from an upstream's message: a whole number above zero, or undefined. */
export function positiveInt(text: string | undefined): number | undefined {
  const n = text === undefined ? NaN : Number(text);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}
