// Holds a streamed answer's response until the upstream's first event, so an early failure (or
// an empty body) is still one another key can answer; but not past a ping interval: then the
// client gets its headers and pings, and a later failure ends the stream instead.
import type { Piece, PieceReader } from "./body_read.ts";
import type { UpstreamFailure } from "./providers/types.ts";
import type { StreamSide } from "./stream_side.ts";
import { beforeDeadline, EXPIRED } from "./stream_ticker.ts";

type Read = Promise<ReadableStreamReadResult<Piece>>;

/**
 * The upstream ended with no answer (a failure another key may answer), or the answer began;
 * `pendingRead` is the read left waiting when the deadline came first.
 */
export type Held = { failure: UpstreamFailure } | { pendingRead?: Read };

/** Reads into `side` until the answer begins, the upstream ends, or `deadline`; throws what the
 * read throws. */
export async function holdFirstEvent(
  reader: PieceReader<Piece>,
  side: StreamSide,
  deadline: number,
  tick: number,
  now: () => number,
): Promise<Held> {
  while (true) {
    const read = reader.read();
    const result = await beforeDeadline(read, deadline, tick, now);
    if (result === EXPIRED) {
      // The first pull takes it up; if the client leaves before that, its failure is no one's
      // (unhandled, it would end the process).
      read.catch(() => {});
      return { pendingRead: read };
    }
    if (result.done) {
      const failure = side.holdEnded();
      return failure ? { failure } : {};
    }
    if (side.hold(result.value)) return {};
  }
}
