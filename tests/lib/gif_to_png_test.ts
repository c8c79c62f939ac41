// GIFs written by an independent encoder (omggif's GifWriter) come out as PNGs that show the same
// pixels, checked through node:zlib (checksums included), not through the code under test.
import assert from "node:assert/strict";
import { crc32, inflateSync } from "node:zlib";
// @ts-types="./omggif.d.ts"
import { GifWriter } from "omggif";
import { gifToPng } from "../../lib/gif_to_png.ts";

interface FrameSpec {
  x?: number;
  y?: number;
  width: number;
  height: number;
  pixels: number[];
  transparent?: number;
}

function gif(
  screen: { width: number; height: number; palette: number[]; background?: number },
  frames: FrameSpec[],
): Uint8Array {
  const buf = new Uint8Array(1 << 20);
  const writer = new GifWriter(buf, screen.width, screen.height, {
    palette: screen.palette,
    ...(screen.background ? { background: screen.background } : {}),
    loop: frames.length > 1 ? 0 : undefined,
  });
  for (const f of frames) {
    writer.addFrame(f.x ?? 0, f.y ?? 0, f.width, f.height, f.pixels, {
      transparent: f.transparent,
    });
  }
  return buf.slice(0, writer.end());
}

interface Png {
  width: number;
  height: number;
  /** 0xRRGGBBAA per pixel. */
  rgba: number[];
}

/** Reads an 8-bit indexed PNG, checking every chunk's CRC and the zlib stream's checksum. */
function readPng(png: Uint8Array): Png {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let pos = 8;
  const chunks = new Map<string, Uint8Array>();
  const idat: Uint8Array[] = [];
  for (;;) {
    const length = view.getUint32(pos);
    const type = String.fromCharCode(...png.subarray(pos + 4, pos + 8));
    const data = png.subarray(pos + 8, pos + 8 + length);
    assert.equal(view.getUint32(pos + 8 + length), crc32(png.subarray(pos + 4, pos + 8 + length)));
    if (type === "IDAT") idat.push(data);
    else chunks.set(type, data);
    pos += 12 + length;
    if (type === "IEND") break;
  }
  assert.equal(pos, png.length);
  const header = chunks.get("IHDR")!;
  const hv = new DataView(header.buffer, header.byteOffset, 13);
  const width = hv.getUint32(0);
  const height = hv.getUint32(4);
  assert.deepEqual([...header.subarray(8)], [8, 3, 0, 0, 0]);
  const palette = chunks.get("PLTE")!;
  const alpha = chunks.get("tRNS") ?? new Uint8Array(0);
  const rows = inflateSync(new Uint8Array(idat.flatMap((d) => [...d])));
  assert.equal(rows.length, height * (width + 1));
  const rgba: number[] = [];
  for (let y = 0; y < height; y++) {
    assert.equal(rows[y * (width + 1)], 0, "no filter");
    for (let x = 0; x < width; x++) {
      const i = rows[y * (width + 1) + 1 + x];
      assert.ok(i * 3 + 2 < palette.length, `index ${i} has a colour`);
      const a = i < alpha.length ? alpha[i] : 255;
      rgba.push(
        ((palette[i * 3] << 24) | (palette[i * 3 + 1] << 16) | (palette[i * 3 + 2] << 8) | a) >>>
          0,
      );
    }
  }
  return { width, height, rgba };
}

const opaque = (rgb: number) => ((rgb << 8) | 255) >>> 0;

/** 256 distinct colours. */
const PALETTE = Array.from({ length: 256 }, (_, i) => (i * 0x010305 + 0x102030) & 0xffffff);

