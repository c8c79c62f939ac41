// An upstream request as the bytes written to the connection: HTTP/1.1 head and body in one write.
import type { Target } from "./target.ts";

const encoder = new TextEncoder();

export function encodeRequest(
  method: string,
  t: Target,
  headers: HeadersInit | undefined,
  body: Uint8Array,
): Uint8Array {
  const parts = [method, " ", t.path, " HTTP/1.1\r\nhost: ", t.host, "\r\n"];
  headerText(headers, parts);
  if (body.length || method !== "GET" && method !== "HEAD") {
    parts.push("content-length: ", String(body.length), "\r\n");
  }
  parts.push("\r\n");
  const headBytes = headOf(parts.join(""));
  const request = new Uint8Array(headBytes.length + body.length);
  request.set(headBytes);
  request.set(body, headBytes.length);
  return request;
}

/**
 * The head's bytes. Header values are byte strings (one character a byte, as Headers holds what
 * a client sent): a client's UTF-8 user-agent goes on as the same bytes, not encoded twice.
 */
function headOf(head: string): Uint8Array {
  if (!NOT_ASCII.test(head)) return encoder.encode(head);
  const bytes = new Uint8Array(head.length);
  for (let i = 0; i < head.length; i++) {
    const c = head.charCodeAt(i);
    if (c > 0xff) throw new TypeError("Invalid header value: not a byte string");
    bytes[i] = c;
  }
  return bytes;
}

const NOT_ASCII = /[\u0080-\uffff]/;

/** Appends the header lines; the answer is sent uncompressed unless the caller asks otherwise. */
function headerText(headers: HeadersInit | undefined, out: string[]): void {
  let encoding = false;
  let agent = false;
  const add = (name: string, value: string) => {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
      throw new TypeError(`Invalid header: ${name}`);
    }
    const lower = name.toLowerCase();
    if (lower === "host" || lower === "content-length" || lower === "connection") return;
    if (lower === "accept-encoding") encoding = true;
    else if (lower === "user-agent") agent = true;
    out.push(name, ": ", value, "\r\n");
  };
  if (headers instanceof Headers) headers.forEach((v, k) => add(k, v));
  else if (Array.isArray(headers)) { for (const [k, v] of headers) add(k, v); }
  else if (headers) { for (const k in headers) add(k, (headers as Record<string, string>)[k]); }
  if (!encoding) out.push("accept-encoding: identity\r\n");
  // As fetch would: a web application firewall in front of an API may refuse a request with no
  // user-agent (a 403, which would disable the key).
  if (!agent) out.push(DEFAULT_AGENT);
}

const DEFAULT_AGENT = `user-agent: Deno/${Deno.version.deno}\r\n`;

export async function bodyBytes(body: BodyInit | null | undefined): Promise<Uint8Array> {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === "string") return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return new Uint8Array(await new Response(body).arrayBuffer());
}
