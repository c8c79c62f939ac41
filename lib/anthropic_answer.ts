// What the proxy reads out of an Anthropic upstream's answer while passing its bytes on.
import type { Usage } from "./anthropic.ts";
import type { RequestRecord } from "./request_record.ts";

/**
 * Usage and stop reason of a passed-through Anthropic message, for the log and the counters; false
 * when the answer is no JSON object at all (a web page at the wrong address, a broken gateway).
 */
export function noteAnthropicMessage(rec: RequestRecord, text: string): boolean {
  try {
    const msg = JSON.parse(text);
    if (!msg || typeof msg !== "object" || Array.isArray(msg)) return false;
    if (msg.usage) rec.usage = msg.usage;
    if (msg.stop_reason !== undefined) rec.stopReason = msg.stop_reason;
    return true;
  } catch {
    return false;
  }
}

/**
 * The same from a passed-through stream's events, as parsed: message_start has the input,
 * message_delta the rest.
 */
export function noteAnthropicEvent(rec: RequestRecord, ev: Record<string, unknown>): void {
  if (ev.type === "message_start") {
    const usage = (ev.message as { usage?: unknown } | undefined)?.usage;
    if (usage && typeof usage === "object") rec.usage = { ...usage } as Usage;
    return;
  }
  if (ev.type !== "message_delta") return;
  const delta = ev.delta as { stop_reason?: unknown } | undefined;
  if (ev.usage && typeof ev.usage === "object") {
    const usage: Record<string, unknown> = {
      ...(rec.usage ?? { input_tokens: 0, output_tokens: 0 }),
    };
    const counts = ev.usage as Record<string, unknown>;
    // A null count is one the delta leaves as message_start gave it, as the SDKs read it.
    for (const k in counts) if (counts[k] != null) usage[k] = counts[k];
    rec.usage = usage as unknown as Usage;
  }
  if (delta?.stop_reason !== undefined) rec.stopReason = delta.stop_reason as string | null;
}

/**
 * What an Anthropic upstream tells its clients beside the body (rate-limit budget, its own
 * request id) is passed on; the proxy's request-id stays the one clients see.
 */
export function upstreamInfoHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (name.startsWith("anthropic-ratelimit-")) out[name] = value;
  }
  const upstreamId = headers.get("request-id");
  if (upstreamId) out["upstream-request-id"] = upstreamId;
  return out;
}
