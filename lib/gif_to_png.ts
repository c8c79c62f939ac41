// A GIF's first frame as a PNG, for upstreams that refuse GIF images (Gemini). Indexed colour, as
// in the GIF, with stored (uncompressed) deflate blocks: no compression library, and written at
// once on the request path. An animation keeps its first frame, which is what a model is shown.

/** Past this many pixels the PNG, uncompressed, would be too large to send inline. */
const MAX_PIXELS = 4_000_000;

class Truncated extends Error {}

/**
 * The PNG of `gif`'s first frame and its pixel count, or undefined if it is no GIF this reads or
 * has more than `maxPixels` (checked from its header, before any decoding).
 */
export function gifToPng(
  gif: Uint8Array,
  maxPixels = MAX_PIXELS,
): { bytes: Uint8Array; pixels: number } | undefined {
  try {
    const frame = firstFrame(gif, Math.min(maxPixels, MAX_PIXELS));
    return frame && { bytes: pngOf(frame), pixels: frame.width * frame.height };
  } catch (err) {
    if (err instanceof Truncated || err instanceof RangeError) return undefined;
    throw err;
  }
}

interface Frame {
  width: number;
  height: number;
  /** One palette index per pixel, row by row. */
  pixels: Uint8Array;
  /** RGB triples. */
  palette: Uint8Array;
  transparent: number | undefined;
}

function firstFrame(gif: Uint8Array, maxPixels: number): Frame | undefined {
  const at = (i: number) => {
    if (i >= gif.length) throw new Truncated();
    return gif[i];
  };
  const u16 = (i: number) => at(i) | (at(i + 1) << 8);
  const signature = String.fromCharCode(...gif.subarray(0, 6));
  if (signature !== "GIF87a" && signature !== "GIF89a") return undefined;
  const width = u16(6);
  const height = u16(8);
  const screenFlags = at(10);
  const background = at(11);
  let pos = 13;
  let globalPalette: Uint8Array | undefined;
  if (screenFlags & 0x80) {
    const size = 3 << ((screenFlags & 7) + 1);
    globalPalette = gif.subarray(pos, pos + size);
    pos += size;
  }
  let transparent: number | undefined;
  for (;;) {
    const kind = at(pos++);
    if (kind === 0x3b) return undefined; // the trailer, and no image before it
    if (kind === 0x21) {
      const label = at(pos++);
      if (label === 0xf9 && at(pos) >= 4 && at(pos + 1) & 1) transparent = at(pos + 4);
      pos = skipSubBlocks(gif, pos);
      continue;
    }
    if (kind !== 0x2c) return undefined;
    const left = u16(pos);
    const top = u16(pos + 2);
    const w = u16(pos + 4);
    const h = u16(pos + 6);
    const flags = at(pos + 8);
    pos += 9;
    let palette = globalPalette;
    if (flags & 0x80) {
      const size = 3 << ((flags & 7) + 1);
      palette = gif.subarray(pos, pos + size);
      pos += size;
    }
    if (!palette || !width || !height || width * height > maxPixels || w * h > maxPixels) {
      return undefined;
    }
    const minCodeSize = at(pos++);
    if (minCodeSize < 2 || minCodeSize > 8) return undefined;
    const end = skipSubBlocks(gif, pos);
    let indices = lzwDecode(joinSubBlocks(gif, pos, end), minCodeSize, w * h);
    if (flags & 0x40) indices = deinterlace(indices, w, h);
    // The frame on its screen; what it does not cover is see-through, or the background colour.
    const pixels = new Uint8Array(width * height).fill(transparent ?? background);
    for (let y = 0; y < h && top + y < height; y++) {
      const row = indices.subarray(y * w, y * w + Math.min(w, width - left));
      if (left < width) pixels.set(row, (top + y) * width + left);
    }
    // Every index a byte can hold has a colour: a GIF may use indices past its table.
    const full = new Uint8Array(768);
    full.set(palette.subarray(0, 768));
    return { width, height, pixels, palette: full, transparent };
  }
}

/** Where the sub-blocks starting at `pos` end (past their zero-length terminator). */
function skipSubBlocks(gif: Uint8Array, pos: number): number {
  for (;;) {
    if (pos >= gif.length) throw new Truncated();
    const size = gif[pos++];
    if (size === 0) return pos;
    pos += size;
  }
}

