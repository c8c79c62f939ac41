// The part of omggif (no types of its own) the tests use.
export class GifWriter {
  constructor(
    buf: Uint8Array,
    width: number,
    height: number,
    options?: { palette?: number[]; background?: number; loop?: number },
  );
  addFrame(
    x: number,
    y: number,
    width: number,
    height: number,
    pixels: number[],
    options?: { transparent?: number; palette?: number[]; delay?: number },
  ): number;
  end(): number;
}
