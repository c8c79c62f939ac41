// Holds a streamed answer's response until the upstream's first event, so an early failure (an
// empty body, an error event, or silence until the first-byte timeout) is still one another key
// can answer. Meanwhile the client hears the stream opening's keepalives (lib/stream_opening.ts).
import type { Piece, PieceReader } from "./body_read.ts";
import type { UpstreamFailure } from "./providers/types.ts";
import type { StreamSide } from "./stream_side.ts";

/** The upstream ended with no answer (a failure another key may answer), or the answer began. */
export type Held = { failure: UpstreamFailure } | { failure?: undefined };

/**
 * Reads into `side` until the answer begins or the upstream ends; throws what the read throws
 * (the first-byte timeout's abort among it).
 */
export async function holdFirstEvent(reader: PieceReader<Piece>, side: StreamSide): Promise<Held> {
  while (true) {
    const result = await reader.read();
    if (result.done) {
      const failure = side.holdEnded();
      return failure ? { failure } : {};
    }
    if (side.hold(result.value)) return {};
  }
}
