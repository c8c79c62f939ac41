// An upstream failure thrown as a ProxyError, with whose fault it is kept for the retry loop.
import { ProxyError } from "../errors.ts";
import type { UpstreamFailure } from "./types.ts";

/** A failure found inside an answer (an error object in a 200), thrown with its fault kept. */
export class UpstreamError extends ProxyError {
  constructor(readonly failure: UpstreamFailure) {
    super(failure.status, failure.message, failure.type);
  }
}
