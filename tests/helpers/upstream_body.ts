import type { UpstreamRequest } from "../../lib/providers/types.ts";

/** The JSON a provider would send upstream, text or bytes. */
// deno-lint-ignore no-explicit-any
export function upstreamJson(req: UpstreamRequest): any {
  const body = req.body ?? "";
  return JSON.parse(typeof body === "string" ? body : new TextDecoder().decode(body));
}
