// What the proxy remembers about one request: the log line, the request log and the counters
// are all made from this record.
import type { Usage } from "./anthropic.ts";
import { sliceWhole } from "./whole_chars.ts";

/** An attempt's failure as kept: its first 300 characters (an upstream's page may be long). */
export function attemptReason(message: string): string {
  return sliceWhole(message, 300);
}

export interface AttemptRecord {
  upstream: string;
  keyId: string;
  /** The key as shown to people: masked. */
  key: string;
  /**
   * `cancelled`: the client left while this key was answering; `refused`: the upstream refused
   * the request itself (a 400). Neither is a fault of the key's.
   */
  outcome: "ok" | "failed" | "skipped" | "cancelled" | "refused";
  status?: number;
  reason?: string;
  ms?: number;
}

export interface RequestRecord {
  id: string;
  time: number;
  path: string;
  /** The client's access key, masked. */
  clientKey?: string;
  stream: boolean;
  requestedModel: string;
  upstreamModel?: string;
  upstream?: string;
  serviceType?: string;
  attempts: AttemptRecord[];
  /** Names of upstreams that took over after the one before failed. */
  fallbacks: string[];
  status: number;
  errorType?: string;
  errorMessage?: string;
  stopReason?: string | null;
  ttfbMs?: number;
  totalMs: number;
  usage?: Usage;
  requestBody?: string;
  responseBody?: string;
  /** Answered by the proxy itself before any upstream: counted, but kept out of the request log. */
  refused?: boolean;
}

/** Receives every finished request; the observability layer stores and counts them. */
export interface Recorder {
  record(rec: RequestRecord): void;
}