Deno.test("a GIF becomes a PNG of the same pixels, through LZW codes of every width", () => {
  // Noise-like indices fill the 4096-code table: the encoder clears it, the decoder must follow.
  const width = 173;
  const height = 91;
  const pixels = Array.from({ length: width * height }, (_, i) => (i * 7919 + (i >> 3)) % 251);
  const png = readPng(
    gifToPng(gif({ width, height, palette: PALETTE }, [{ width, height, pixels }]))!.bytes,
  );
  assert.equal(png.width, width);
  assert.equal(png.height, height);
  assert.deepEqual(png.rgba, pixels.map((i) => opaque(PALETTE[i])));
});

Deno.test("a GIF of long runs (codes for long strings) comes out whole", () => {
  const width = 300;
  const height = 40;
  const pixels = Array.from({ length: width * height }, (_, i) => Math.floor(i / 977) % 4);
  const palette = [0xff0000, 0x00ff00, 0x0000ff, 0xffffff];
  const png = readPng(
    gifToPng(gif({ width, height, palette }, [{ width, height, pixels }]))!.bytes,
  );
  assert.deepEqual(png.rgba, pixels.map((i) => opaque(palette[i])));
});

Deno.test("an interlaced GIF comes out with its rows in order", () => {
  const width = 13;
  const height = 21;
  const pixels = Array.from({ length: width * height }, (_, i) => Math.floor(i / width) % 16);
  // The rows written in the four passes' order, and the descriptor's interlace flag set.
  const order: number[] = [];
  for (const [start, step] of [[0, 8], [4, 8], [2, 4], [1, 2]]) {
    for (let y = start; y < height; y += step) order.push(y);
  }
  const stored = order.flatMap((y) => pixels.slice(y * width, (y + 1) * width));
  const bytes = gif({ width, height, palette: PALETTE.slice(0, 16) }, [{
    width,
    height,
    pixels: stored,
  }]);
  const descriptor = bytes.indexOf(0x2c, 13 + 48);
  bytes[descriptor + 9] |= 0x40;
  const png = readPng(gifToPng(bytes)!.bytes);
  assert.deepEqual(png.rgba, pixels.map((i) => opaque(PALETTE[i])));
});

Deno.test("an animation gives its first frame; what the frame leaves uncovered is see-through", () => {
  const frame = { x: 2, y: 1, width: 3, height: 2, pixels: [1, 2, 0, 0, 2, 1], transparent: 3 };
  const bytes = gif({ width: 6, height: 4, palette: [0x0000ff, 0xff0000, 0x00ff00, 0x777777] }, [
    frame,
    { width: 6, height: 4, pixels: Array(24).fill(3) },
  ]);
  const png = readPng(gifToPng(bytes)!.bytes);
  assert.equal(png.width, 6);
  assert.equal(png.height, 4);
  const clear = 0x77777700; // the see-through entry's colour, with no alpha
  const [r, g, b] = [0xff0000ff, 0x00ff00ff, 0x0000ffff];
  assert.deepEqual(png.rgba, [
    ...[clear, clear, clear, clear, clear, clear],
    ...[clear, clear, r, g, b, clear],
    ...[clear, clear, b, g, r, clear],
    ...[clear, clear, clear, clear, clear, clear],
  ]);
});

Deno.test("what is not a readable GIF gives no PNG, and no error", () => {
  const good = gif({ width: 4, height: 4, palette: [0, 0xffffff] }, [{
    width: 4,
    height: 4,
    pixels: Array(16).fill(1),
  }]);
  for (
    const bytes of [
      new Uint8Array(0),
      new TextEncoder().encode("GIF89a"),
      new TextEncoder().encode("not a gif at all, just text"),
      good.subarray(0, 20),
      good.subarray(0, good.length - 8),
    ]
  ) {
    assert.equal(gifToPng(bytes), undefined);
  }
  // A screen of 5000 × 5000 would make a PNG too large to send inline; so would one past the
  // pixels the caller has left.
  const huge = good.slice();
  huge.set([0x88, 0x13, 0x88, 0x13], 6);
  assert.equal(gifToPng(huge), undefined);
  assert.equal(gifToPng(good, 15), undefined);
  assert.equal(gifToPng(good, 16)?.pixels, 16);
});
