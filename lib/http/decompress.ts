// Content-codings undone: an upstream answer's, as fetch does for the encodings it accepts, and a
// client request body's.

/** A content-coding (RFC 9110's names) as DecompressionStream names it; undefined if it has none. */
export function compressionFormat(coding: string): CompressionFormat | undefined {
  // Own names only: "constructor" or "__proto__" in a header is no coding.
  return Object.hasOwn(CODINGS, coding) ? CODINGS[coding] : undefined;
}

const CODINGS: Record<string, CompressionFormat> = {
  gzip: "gzip",
  "x-gzip": "gzip",
  deflate: "deflate",
  br: "brotli" as CompressionFormat,
};

/**
 * `body` with its codings undone, the last applied first; `encoding` lists them as the header does.
 * A coding it does not know (`none`, a typo) leaves the body as it came, as fetch does: the
 * answer and its status still reach the client, which a refusal lost (a 429 became a 529).
 */
export function decompress(
  body: ReadableStream<Uint8Array>,
  encoding: string,
): ReadableStream<Uint8Array> {
  const codings = encoding.split(",").map((c) => c.trim()).filter((c) => c && c !== "identity");
  const formats: CompressionFormat[] = [];
  for (const coding of codings) {
    const format = compressionFormat(coding);
    if (!format) return body;
    formats.push(format);
  }
  for (const format of formats.toReversed()) {
    body = body.pipeThrough(
      new DecompressionStream(format) as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  }
  return body;
}
