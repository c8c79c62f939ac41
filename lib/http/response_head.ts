// An upstream answer's head (status line and header lines), read as fetch reads it.
import { HttpError } from "./errors.ts";

export interface Head {
  status: number;
  statusText: string;
  headers: [string, string][];
  length?: number;
  chunked: boolean;
  keepAlive: boolean;
  encoding?: string;
  contentType?: string;
}

/** Header bytes as ISO-8859-1, byte for byte, as fetch reads them: never a UTF-8 error. */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096) as unknown as number[]);
  }
  return text;
}

export function parseHead(bytes: Uint8Array): Head {
  // Lines end in CRLF; a bare LF is taken too (RFC 9112 §2.2).
  const lines = latin1(bytes).split(/\r?\n/);
  const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new HttpError(`not an HTTP/1.x answer: ${JSON.stringify(lines[0].slice(0, 60))}`);
  const head: Head = {
    status: Number(m[2]),
    statusText: m[3] ?? "",
    headers: [],
    chunked: false,
    keepAlive: m[1] === "1",
  };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HttpError("malformed header line");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    head.headers.push([name, value]);
    if (name === "content-length") {
      // Digits only (not Number's hex, sign or exponent), and one length however often it is
      // said ("N, N" is one): another would leave bytes on the connection that read as the next
      // request's answer (RFC 9112 §6.3).
      if (!/^\d+(?:[ \t]*,[ \t]*\d+)*$/.test(value)) throw new HttpError("bad content-length");
      const lengths = value.split(",").map((v) => Number(v.trim()));
      const n = lengths[0];
      if (!Number.isSafeInteger(n) || lengths.some((l) => l !== n)) {
        throw new HttpError("conflicting content-length");
      }
      if (head.length !== undefined && head.length !== n) {
        throw new HttpError("conflicting content-length");
      }
      head.length = n;
    } else if (name === "transfer-encoding") {
      head.chunked = value.toLowerCase().split(",").map((s) => s.trim()).includes("chunked");
    } else if (name === "connection") {
      const v = value.toLowerCase();
      if (v.includes("close")) head.keepAlive = false;
      else if (v.includes("keep-alive")) head.keepAlive = true;
    } else if (name === "content-type") {
      head.contentType = value;
    } else if (name === "content-encoding") {
      // Codings listed in the order they were applied (RFC 9110); identity is none.
      const codings = value.toLowerCase().split(",").map((c) => c.trim())
        .filter((c) => c && c !== "identity");
      head.encoding = codings.length ? codings.join(", ") : undefined;
    }
  }
  // Chunked framing wins over a length (RFC 9112 6.3).
  if (head.chunked) head.length = undefined;
  return head;
}
