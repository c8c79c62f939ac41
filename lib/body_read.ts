// A body read to a limit: the client's request (past it, 413) and an upstream's answer or error
// (past it, a fault, or the start is enough).

/**
 * A body's bytes up to `max`, and whether that was all of it; past `max` the read is stopped. A
 * body that breaks throws, or with `keepBroken` gives what came before. Copied as it comes: each
 * piece read may be a view of a buffer of its own, often 64 KB for a few bytes, and a body sent in
 * many small pieces would otherwise hold all of them.
 */
export async function readUpTo(
  body: ReadableStream<Uint8Array> | null,
  max: number,
  keepBroken = false,
): Promise<{ bytes: Uint8Array; complete: boolean }> {
  if (!body) return { bytes: new Uint8Array(0), complete: true };
  const reader = body.getReader();
  let buf = new Uint8Array(Math.min(max, 64 * 1024));
  let size = 0;
  let complete = false;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) {
        complete = true;
        break;
      }
      if (size + value.byteLength > max) {
        // What fits is kept: an error answer's start says what it has to.
        buf = grow(buf, size, max);
        buf.set(value.subarray(0, max - size), size);
        size = max;
        break;
      }
      if (size + value.byteLength > buf.length) {
        buf = grow(buf, size, Math.min(max, Math.max(buf.length * 2, size + value.byteLength)));
      }
      buf.set(value, size);
      size += value.byteLength;
    }
  } catch (err) {
    if (!keepBroken) throw err;
  }
  if (!complete) reader.cancel().catch(() => {});
  return { bytes: buf.subarray(0, size), complete };
}

function grow(
  buf: Uint8Array<ArrayBuffer>,
  used: number,
  length: number,
): Uint8Array<ArrayBuffer> {
  if (length <= buf.length) return buf;
  const grown = new Uint8Array(length);
  grown.set(buf.subarray(0, used));
  return grown;
}
