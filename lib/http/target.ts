// Where an upstream URL is reached (host, port, TLS) and what is asked of it (path and Host).
import { HttpError } from "./errors.ts";

export interface Target {
  origin: string;
  hostname: string;
  port: number;
  tls: boolean;
  /** Request target: path and query. */
  path: string;
  /** The Host header. */
  host: string;
}

/** Kept per URL; cleared when large, so URLs that differ per request cannot grow it for ever. */
export function cachedTarget(targets: Map<string, Target>, url: string): Target {
  let t = targets.get(url);
  if (!t) {
    t = targetOf(url);
    if (targets.size > 1000) targets.clear();
    targets.set(url, t);
  }
  return t;
}

function targetOf(url: string): Target {
  const u = new URL(url);
  const tls = u.protocol === "https:";
  if (!tls && u.protocol !== "http:") throw new HttpError(`unsupported scheme ${u.protocol}`);
  const port = u.port ? Number(u.port) : tls ? 443 : 80;
  const hostname = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  return {
    origin: `${u.protocol}//${u.host}`,
    hostname,
    port,
    tls,
    path: `${u.pathname || "/"}${u.search}`,
    host: u.host,
  };
}
