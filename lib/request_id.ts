// Request ids in Anthropic's `req_…` style, one per request, in every response and log line.
import { newId } from "./anthropic.ts";

export function newRequestId(): string {
  return newId("req", 22);
}

const stamped = new WeakSet<Response>();

/**
 * Marks an answer built with its `request-id` header, which lib/app.ts then leaves alone: reading
 * a Response's headers back makes Deno drop the form it prepared for sending it, at its making.
 */
export function withRequestId(res: Response): Response {
  stamped.add(res);
  return res;
}

/** Whether the answer was built with its `request-id` (see withRequestId). */
export function hasRequestId(res: Response): boolean {
  return stamped.has(res);
}
