// Request ids in Anthropic's `req_…` style, one per request, in every response and log line.
import { newId } from "./anthropic.ts";

export function newRequestId(): string {
  return newId("req", 22);
}
