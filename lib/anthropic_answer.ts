// What the proxy reads out of an Anthropic upstream's answer while passing its bytes on.
import type { Usage } from "./anthropic.ts";
import { joinBytes } from "./byte_slab.ts";
import { isErrorType, statusForErrorType, streamErrorJson } from "./errors.ts";
import { isObject } from "./json_value.ts";
import type { Provider, UpstreamFailure } from "./providers/types.ts";
import type { RequestRecord } from "./request_record.ts";
import { exactUtf8 } from "./utf8_exact.ts";

/**
 * Usage and stop reason of a passed-through Anthropic answer, for the log and the counters; what
 * the answer is: a message, an error (a gateway that says its errors with a 200), or no message at
 * all (a web page at the wrong address, a broken gateway).
 */
export function noteAnthropicMessage(
  rec: RequestRecord,
  text: string,
): "message" | "error" | "not JSON" | "no message" {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (!isObject(msg)) return "no message";
  if (msg.type === "error" && isObject(msg.error)) return "error";
  if (!Array.isArray(msg.content)) return "no message";
  if (msg.usage) rec.usage = msg.usage as Usage;
  if (msg.stop_reason !== undefined) rec.stopReason = msg.stop_reason as string | null;
  return "message";
}

/** What an Anthropic error body stands for: an `event: error`'s, or a 200 answer that is one. */
export function anthropicErrorFailure(
  provider: Provider,
  text: string,
  headers: Headers,
): UpstreamFailure {
  let type: unknown;
  try {
    type = JSON.parse(text)?.error?.type;
  } catch { /* the provider keeps the text */ }
  return provider.parseError(statusForErrorType(type), text, headers);
}

/**
 * An error event of a passed-through stream as Anthropic writes one, or undefined when it is one
 * already. A vendor's own (Zhipu's `{"error":{"code":"1301","message":…}}`) reached the SDK as an
 * error with that JSON for its message and no type for the client to act on.
 */
export function anthropicStreamError(
  ev: Record<string, unknown>,
  data: string,
  requestId: string,
): string | undefined {
  const error = ev.error;
  if (
    ev.type === "error" && isObject(error) && typeof error.type === "string" &&
    typeof error.message === "string"
  ) {
    return undefined;
  }
  const message = isObject(error) && typeof error.message === "string"
    ? error.message
    : typeof error === "string"
    ? error
    : typeof ev.message === "string"
    ? ev.message
    : data;
  const type = isObject(error) && isErrorType(error.type) ? error.type : "api_error";
  return streamErrorJson(type, message, requestId);
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
 * request id) is passed on; the proxy's request-id stays the one clients see. `redact` masks a
 * key an upstream (a gateway) might put in them, as in its bodies.
 */
export function upstreamInfoHeaders(
  headers: Headers,
  redact: (text: string) => string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (name.startsWith("anthropic-ratelimit-")) out[name] = redact(value);
  }
  const upstreamId = headers.get("request-id");
  if (upstreamId) out["upstream-request-id"] = redact(upstreamId);
  return out;
}

/**
 * A stream's bytes with the model the client asked for in place of the one an Anthropic upstream
 * named (a model map sent it another name): Claude Code keeps a conversation's thinking blocks
 * only for the model it asked for, and strips them from the history it sends back for any other.
 * Only message_start's line changes, and in it only its message's model; undefined when the bytes
 * hold no message_start, or it names no model.
 */
export function withClientModel(bytes: Uint8Array, model: string): Uint8Array | undefined {
  const named = indexOf(bytes, MESSAGE_START);
  if (named === -1) return undefined;
  let start = named;
  while (start > 0 && bytes[start - 1] !== 0x0a && bytes[start - 1] !== 0x0d) start--;
  let end = named;
  while (end < bytes.length && bytes[end] !== 0x0a && bytes[end] !== 0x0d) end++;
  const line = exactUtf8(bytes.subarray(start, end));
  if (line === undefined) return undefined;
  // `data: {"type":"message_start","message":{…,"model":…}}`: the message's own member.
  const renamed = withModel(line, model, 2);
  if (renamed === undefined) return undefined;
  return joinBytes([bytes.subarray(0, start), encoder.encode(renamed), bytes.subarray(end)]);
}

/** message_start's type in its data, as JSON writes it (a comment naming it is no event). */
const MESSAGE_START = new TextEncoder().encode('"message_start"');
const encoder = new TextEncoder();

/** Whether a stream's bytes hold its message_start. */
export function holdsMessageStart(bytes: Uint8Array): boolean {
  return indexOf(bytes, MESSAGE_START) !== -1;
}

function indexOf(bytes: Uint8Array, part: Uint8Array): number {
  for (let at = bytes.indexOf(part[0]); at !== -1; at = bytes.indexOf(part[0], at + 1)) {
    let i = 1;
    while (i < part.length && bytes[at + i] === part[i]) i++;
    if (i === part.length) return at;
  }
  return -1;
}

/** A whole answer's text with the client's model in its top-level member (see withClientModel). */
export function messageWithClientModel(text: string, model: string): string {
  return withModel(text, model, 1) ?? text;
}

/**
 * The JSON text with `model` as the string value of the "model" member at `depth` of its nesting
 * (so that no member inside the content is taken for it), every other character as it came;
 * undefined when there is none.
 */
function withModel(text: string, model: string, depth: number): string | undefined {
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) at++;
    else if (c === 0x7d || c === 0x5d) at--;
    else if (c === 0x22) {
      const end = stringEnd(text, i);
      if (at === depth && end - i === 6 && text.startsWith('"model"', i)) {
        let v = end + 1;
        while (/\s/.test(text[v] ?? "")) v++;
        // A key, not a value that reads "model".
        if (text[v] === ":") {
          v++;
          while (/\s/.test(text[v] ?? "")) v++;
          if (text[v] !== '"') return undefined;
          return text.slice(0, v) + JSON.stringify(model) + text.slice(stringEnd(text, v) + 1);
        }
      }
      i = end;
    }
  }
  return undefined;
}

/** Where the JSON string opening at `at` closes. */
function stringEnd(text: string, at: number): number {
  let i = at + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
  return i;
}
