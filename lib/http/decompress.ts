// An upstream answer's content-coding undone, as fetch does for the encodings it accepts.
import { HttpError } from "./errors.ts";

export function decompress(
  body: ReadableStream<Uint8Array>,
  encoding: string,
): ReadableStream<Uint8Array> {
  const format = encoding === "gzip" || encoding === "x-gzip"
    ? "gzip"
    : encoding === "deflate"
    ? "deflate"
    : encoding === "br"
    ? "brotli"
    : undefined;
  if (!format) throw new HttpError(`unsupported content-encoding ${encoding}`);
  return body.pipeThrough(
    new DecompressionStream(format as CompressionFormat) as unknown as TransformStream<
      Uint8Array,
      Uint8Array
    >,
  );
}
