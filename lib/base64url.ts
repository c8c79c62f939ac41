// URL-safe base64 (RFC 4648 §5) without padding: it fits where only `[A-Za-z0-9_-]` may go.

export function toB64url(b64: string): string {
  // The padding is cut by hand: /=+$/ would rescan a run of "=" from each of them (client data).
  let end = b64.length;
  while (end > 0 && b64.charCodeAt(end - 1) === 61 /* = */) end--;
  return b64.slice(0, end).replace(/\+/g, "-").replace(/\//g, "_");
}

export function fromB64url(s: string): string {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  return b64 + "=".repeat((4 - b64.length % 4) % 4);
}

export function textToB64url(text: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return toB64url(btoa(bin));
}

/** Throws when `s` is not base64. */
export function b64urlToText(s: string): string {
  const bin = atob(fromB64url(s));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}
