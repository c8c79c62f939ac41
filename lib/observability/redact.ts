// What may be stored or shown from a request: every known secret masked, plus anything shaped like
// a credential (a key copied into a prompt, an echoed header), and bodies cut to a byte budget.

const CREDENTIAL_PATTERNS: Array<[RegExp, string]> = [
  // Header or field carrying a credential, quoted (JSON) or not (HTTP dump, env file).
  [
    /((?:x-api-key|x-goog-api-key|api[-_]?key|authorization|proxy-authorization)["']?\s*[:=]\s*["']?)(?:(?:Bearer|Basic)\s+)?[^\s"',;}\]\\]+/gi,
    "$1[REDACTED]",
  ],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, "$1 [REDACTED]"],
  // OpenAI / Anthropic style keys, Google API keys.
  [/\bsk-[A-Za-z0-9_-]{8,}/g, "sk-[REDACTED]"],
  [/\bAIza[0-9A-Za-z_-]{20,}/g, "AIza[REDACTED]"],
];

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
    const redacted = redactText(body.slice(0, maxBytes + 2 * MARGIN), known);
    text = redacted.slice(0, redacted.length - MARGIN);
    cutShort = true;
  } else {
    text = redactText(body, known);
  }
  const cut = truncateUtf8(text, maxBytes);
  return { text: cut.text, truncated: cut.truncated || cutShort };
}
