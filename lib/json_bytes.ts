// Request bodies put together from JSON text and parts already encoded: the tools a client sends
// with every request are written out and encoded once (see parse_body.ts), not per request.

const encoder = new TextEncoder();

/** A value's JSON text as UTF-8. */
export function jsonBytes(value: unknown): Uint8Array<ArrayBuffer> {
  return encoder.encode(JSON.stringify(value));
}

/** An object's JSON text, as UTF-8, with one more member whose value is given encoded. */
export function withEncodedMember(
  json: string,
  key: string,
  value: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const head = encoder.encode(json.slice(0, -1));
  const member = encoder.encode(`${json.length > 2 ? "," : ""}${JSON.stringify(key)}:`);
  const out = new Uint8Array(head.length + member.length + value.length + 1);
  out.set(head);
  out.set(member, head.length);
  out.set(value, head.length + member.length);
  out[out.length - 1] = 125; // }
  return out;
}