function joinSubBlocks(gif: Uint8Array, pos: number, end: number): Uint8Array {
  const out = new Uint8Array(end - pos);
  let n = 0;
  while (pos < end - 1) {
    const size = gif[pos++];
    out.set(gif.subarray(pos, pos + size), n);
    n += size;
    pos += size;
  }
  return out.subarray(0, n);
}

/** GIF's variable-width LZW, to `count` indices; a short stream leaves the rest at 0. */
function lzwDecode(data: Uint8Array, minCodeSize: number, count: number): Uint8Array {
  const out = new Uint8Array(count);
  const clear = 1 << minCodeSize;
  const stop = clear + 1;
  const prefix = new Uint16Array(4096);
  const suffix = new Uint8Array(4096);
  const stack = new Uint8Array(4097);
  for (let i = 0; i < clear; i++) suffix[i] = i;
  let size = minCodeSize + 1;
  let mask = (1 << size) - 1;
  let next = clear + 2;
  let previous = -1;
  let first = 0;
  let bits = 0;
  let buffer = 0;
  let pos = 0;
  let n = 0;
  while (n < count) {
    while (bits < size) {
      if (pos >= data.length) return out;
      buffer |= data[pos++] << bits;
      bits += 8;
    }
    let code = buffer & mask;
    buffer >>>= size;
    bits -= size;
    if (code === clear) {
      size = minCodeSize + 1;
      mask = (1 << size) - 1;
      next = clear + 2;
      previous = -1;
      continue;
    }
    if (code === stop) break;
    if (previous === -1) {
      if (code >= clear) throw new Truncated();
      out[n++] = first = suffix[code];
      previous = code;
      continue;
    }
    const read = code;
    let sp = 0;
    if (code >= next) {
      if (code > next) throw new Truncated();
      stack[sp++] = first;
      code = previous;
    }
    while (code >= clear) {
      stack[sp++] = suffix[code];
      code = prefix[code];
    }
    first = suffix[code];
    stack[sp++] = first;
    if (next < 4096) {
      prefix[next] = previous;
      suffix[next] = first;
      next++;
      if ((next & mask) === 0 && next < 4096) {
        size++;
        mask = (1 << size) - 1;
      }
    }
    previous = read;
    while (sp > 0 && n < count) out[n++] = stack[--sp];
  }
  return out;
}

/** Rows stored in GIF's four interlace passes, back in order. */
function deinterlace(indices: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(indices.length);
  let row = 0;
  for (const [start, step] of [[0, 8], [4, 8], [2, 4], [1, 2]]) {
    for (let y = start; y < h; y += step) {
      out.set(indices.subarray(row * w, (row + 1) * w), y * w);
      row++;
    }
  }
  return out;
}

function pngOf(frame: Frame): Uint8Array {
  const { width, height, pixels, palette, transparent } = frame;
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 3, 0, 0, 0], 8); // 8 bits, indexed colour, deflate, no filter method, no interlace
  const rows = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y++) {
    rows.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }
  const chunks = [chunk("IHDR", header), chunk("PLTE", palette)];
  if (transparent !== undefined) {
    const alpha = new Uint8Array(transparent + 1).fill(255);
    alpha[transparent] = 0;
    chunks.push(chunk("tRNS", alpha));
  }
  chunks.push(chunk("IDAT", storedZlib(rows)), chunk("IEND", new Uint8Array(0)));
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  const out = new Uint8Array(8 + chunks.reduce((n, c) => n + c.length, 0));
  out.set(signature);
  let pos = 8;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** zlib framing around deflate's stored blocks (65,535 bytes each at most). */
function storedZlib(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / 65535));
  const out = new Uint8Array(2 + data.length + blocks * 5 + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let pos = 2;
  for (let i = 0; i < blocks; i++) {
    const part = data.subarray(i * 65535, (i + 1) * 65535);
    out[pos] = i === blocks - 1 ? 1 : 0;
    out[pos + 1] = part.length & 0xff;
    out[pos + 2] = part.length >> 8;
    out[pos + 3] = ~part.length & 0xff;
    out[pos + 4] = (~part.length >> 8) & 0xff;
    out.set(part, pos + 5);
    pos += 5 + part.length;
  }
  new DataView(out.buffer).setUint32(pos, adler32(data));
  return out;
}

let crcTable: Uint32Array | undefined;

function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length;) {
    // Sums stay exact for 5,552 bytes between reductions.
    const end = Math.min(i + 5552, bytes.length);
    for (; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}
