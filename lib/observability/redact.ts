// What may be stored or shown from a request: every known secret masked, plus anything shaped like
// a credential (a key copied into a prompt, an echoed header), and bodies cut to a byte budget.
import type { UpstreamFailure } from "../providers/types.ts";

const CREDENTIAL_PATTERNS: Array<[RegExp, string]> = [
  // Header or field carrying a credential, quoted (JSON) or not (HTTP dump, env file); one masked
  // already is left as it is (text masked for the client is masked again for the log).
  [
    /((?:x-api-key|x-goog-api-key|api[-_]?key|authorization|proxy-authorization)["']?\s*[:=]\s*["']?)(?!(?:(?:Bearer|Basic)\s+)?\[REDACTED\])(?:(?:Bearer|Basic)\s+)?[^\s"',;}\]\\]+/gi,
    "$1[REDACTED]",
  ],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, "$1 [REDACTED]"],
  // OpenAI / Anthropic style keys, Google API keys.
  [/\bsk-[A-Za-z0-9_-]{8,}/g, "sk-[REDACTED]"],
  [/\bAIza[0-9A-Za-z_-]{20,}/g, "AIza[REDACTED]"],
];

/**
 * JSON text with printable ASCII written as `\u` escapes (`\u002d`) or `\/` spelled out, so that
 * a secret escaped by the client's encoder is seen. `"` and `\` stay escaped: still the same JSON.
 */
function unescapedAscii(text: string): string {
  if (!text.includes("\\")) return text;
  // An escaped backslash is matched whole, so the `u` after it is never read as an escape.
  return text.replace(/\\(?:\\|u00([2-7][0-9a-fA-F])|\/)/g, (all, hex: string | undefined) => {
    if (all === "\\\\") return all;
    if (hex === undefined) return "/";
    const code = parseInt(hex, 16);
    return code === 0x22 || code === 0x5c || code === 0x7f ? all : String.fromCharCode(code);
  });
}

/**
 * An upstream failure as it may be shown (to the client, in the log, on the admin pages): its
 * message and the headers passed on with it masked. An upstream that echoes a request header may
 * quote a key as no known key reads (base64 in a Basic header), so credential-shaped text goes too.
 */
export function shownFailure(
  failure: UpstreamFailure,
  known: (text: string) => string,
): UpstreamFailure {
  const shown = { ...failure, message: redactText(failure.message, known) };
  if (failure.headers) {
    const headers: Record<string, string> = {};
    for (const name in failure.headers) headers[name] = known(failure.headers[name]);
    shown.headers = headers;
  }
  return shown;
}

/** Masks `known` secrets (the logger's redact) and credential-shaped text. */
export function redactText(text: string, known: (text: string) => string): string {
  let out = known(text);
  for (const [pattern, replacement] of CREDENTIAL_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

const encoder = new TextEncoder();

/** `text` cut to at most `maxBytes` of UTF-8, never splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): { text: string; truncated: boolean } {
  if (text.length * 3 <= maxBytes || encoder.encode(text).length <= maxBytes) {
    return { text, truncated: false };
  }
  const buf = new Uint8Array(maxBytes + 4);
  const { read } = encoder.encodeInto(text, buf.subarray(0, maxBytes));
  return { text: text.slice(0, read), truncated: true };
}

const DELTA_FIELDS = ["text", "thinking", "partial_json"] as const;

/**
 * A captured Anthropic event stream whose deltas, joined, hold a secret that no single event shows
 * (a model repeating a key a few characters at a time): each block's deltas become one, on its
 * first delta event, so that redaction sees the secret whole. Any other stream is returned as it is.
 */
export function joinSplitSecrets(sse: string, known: (text: string) => string): string {
  const events = sse.split("\n\n");
  const joined = new Map<number, string>();
  const parsed = events.map((event) => {
    const at = event.indexOf("data: {");
    if (at === -1 || !event.includes('"content_block_delta"')) return undefined;
    try {
      const data = JSON.parse(event.slice(at + 6));
      const delta = data?.delta;
      const field = DELTA_FIELDS.find((f) => typeof delta?.[f] === "string");
      if (data?.type !== "content_block_delta" || !field) return undefined;
      joined.set(data.index, (joined.get(data.index) ?? "") + delta[field]);
      return { head: event.slice(0, at), data, field };
    } catch {
      return undefined;
    }
  });
  const all = [...joined.values()].join("\n");
  if (redactText(all, known) === all) return sse;
  const out: string[] = [];
  events.forEach((event, i) => {
    const p = parsed[i];
    if (!p) return out.push(event);
    const whole = joined.get(p.data.index);
    if (whole === undefined) return;
    joined.delete(p.data.index);
    p.data.delta[p.field] = whole;
    out.push(p.head + "data: " + JSON.stringify(p.data));
  });
  return out.join("\n\n");
}

/** Longer than any secret: a partial secret at the end of a cut prefix lies within it. */
const MARGIN = 1024;

/**
 * A body as it may be stored: redacted, then cut to `maxBytes`. Only a prefix a little longer than
 * the budget is redacted, so a huge body costs no more than a small one; the prefix's last MARGIN
 * characters are dropped after redaction since a secret cut in two there would not be recognised.
 */
export function safeBody(
  body: string,
  maxBytes: number,
  known: (text: string) => string,
): { text: string; truncated: boolean } {
  let text: string;
  let cutShort = false;
  if (body.length > maxBytes + 2 * MARGIN) {
    const redacted = redactText(unescapedAscii(body.slice(0, maxBytes + 2 * MARGIN)), known);
    text = redacted.slice(0, redacted.length - MARGIN);
    cutShort = true;
  } else {
    text = redactText(unescapedAscii(body), known);
  }
  const cut = truncateUtf8(text, maxBytes);
  return { text: cut.text, truncated: cut.truncated || cutShort };
}
