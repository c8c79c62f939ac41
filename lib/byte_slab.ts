// Bytes for the client's stream, carved from shared blocks or joined from parts. Carved: in Deno a
// fresh ArrayBuffer costs about 1 µs, more than encoding a whole event, and a translated stream
// made one per event. A part once handed out is never written again; the block lives while any
// part of it does.

const encoder = new TextEncoder();
const BLOCK = 16 * 1024;
/** Text that may need more than this gets a buffer of its own, as it would without the slab. */
const MAX_CARVED = BLOCK / 4;

let block: Uint8Array<ArrayBuffer> = new Uint8Array(0);
let used = 0;

/** The text as UTF-8, in bytes no one else is given or writes to. */
export function encodeCarved(text: string): Uint8Array<ArrayBuffer> {
  // A UTF-16 code unit takes at most 3 bytes in UTF-8.
  const most = text.length * 3;
  if (most > MAX_CARVED) return encoder.encode(text);
  const start = room(most);
  used += encoder.encodeInto(text, block.subarray(start, start + most)).written;
  return block.subarray(start, used);
}

/** A copy of the bytes no one else is given or writes to. */
export function copyCarved(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  if (bytes.length > MAX_CARVED) return bytes.slice() as Uint8Array<ArrayBuffer>;
  const start = room(bytes.length);
  block.set(bytes, start);
  used += bytes.length;
  return block.subarray(start, used);
}

/** Where `size` bytes of the current block start, in a new block if they do not fit. */
function room(size: number): number {
  // A block someone transferred (its byteLength is then 0) is left to them.
  if (used + size >= block.byteLength) {
    block = new Uint8Array(BLOCK);
    used = 0;
  }
  return used;
}

/** The parts one after the other, in a buffer of their own. */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
